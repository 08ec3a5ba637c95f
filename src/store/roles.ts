/** The roles an API key can hold. Shared by the store (api_keys, policies) and the daemon's auth. */
export const ROLES = ['admin', 'namespace', 'readonly'] as const;

export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
