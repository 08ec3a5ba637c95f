/** --env KEY=VALUE flags, with one set of rules for every command. */
import { BkgError } from '../api/errors.js';

export function parseEnv(pairs: string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    if (eq <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) || pair.includes('\0')) {
      throw new BkgError('INVALID_ARGUMENT', `--env: "${pair}" must look like KEY=VALUE`);
    }
    env[key] = pair.slice(eq + 1);
  }
  return env;
}
