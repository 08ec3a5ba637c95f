/** Files inside a running sandbox, read, written and listed by commands run in it (so paths resolve inside its root). */
import { BkgError } from '../../api/errors.js';
import { FILE_CAP } from '../../api/sandboxes.js';
import type { Principal } from '../auth/api-keys.js';
import type { SandboxAccess } from './access.js';
import type { SandboxAudit } from './audit.js';
import type { PartDeps } from './deps.js';

export interface FileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

function requireSandboxPath(path: string): void {
  if (!path.startsWith('/') || path.includes('\0')) throw new BkgError('INVALID_ARGUMENT', 'path: must be an absolute path inside the sandbox');
}

export class SandboxFiles {
  constructor(private readonly d: Pick<PartDeps, 'engine'>, private readonly access: SandboxAccess, private readonly audit: SandboxAudit) {}

  /** Read a file inside the sandbox. Paths resolve inside its root: '..' and symlinks cannot leave it. */
  async readFile(p: Principal, idOrName: string, path: string): Promise<Buffer> {
    requireSandboxPath(path);
    const r = await this.fileExec(p, idOrName, path, ['/bin/sh', '-c', 'test -f "$1" || { echo "not a regular file" >&2; exit 66; }; exec head -c "$2" -- "$1"', 'sh', path, String(FILE_CAP + 1)]);
    if (r.code === 66) throw new BkgError('NOT_FOUND', `path: no regular file at ${path} in the sandbox`);
    if (r.code !== 0) throw new BkgError('INVALID_ARGUMENT', `path: cannot read ${path}: ${r.stderr.trim()}`);
    if (r.stdout.length > FILE_CAP) throw new BkgError('PAYLOAD_TOO_LARGE', `path: ${path} is larger than ${FILE_CAP} bytes`);
    return r.stdout;
  }

  async writeFile(p: Principal, idOrName: string, path: string, data: Buffer): Promise<void> {
    requireSandboxPath(path);
    if (data.length > FILE_CAP) throw new BkgError('PAYLOAD_TOO_LARGE', `the file is larger than ${FILE_CAP} bytes`);
    const r = await this.fileExec(p, idOrName, path, ['/bin/sh', '-c', 'cat > "$1"', 'sh', path], data);
    if (r.code !== 0) throw new BkgError('INVALID_ARGUMENT', `path: cannot write ${path}: ${r.stderr.trim()}`);
  }

  /** The entries of a directory inside the sandbox (resolved inside its root, like files). */
  async listFiles(p: Principal, idOrName: string, path: string): Promise<FileEntry[]> {
    requireSandboxPath(path);
    const r = await this.fileExec(p, idOrName, path, ['/usr/bin/find', path, '-mindepth', '1', '-maxdepth', '1', '-printf', '%y\\t%s\\t%f\\0']);
    if (r.code !== 0) throw new BkgError('NOT_FOUND', `path: cannot list ${path}: ${r.stderr.trim()}`);
    const types: Record<string, 'file' | 'dir' | 'symlink'> = { f: 'file', d: 'dir', l: 'symlink' };
    return r.stdout.toString('utf8').split('\0').filter(Boolean).map((line) => {
      const [t, size, ...name] = line.split('\t');
      const type: FileEntry['type'] = types[t ?? ''] ?? 'other';
      return { name: name.join('\t'), type, size: Number(size) };
    }).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** One file command, audited as a file access (not recorded among the sandbox's executions). */
  private async fileExec(p: Principal, idOrName: string, path: string, argv: string[], input?: Buffer): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
    const s = this.access.find(p, idOrName, input ? 'sandbox.files.write' : 'sandbox.read');
    const h = this.access.running(s);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const r = await this.d.engine.exec(h, { argv, timeoutMs: 60_000 }, {
      stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...(input ? { input } : {}), onStdout: (c) => out.push(c), onStderr: (c) => err.push(c),
    });
    this.audit.ok(p, input ? 'sandbox.file.write' : 'sandbox.file.read', s, { path });
    return { code: r.exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8').slice(0, 500) };
  }
}
