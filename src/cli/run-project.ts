/**
 * `bkg run [NAME] [-- CMD...]` with a cave.yaml: make the named sandbox (or every sandbox of the
 * file) exist and run, then run CMD in the named one. Idempotent: an existing sandbox is reused and
 * a running one left alone (a 409 from a concurrent run means the same).
 */
import { readFile } from 'node:fs/promises';
import { loadCaveConfig, type CaveSandbox, type LoadedCaveConfig } from '../api/cave-config.js';
import { BkgError } from '../api/errors.js';
import type { ExecResponse, SandboxView } from '../api/sandboxes.js';
import type { DaemonClient } from '../client/daemon-client.js';
import type { ExecInput } from './exec-command.js';
import { explainExec } from './exec-output.js';

/** Runs CMD in a sandbox: bkg's exit code, and the result (with the output when collected). */
export type ExecFn = (client: DaemonClient, input: ExecInput) => Promise<{ exitCode: number; result: ExecResponse }>;

export interface RunProjectOptions {
  /** The sandbox to start (and run CMD in); default every sandbox of the file. */
  name?: string | undefined;
  /** Run this in the sandbox once it runs; nothing when empty or absent. */
  cmd?: readonly string[] | undefined;
  /** The cave.yaml. */
  configPath: string;
  /** Passed to exec. */
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  timeoutMs?: number | undefined;
  /** Collect the command's output (for --json) instead of streaming it to this process's stdout and stderr. */
  collect?: boolean | undefined;
  /** How CMD runs; default: streamed over the daemon's WebSocket (exec-command.ts). */
  exec?: ExecFn | undefined;
  /** Progress ("created web", "started web"), e.g. to stderr; default silent. */
  onProgress?: ((line: string) => void) | undefined;
}

export interface ProjectSandboxResult {
  name: string;
  created: boolean;
  started: boolean;
  sandbox: SandboxView;
}

export interface RunProjectResult {
  project: string;
  sandboxes: ProjectSandboxResult[];
  /** Set when a command ran. */
  exec?: ExecResponse;
  /** The command's exit code as bkg reports it (128+N on signal N, 124 timeout, 125 OOM); 0 without a command. */
  exitCode: number;
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof BkgError && err.code === code;
}

async function find(client: DaemonClient, name: string): Promise<SandboxView | null> {
  try {
    return await client.getSandbox(name);
  } catch (err) {
    if (isCode(err, 'NOT_FOUND')) return null;
    throw err;
  }
}

/** Which sandboxes of the file to bring up, and which one CMD runs in. */
function targets(config: LoadedCaveConfig, opts: RunProjectOptions): { up: CaveSandbox[]; execIn?: string } {
  const file = config.path;
  const hasCmd = (opts.cmd?.length ?? 0) > 0;
  if (opts.name !== undefined) {
    const s = config.sandboxes.find((x) => x.name === opts.name);
    if (!s) {
      throw new BkgError('NOT_FOUND', `sandbox "${opts.name}" is not in ${file}`, { hint: `Add it with \`bkg add ${opts.name}\`, or pick one of: ${config.sandboxes.map((x) => x.name).join(', ') || '(none yet)'}.` });
    }
    return { up: [s], ...(hasCmd ? { execIn: s.name } : {}) };
  }
  if (config.sandboxes.length === 0) {
    throw new BkgError('INVALID_ARGUMENT', `${file} has no sandboxes`, { hint: 'Add one with `bkg add NAME`.' });
  }
  if (hasCmd) {
    const only = config.sandboxes.length === 1 ? config.sandboxes[0] : undefined;
    if (!only) throw new BkgError('INVALID_ARGUMENT', `name the sandbox to run the command in: ${file} has ${config.sandboxes.length}`, { hint: 'Use `bkg run NAME -- CMD...`.' });
    return { up: [only], execIn: only.name };
  }
  return { up: config.sandboxes };
}

/** Create (when missing) and start (when not running) one sandbox of the project. */
async function bringUp(client: DaemonClient, project: string, s: CaveSandbox, progress: (line: string) => void): Promise<ProjectSandboxResult> {
  let created = false;
  let view = await find(client, s.name);
  if (view === null) {
    try {
      const { seccomp, ...rest } = s;
      // cave.yaml names a profile file; the API takes the profile itself
      view = (await client.createSandbox({ ...rest, project, ...(seccomp ? { seccomp: JSON.parse(await readFile(seccomp, 'utf8')) as Record<string, unknown> } : {}) })).sandbox;
      created = true;
      progress(`created ${s.name}`);
    } catch (err) {
      if (!isCode(err, 'CONFLICT')) throw err;
      view = await client.getSandbox(s.name);
    }
  }
  if (view.project !== project) {
    throw new BkgError('CONFLICT', `a sandbox named "${s.name}" already exists${view.project ? ` in project "${view.project}"` : ' outside any project'}, not in "${project}"`, {
      hint: `Remove it (\`bkg rm ${s.name}\`) or rename the one in cave.yaml.`,
    });
  }
  let started = false;
  if (view.status !== 'running') {
    try {
      view = await client.startSandbox(s.name);
      started = true;
      progress(`started ${s.name}`);
    } catch (err) {
      if (!isCode(err, 'CONFLICT')) throw err;
      view = await client.getSandbox(s.name);
    }
  }
  return { name: s.name, created, started, sandbox: view };
}

export async function runProject(client: DaemonClient, opts: RunProjectOptions): Promise<RunProjectResult> {
  const config = await loadCaveConfig(opts.configPath);
  const { up, execIn } = targets(config, opts);
  const progress = opts.onProgress ?? (() => {});
  const sandboxes: ProjectSandboxResult[] = [];
  for (const s of up) sandboxes.push(await bringUp(client, config.project, s, progress));
  if (execIn === undefined || !opts.cmd?.length) return { project: config.project, sandboxes, exitCode: 0 };
  const run = opts.exec ?? (await import('./exec-command.js')).streamedExec;
  const { exitCode, result } = await run(client, { name: execIn, cmd: [...opts.cmd], env: opts.env, cwd: opts.cwd, timeoutMs: opts.timeoutMs, json: opts.collect === true });
  return { project: config.project, sandboxes, exec: result, exitCode };
}

/**
 * runProject plus the CLI's rendering, for `bkg run`: progress on stderr; without CMD a summary on
 * stdout; with CMD its output on stdout/stderr; with --json one object. Returns the exit code.
 */
export async function runProjectCommand(client: DaemonClient, opts: RunProjectOptions & { json: boolean }): Promise<number> {
  const r = await runProject(client, { ...opts, collect: opts.json, ...(opts.json ? {} : { onProgress: (line: string) => process.stderr.write(`bkg: ${line}\n`) }) });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ project: r.project, sandboxes: r.sandboxes, ...(r.exec ? { exec: r.exec } : {}), bkg_exit_code: r.exitCode }, null, 2)}\n`);
    return r.exitCode;
  }
  if (r.exec) {
    for (const line of explainExec(r.exec, opts.cmd ?? [], opts.timeoutMs)) process.stderr.write(`${line}\n`);
    return r.exitCode;
  }
  for (const s of r.sandboxes) {
    const what = s.created ? 'created and started' : s.started ? 'started' : `already ${s.sandbox.status}`;
    process.stdout.write(`${s.name}: ${what}\n`);
  }
  return 0;
}
