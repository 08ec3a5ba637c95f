/**
 * Secret files of a persistent sandbox: a memory file system (tmpfs) of their size mounted by the
 * helper at the definition's directory (/run/secrets), apart from the writable layer (so a stop
 * never saves them and `changes` never lists them), then each file written right after the start
 * by a command in the sandbox that reads the value from a pipe: mode 0400, owned by the sandbox's
 * root. The value never touches the host's disk and never appears in a command line.
 */
import { BkgError } from '../api/errors.js';
import type { ExecDefinition, SandboxDefinition } from './definition.js';
import type { RunIO } from './io.js';
import type { ExecResult } from './results.js';

export interface SecretFiles {
  /** An absolute directory inside the sandbox. */
  dir: string;
  files: { name: string; data: Buffer }[];
}

const PAGE = 4096;
const MIN_BYTES = 64 * 1024;

/** The tmpfs's size: every file rounded up to whole pages, and room to spare. */
export function secretFilesBytes(f: SecretFiles): number {
  return Math.max(MIN_BYTES, f.files.reduce((n, x) => n + Math.ceil(Math.max(x.data.length, 1) / PAGE) * PAGE, PAGE));
}

/** The spec's part: `--tmpfs SIZE DIR`. */
export function secretFilesTokens(def: SandboxDefinition): string[] {
  return def.secretFiles ? ['--tmpfs', String(secretFilesBytes(def.secretFiles)), def.secretFiles.dir] : [];
}

type Exec = (exec: ExecDefinition, io: RunIO) => Promise<ExecResult>;

/** Write each file (0400) and close the directory to others (0755 → only root writes); HELPER_FAILED naming the file when one cannot be. */
export async function placeSecretFiles(exec: Exec, f: SecretFiles): Promise<void> {
  const script = 'umask 0277 && cat > "$1" && chmod 0755 "$2"';
  for (const file of f.files) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(file.name)) throw new BkgError('INVALID_ARGUMENT', `secret file name "${file.name}" is not a plain name`);
    const err: Buffer[] = [];
    const r = await exec({ argv: ['/bin/sh', '-c', script, 'sh', `${f.dir}/${file.name}`, f.dir], timeoutMs: 30_000 }, {
      stdio: ['pipe', 'ignore', 'pipe'], input: file.data, onStderr: (c) => err.push(c),
    });
    if (r.exitCode !== 0) {
      throw new BkgError('HELPER_FAILED', `could not write the secret file ${f.dir}/${file.name} in the sandbox: ${Buffer.concat(err).toString('utf8').trim().slice(0, 300) || `exit ${String(r.exitCode)}`}`);
    }
  }
}
