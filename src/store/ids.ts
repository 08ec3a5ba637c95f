/** Random identifiers and secrets in base62 (URL-, shell- and filename-safe). */
import { randomBytes } from 'node:crypto';

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
