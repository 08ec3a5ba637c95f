/** Random identifiers and secrets in base62 (URL-, shell- and filename-safe). */
import { createHash, randomBytes } from 'node:crypto';

export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` uniformly random base62 characters (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(Math.ceil((length - out.length) * 1.1) + 8)) {
      if (b >= 248) continue; // 248 = 4 * 62: keep only bytes that map evenly
      out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new id such as `ns_3kF9q2ZxP0aB7cLm`: a type prefix and 16 random base62 characters (~95 bits). */
export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(16)}`;
}

/**
 * The id of a thing known by its name (a namespace, a project): the same on every host, so hosts of
 * a fleet that each create "ci" on first use make one namespace, not two. 16 base62 characters of
 * a SHA-256 of the prefix and the name.
 */
export function namedId(prefix: string, name: string): string {
  const digest = createHash('sha256').update(`${prefix}:${name}`).digest();
  let out = '';
  for (let i = 0; out.length < 16; i++) out += BASE62[(digest[i] ?? 0) % 62];
  return `${prefix}_${out}`;
}
