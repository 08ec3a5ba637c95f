/** A pull checked before anything is downloaded: the source, the model id it will get, the digest and the signature. */
import { lstatSync, readFileSync } from 'node:fs';
import { BkgError } from '../../api/errors.js';
import type { ModelRepository } from '../../store/repositories.js';
import { parseSignature } from './keys.js';
import { isModelId, modelIdFrom, parseSha256, parseSource, sourceFileName, type ModelSource } from './names.js';
import type { ModelFetcher, StartDownloadOptions } from './types.js';

export interface PullPlan {
  /** null: the bytes come from `fetch`. */
  src: ModelSource | null;
  fetch?: ModelFetcher;
  source: string;
  id: string;
  name: string;
  /** The id came from the file name, not an explicit name. */
  derivedId: boolean;
  sha256?: string;
  sig?: Buffer;
}

const MAX_SIG_FILE = 4096;

export function conflict(message: string, details: Record<string, unknown>): BkgError {
  return new BkgError('CONFLICT', message, { details, hint: 'Pass another name, or remove the existing model first.' });
}

/** A signature given as bytes, or as the path of a (small) signature file. */
function readSig(sig: string | Uint8Array): Buffer {
  if (typeof sig !== 'string') return parseSignature(sig);
  let st;
  try {
    st = lstatSync(sig);
  } catch {
    throw new BkgError('INVALID_ARGUMENT', `sig: cannot read ${sig}`, { details: { field: 'sig' } });
  }
  if (!st.isFile() || st.size > MAX_SIG_FILE) throw new BkgError('INVALID_ARGUMENT', `sig: ${sig} is not a signature file`, { details: { field: 'sig' } });
  return parseSignature(readFileSync(sig));
}

/** Check everything that can be checked before downloading; bad arguments and id conflicts throw. */
export function planPull(opts: StartDownloadOptions, models: ModelRepository): PullPlan {
  const src = opts.fetch ? null : parseSource(opts.source);
  if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name.length > 128)) {
    throw new BkgError('INVALID_ARGUMENT', 'name: must be at most 128 characters', { details: { field: 'name' } });
  }
  const file = src ? sourceFileName(src) : '';
  const derivedId = opts.name === undefined;
  const id = derivedId ? modelIdFrom(file || 'model', { fromFile: true }) : modelIdFrom(opts.name as string);
  if (!isModelId(id)) throw new BkgError('INVALID_ARGUMENT', `name: ${JSON.stringify(id)} is not a valid model id`, { details: { field: 'name' } });
  const plan: PullPlan = { src, source: opts.source, id, name: opts.name?.trim() || file || id, derivedId };
  if (opts.fetch) plan.fetch = opts.fetch;
  if (opts.sha256 !== undefined) plan.sha256 = parseSha256(opts.sha256);
  if (opts.sig !== undefined) plan.sig = readSig(opts.sig);
  if (plan.sha256) {
    const taken = models.get(id);
    if (taken && taken.sha256 !== plan.sha256) throw conflict(`model id ${id} is taken by a different file (sha256 ${taken.sha256})`, { id });
    const same = models.bySha256(plan.sha256);
    if (same && same.id !== id && !derivedId) throw conflict(`this file is already registered as model ${same.id}`, { id: same.id });
  }
  return plan;
}
