/**
 * --secret flags, with one set of rules for every command: `NAME` (the variable NAME), `NAME=ENV`
 * (the variable ENV), `NAME:file` (the file /run/secrets/NAME). The secret's value is never here:
 * only which secret of the namespace a sandbox gets, and how.
 */
import { BkgError } from '../api/errors.js';
import { ENV_NAME_PATTERN } from '../api/names.js';
import type { SecretRef } from '../api/secrets.js';

const FORMS = 'NAME (the variable NAME), NAME=ENV (the variable ENV) or NAME:file (the file /run/secrets/NAME)';

export function parseSecretFlags(values: readonly string[] = []): SecretRef[] {
  return values.map((v) => {
    const bad = (why: string) => new BkgError('INVALID_ARGUMENT', `--secret: "${v}" ${why}; use ${FORMS}`, { details: { field: 'secrets', flag: '--secret' } });
    const file = v.endsWith(':file');
    const [name = '', env, ...rest] = (file ? v.slice(0, -':file'.length) : v).split('=');
    if (rest.length) throw bad('has more than one =');
    if (!ENV_NAME_PATTERN.test(name)) throw bad(v.includes(':') && !file ? 'is not a form bkg knows' : 'does not start with a valid secret name');
    if (env !== undefined && (file || !ENV_NAME_PATTERN.test(env))) throw bad(file ? 'cannot be both a variable and a file' : `names "${env}", which is not a valid variable name`);
    return { name, ...(file ? { file: true } : env !== undefined && env !== name ? { env } : {}) };
  });
}
