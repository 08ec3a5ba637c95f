/**
 * Runtime templates (templates/runtimes/*.json): which host interpreter runs the command.
 * The interpreter must live where the sandbox can see it (under /usr or a top-level bin dir).
 */
import { accessSync, constants, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { BkgError } from '../api/errors.js';
import { packageRoot } from './host.js';

export interface RuntimeTemplate {
  name: string;
  description: string;
  interpreter: string[];
  env: Record<string, string>;
}

/** Host directories searched for interpreters, all visible inside the sandbox. */
export const VISIBLE_BIN_DIRS = ['/usr/local/bin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/sbin', '/sbin'];

export function templatesDir(): string {
  return join(packageRoot(), 'templates', 'runtimes');
}

export function listRuntimes(dir = templatesDir()): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

export function loadRuntime(name: string, dir = templatesDir()): RuntimeTemplate {
  const names = listRuntimes(dir);
  if (!names.includes(name)) {
    throw new BkgError('INVALID_ARGUMENT', `--runtime: unknown runtime "${name}" (available: ${names.join(', ')})`);
  }
  const raw = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as RuntimeTemplate;
  if (!Array.isArray(raw.interpreter) || raw.interpreter.length === 0 || typeof raw.interpreter[0] !== 'string') {
    throw new BkgError('INVALID_CONFIG', `templates/runtimes/${name}.json: "interpreter" must be a non-empty array of strings`);
  }
  return { ...raw, env: raw.env ?? {} };
}

/** Find `program` in the sandbox-visible bin dirs; symlinks must also resolve to a visible place. */
export function resolveInterpreter(program: string, runtime: string): string {
  for (const dir of VISIBLE_BIN_DIRS) {
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      const real = realpathSync(candidate);
      if (['/usr/', '/bin/', '/sbin/', '/lib'].some((p) => real.startsWith(p))) return candidate;
    } catch {
      /* not here */
    }
  }
  throw new BkgError('RUNTIME_NOT_FOUND', `runtime "${runtime}": interpreter "${program}" not found under ${VISIBLE_BIN_DIRS.join(', ')}`);
}

/** The command for a runtime: interpreter plus the user's arguments. */
export function runtimeCommand(template: RuntimeTemplate, args: string[]): string[] {
  const [program, ...rest] = template.interpreter as [string, ...string[]];
  return [resolveInterpreter(program, template.name), ...rest, ...args];
}
