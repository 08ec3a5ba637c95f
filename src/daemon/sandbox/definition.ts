/** A persistent sandbox's definition from its store row: limits, mounts, and an environment that carries the sandbox's own API key and the secrets it asked for. */
import { join } from 'node:path';
import { BkgError } from '../../api/errors.js';
import { SECRETS_DIR } from '../../api/secrets.js';
import { execSocketName, type SandboxDefinition } from '../../runtime/definition.js';
import { loadRuntime } from '../../runtime/runtimes.js';
import { parseSeccompProfile } from '../../runtime/seccomp/index.js';
import type { Sandbox, SandboxRepo } from '../../store/repos/index.js';
import type { ApiKeyStore } from '../auth/api-keys.js';
import type { SecretVault } from '../secrets/vault.js';

/** Inside every sandbox: the daemon's sandbox socket, and the variables that point at it. */
export const SANDBOX_API_SOCKET = '/run/bkg/api.sock';

export class SandboxDefinitions {
  constructor(private readonly d: {
    keys: ApiKeyStore;
    sandboxes: SandboxRepo;
    /** Host path of the socket bind-mounted into sandboxes (always needs a bearer key). */
    sandboxSocket: string;
    /** Where each sandbox's supervisor listens for execs (a directory only the daemon's user may enter). */
    execSocketDir?: string;
    /** The secrets sandboxes ask for: decrypted here, into the definition only. */
    secrets: Pick<SecretVault, 'reveal'>;
  }) {}

  /** The sandbox's own key (decrypted only to hand it to the sandbox), if it still has one. */
  private sandboxKey(s: Sandbox): string | undefined {
    const key = this.d.keys.list({ sandboxId: s.id }).find((k) => k.revokedAt === null);
    return key ? this.d.keys.reveal(key.id) : undefined;
  }

  /** Built when the sandbox starts (or is adopted after a restart), never per exec: the engine keeps it. */
  of(s: Sandbox): SandboxDefinition {
    const env: Record<string, string> = { ...loadRuntime(s.runtime).env, ...s.env };
    const secrets = s.secrets.length ? this.d.secrets.reveal(s) : null;
    if (secrets) Object.assign(env, secrets.env);
    const apiKey = this.sandboxKey(s);
    if (apiKey) Object.assign(env, { BKG_API_KEY: apiKey, BKG_API_URL: `unix://${SANDBOX_API_SOCKET}` });
    return {
      id: s.id, argv: [], env, limits: s.limits, network: s.network, hostname: s.name.toLowerCase().slice(0, 63),
      ...(s.workspace ? { workspace: s.workspace } : {}), apiSocket: { host: this.d.sandboxSocket, inside: SANDBOX_API_SOCKET },
      ...(this.d.execSocketDir ? { execSocket: join(this.d.execSocketDir, execSocketName(s.id)) } : {}),
      ...(s.allowNestedNamespaces ? { allowNestedNamespaces: true } : {}),
      ...(s.seccomp ? { seccomp: parseSeccompProfile(s.seccomp) } : {}),
      ...(secrets?.files.length ? { secretFiles: { dir: SECRETS_DIR, files: secrets.files } } : {}),
    };
  }

  /** By id, for the engine when it holds no state for a running sandbox. */
  byId(id: string): SandboxDefinition {
    const s = this.d.sandboxes.get(id);
    if (!s) throw new BkgError('NOT_FOUND', `no sandbox "${id}"`);
    return this.of(s);
  }
}
