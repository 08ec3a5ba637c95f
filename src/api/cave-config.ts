/**
 * cave.yaml: a project's sandboxes, in the API's own terms (limits in memory_mb, timeout_s, ...).
 *
 *   project: demo
 *   version: 1
 *   sandboxes:
 *     - name: web
 *       runtime: python
 *       workspace: .          # relative to the file's directory
 *       limits: { memory_mb: 256, timeout_s: 3600 }
 *       secrets:              # of the namespace (`bkg secret set`), given when it starts
 *         - name: DB_PASSWORD       # the variable DB_PASSWORD
 *         - { name: DB_PASSWORD, env: PGPASSWORD }
 *         - { name: TLS_KEY, file: true }   # /run/secrets/TLS_KEY
 *
 * Loading validates strictly: the first problem is INVALID_CONFIG naming the file and the field
 * (`cave.yaml: sandboxes[0].limits.memory_mb: must be at least 16`) or, for YAML syntax, the line.
 * Saving keeps the file's comments and the entries that did not change. `yaml` is imported lazily.
 */
import { readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { Document } from 'yaml';
import { BkgError } from './errors.js';
import { parse } from './parse.js';
import { Name, z } from './schema/common.js';
import { CreateSandboxRequest } from './schema/sandboxes.js';

export const CAVE_FILE = 'cave.yaml';
export const CAVE_VERSION = 1;
export const MAX_CAVE_SANDBOXES = 256;

/** One sandbox of the file: a create request's own fields (the file names its project); `seccomp` is a profile file's path. */
export const CaveSandboxSchema = CreateSandboxRequest.pick({ name: true, runtime: true, limits: true, network: true, env: true, secrets: true, workspace: true, allow_nested_namespaces: true, placement: true })
  .extend({ seccomp: z.string().min(1).max(4096).optional().describe('An OCI seccomp profile file, relative to cave.yaml.') })
  .strict();

export const CaveConfigSchema = z.object({
  project: Name,
  version: z.int(),
  sandboxes: z.array(CaveSandboxSchema).max(MAX_CAVE_SANDBOXES).optional(),
}).strict();

/** One sandbox of the file; once loaded, `workspace` and `seccomp` are absolute. */
export type CaveSandbox = z.infer<typeof CaveSandboxSchema>;

export interface CaveConfig {
  project: string;
  version: typeof CAVE_VERSION;
  sandboxes: CaveSandbox[];
}

export interface LoadedCaveConfig extends CaveConfig {
  /** The file, absolute. */
  path: string;
  /** Its directory: what relative workspaces are relative to. */
  dir: string;
}

/** The file as people know it: relative to the working directory when inside it. */
function display(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

function invalid(abs: string, message: string, details: Record<string, unknown> = {}): BkgError {
  return new BkgError('INVALID_CONFIG', `${display(abs)}: ${message}`, { details: { file: abs, ...details } });
}

/** Checks beyond the schema: the version, unique sandbox names. */
function checkSemantics(raw: z.infer<typeof CaveConfigSchema>): void {
  const fail = (field: string, problem: string): never => {
    throw new BkgError('INVALID_ARGUMENT', `${field}: ${problem}`, { details: { field } });
  };
  if (raw.version !== CAVE_VERSION) fail('version', `must be ${CAVE_VERSION} (this bkg reads cave.yaml version ${CAVE_VERSION})`);
  const seen = new Map<string, number>();
  (raw.sandboxes ?? []).forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) fail(`sandboxes[${i}].name`, `"${s.name}" is already the name of sandboxes[${first}]`);
    seen.set(s.name, i);
  });
}

/** Validate a plain value as the file's contents; `abs` names the file in errors. */
function check(abs: string, value: unknown): z.infer<typeof CaveConfigSchema> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = value === null || value === undefined ? 'empty' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    throw invalid(abs, `must be a mapping with project, version and sandboxes, but it is ${what}`);
  }
  try {
    const raw = parse(CaveConfigSchema, value);
    checkSemantics(raw);
    return raw;
  } catch (err) {
    if (err instanceof BkgError && err.code === 'INVALID_ARGUMENT') throw invalid(abs, err.message, err.details ?? {});
    throw err;
  }
}

/** Relative paths (workspace, seccomp) → absolute, against the file's directory, in the API's field order. */
function fromFile(s: CaveSandbox, dir: string): CaveSandbox {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolve(dir, p));
  return canonical({ ...s, workspace: abs(s.workspace), seccomp: abs(s.seccomp) });
}

/** Absolute paths → relative to the file's directory ('.' for the directory itself). */
function toFile(s: CaveSandbox, dir: string): CaveSandbox {
  const rel = (p: string | undefined) => (p === undefined ? undefined : relative(dir, resolve(dir, p)) || '.');
  return canonical({ ...s, workspace: rel(s.workspace), seccomp: rel(s.seccomp) });
}

/** A stable key order for new entries: name, runtime, network, workspace, env, secrets, limits, then the privileges. */
function canonical(s: CaveSandbox): CaveSandbox {
  const { name, runtime, network, workspace, env, secrets, limits, allow_nested_namespaces, seccomp, placement } = s;
  return {
    name,
    ...(runtime === undefined ? {} : { runtime }),
    ...(network === undefined ? {} : { network }),
    ...(workspace === undefined ? {} : { workspace }),
    ...(env === undefined ? {} : { env }),
    ...(secrets === undefined ? {} : { secrets }),
    ...(limits === undefined ? {} : { limits }),
    ...(allow_nested_namespaces === undefined ? {} : { allow_nested_namespaces }),
    ...(seccomp === undefined ? {} : { seccomp }),
    ...(placement === undefined ? {} : { placement }),
  };
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

async function parseYaml(abs: string, text: string): Promise<Document.Parsed> {
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const reason = (first.message.split('\n')[0] ?? first.message).replace(/ at line \d+, column \d+:?$/, '');
    throw invalid(abs, `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}YAML syntax error: ${reason}`, pos ? { line: pos.line, column: pos.col } : {});
  }
  return doc;
}

function toPlain(abs: string, doc: Document.Parsed): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw invalid(abs, `cannot read: ${(err as Error).message}`);
  }
}

async function readText(abs: string): Promise<string | null> {
  try {
    return await readFile(abs, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw invalid(abs, `cannot read: ${(err as Error).message}`);
  }
}

/** Read and validate a cave.yaml; NOT_FOUND when there is none. */
export async function loadCaveConfig(path: string): Promise<LoadedCaveConfig> {
  const abs = resolve(path);
  const text = await readText(abs);
  if (text === null) {
    throw new BkgError('NOT_FOUND', `${display(abs)}: no such file`, { hint: 'Run `bkg init` to create cave.yaml here, or pass --file.', details: { file: abs } });
  }
  const raw = check(abs, toPlain(abs, await parseYaml(abs, text)));
  const dir = dirname(abs);
  return { path: abs, dir, project: raw.project, version: CAVE_VERSION, sandboxes: (raw.sandboxes ?? []).map((s) => fromFile(s, dir)) };
}

/**
 * Write `config` to `path` (atomically). When the file exists its comments, its layout and every
 * sandbox entry that did not change are kept; changed or new entries are written in block style.
 */
export async function saveCaveConfig(path: string, config: CaveConfig): Promise<void> {
  const abs = resolve(path);
  const dir = dirname(abs);
  const plain = { project: config.project, version: config.version, sandboxes: config.sandboxes.map((s) => toFile(s, dir)) };
  check(abs, plain);

  const yaml = await import('yaml');
  const text = await readText(abs);
  const doc = text === null ? new yaml.Document() : await parseYaml(abs, text);
  if (!yaml.isMap(doc.contents)) doc.contents = doc.createNode({}) as typeof doc.contents;
  if (doc.get('project') !== plain.project) doc.set('project', plain.project);
  if (doc.get('version') !== plain.version) doc.set('version', plain.version);

  const existing = doc.get('sandboxes', true);
  const keep = new Map<string, unknown>();
  if (yaml.isSeq(existing)) {
    for (const item of existing.items) {
      const value: unknown = yaml.isNode(item) ? item.toJSON() : item;
      const name = (value as { name?: unknown } | null)?.name;
      if (typeof name === 'string' && !keep.has(name)) keep.set(name, { node: item, json: stableJson(toFile(fromFile(value as CaveSandbox, dir), dir)) });
    }
  }
  const seq = yaml.isSeq(existing) ? existing : new yaml.YAMLSeq();
  seq.items = plain.sandboxes.map((s) => {
    const old = keep.get(s.name) as { node: unknown; json: string } | undefined;
    return old && old.json === stableJson(s) ? old.node : doc.createNode(s);
  });
  if (seq.items.length > 0) seq.flow = false;
  if (!yaml.isSeq(existing)) doc.set('sandboxes', seq);

  const mode = await stat(abs).then((st) => st.mode & 0o777, () => 0o644);
  const tmp = `${abs}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, doc.toString({ lineWidth: 0 }), { mode });
    await rename(tmp, abs);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw invalid(abs, `cannot write: ${(err as Error).message}`);
  }
}
