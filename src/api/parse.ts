/**
 * Checking input against the wire contract: the value typed by its zod schema, or the first
 * problem as INVALID_ARGUMENT naming the field path (`limits.memory_mb: must be at least 16`,
 * `cmd[2]: ...`, `env["BAD-NAME"]: ...`) with `details.field`.
 */
import type { z } from 'zod/v4';
import { BkgError } from './errors.js';

type Issue = z.core.$ZodIssue;

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const EXPECTED: Record<string, string> = { string: 'a string', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'an array', object: 'an object', record: 'an object' };

/** One issue in bkg's words. */
export function problem(issue: Issue, input?: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (input === undefined) return 'is required';
      if (issue.expected === 'int' && typeof input === 'number') return 'must be a whole number';
      return `must be ${EXPECTED[issue.expected] ?? issue.expected}, not ${describe(input)}`;
    case 'too_small':
      if (issue.origin === 'string') return `must be at least ${String(issue.minimum)} characters`;
      if (issue.origin === 'array') return `must have at least ${String(issue.minimum)} items`;
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${String(issue.maximum)} characters`;
      if (issue.origin === 'array') return `must have at most ${String(issue.maximum)} items`;
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_format':
      if (!issue.message.startsWith('Invalid')) return issue.message; // the schema's own words
      return issue.format === 'regex' && 'pattern' in issue ? `must match ${String(issue.pattern).replace(/^\/(.*)\/[a-z]*$/, '$1')}` : `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'unrecognized_keys':
      return 'is not a known field';
    case 'invalid_key': {
      // the key schema's own words when it has them (env: "is not a valid variable name")
      const own = issue.issues.find((i) => !i.message.startsWith('Invalid'));
      return own ? own.message : 'is not a valid name';
    }
    default:
      return issue.message;
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

/** `value` as the schema types it, or INVALID_ARGUMENT for its first problem (`what` names a missing whole). */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what = 'request body'): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0] as Issue;
  // an unknown field is named itself, not its parent object
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] as string] : [...issue.path];
  const field = fieldPath(path);
  if (value === undefined && path.length === 0) throw new BkgError('INVALID_ARGUMENT', `${what} is required`, { details: { field: 'body' } });
  const message = problem(issue, valueAt(value, issue.path));
  throw new BkgError('INVALID_ARGUMENT', field ? `${field}: ${message}` : `${what} ${message}`, { details: { field: field || 'body' } });
}
