/** `bkg run`: a project's sandboxes through the daemon, or one command in a throwaway sandbox (--rm). */
import { existsSync } from 'node:fs';
import { BkgError } from '../api/errors.js';
import { SANDBOX_FLAGS } from './sandbox-request.js';

/** The NAME in `bkg run NAME [-- CMD]`: a positional that came before `--` (everything after it is CMD). */
export function nameBeforeDashes(rawArgv: string[], positionals: string[]): string | undefined {
  const dashes = rawArgv.indexOf('--');
  const afterDashes = dashes === -1 ? 0 : rawArgv.length - dashes - 1;
  return positionals.length > afterDashes ? positionals[0] : undefined;
}

/** From parsed arguments (the fast path and the oclif command alike). */
export async function runFromArgs(p: { flags: Record<string, unknown>; argv: string[]; raw: string[] }): Promise<number> {
  const flags = p.flags as Record<string, unknown> & { rm?: boolean; file: string; json?: boolean; env?: string[]; from?: string };
  const name = nameBeforeDashes(p.raw, p.argv);
  if (typeof flags.from === 'string') {
    if (flags.rm) throw new BkgError('INVALID_ARGUMENT', '--from and --rm do not go together: a sandbox started from a snapshot is a daemon sandbox', { hint: 'remove it afterwards with bkg rm NAME', details: { flag: '--rm' } });
    const [{ runFromSnapshot }, { withDaemonClient }] = await Promise.all([import('./run-from-snapshot.js'), import('./client.js')]);
    const cmd = name === undefined ? p.argv : p.argv.slice(1);
    return withDaemonClient((c) => runFromSnapshot(c, { from: flags.from as string, name, cmd, flags, json: flags.json === true }));
  }
  const projectMode = !flags.rm && (name !== undefined || existsSync(flags.file));
  if (!projectMode) {
    const [{ createCliContext }, { runSandboxCommand }] = await Promise.all([import('./context.js'), import('./run-sandbox.js')]);
    return runSandboxCommand(createCliContext(), { ...flags, cmd: p.argv });
  }
  // a project's sandboxes are what cave.yaml says: a flag that would change one is an error, not ignored
  const given = SANDBOX_FLAGS.filter((f) => flags[f] !== undefined && flags[f] !== false);
  if (given.length || flags.apply) {
    const flag = `--${given[0] ?? 'apply'}`;
    const target = name ?? 'the project\'s sandboxes';
    throw new BkgError('INVALID_ARGUMENT', `${flag} does not apply to ${name ? `"bkg run ${name}"` : '"bkg run" with cave.yaml'}: ${target === name ? `${name}'s` : 'their'} settings come from ${flags.file}`, {
      hint: `For a throwaway sandbox with these settings use \`bkg run --rm ${flag} ... -- CMD\`; to change ${name ?? 'a sandbox'} edit ${flags.file} (\`bkg add\` writes new entries) and run it again.`,
      details: { flag },
    });
  }
  const cmd = name === undefined ? p.argv : p.argv.slice(1);
  const [{ runProjectCommand }, { withDaemonClient }, { parseEnv }] = await Promise.all([import('./run-project.js'), import('./client.js'), import('./env-flags.js')]);
  const env = flags.env?.length ? parseEnv(flags.env) : undefined;
  return withDaemonClient((c) =>
    runProjectCommand(c, { ...(name ? { name } : {}), ...(cmd.length ? { cmd } : {}), configPath: flags.file, json: flags.json === true, ...(env ? { env } : {}) }),
  );
}
