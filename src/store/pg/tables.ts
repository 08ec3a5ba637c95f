/** The fleet schema's names: roles, replicated tables and the column that scopes each to a namespace, advisory lock keys. */

/** The roles initFleet creates (README of src/store/pg/roles.ts: who may do what). */
export const ROLES = { owner: 'bkg_owner', fleet: 'bkg_fleet', daemon: 'bkg_daemon' } as const;

/**
 * Each replicated table (one per local SQLite table) and the column its namespace policy compares
 * with `bkg.namespace`: null for tables that are not namespace-scoped (only bkg_fleet sees them).
 */
export const ENTITY_TABLES = {
  projects: null,
  namespaces: 'pk',
  sandboxes: 'namespace_id',
  api_keys: 'namespace_id',
  policies: 'namespace_id',
  rate_limits: null,
  models: null,
  trusted_keys: null,
  llm_access_requests: 'namespace_id',
  llm_access_tokens: 'namespace_id',
  secrets: 'namespace_id',
} as const satisfies Record<string, 'pk' | 'namespace_id' | null>;

export type EntityTable = keyof typeof ENTITY_TABLES;

export function isEntityTable(name: string): name is EntityTable {
  return Object.hasOwn(ENTITY_TABLES, name);
}

/** The channel a push notifies with its last seq. */
export const CHANGES_CHANNEL = 'bkg_changes';

/** pg_advisory_xact_lock(LOCK_CLASS, key): 'bkg' in ASCII, then what is locked. */
export const LOCK_CLASS = 0x626b67;
export const LOCKS = { migrate: 1, push: 2 } as const;
