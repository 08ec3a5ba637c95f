/**
 * A minimal, strict schema validator for JSON request bodies. Objects reject unknown fields unless
 * `additionalProperties` says otherwise; null is never a valid value (unless `nullable`); the first problem is
 * reported as INVALID_ARGUMENT naming the field path (`limits.memory_mb`, `argv[2]`).
 *
 *   const CreateSandbox = { type: 'object', properties: { name: { type: 'string', required: true, maxLength: 64 } } } as const;
 *   const body = validate(CreateSandbox, await ctx.body()); // typed: { name: string }
 */
import { BkgError } from './errors.js';

interface Base {
  /** Only meaningful for object properties: the field must be present. */
  readonly required?: boolean;
  /** null is accepted as a value (e.g. "no limit"); otherwise null is never valid. */
  readonly nullable?: boolean;
}
export interface StringSchema extends Base {
  readonly type: 'string';
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: RegExp;
}
export interface NumberSchema extends Base {
  readonly type: 'number' | 'integer';
  readonly min?: number;
  readonly max?: number;
}
export interface BooleanSchema extends Base {
  readonly type: 'boolean';
}
export interface EnumSchema extends Base {
  readonly type: 'enum';
  readonly values: readonly string[];
}
export interface ArraySchema extends Base {
  readonly type: 'array';
  readonly items?: Schema;
  readonly maxLength?: number;
}
export interface ObjectSchema extends Base {
  readonly type: 'object';
  readonly properties?: Readonly<Record<string, Schema>>;
  /** false (the default): unknown fields are an error; true: allowed as is; a schema: each checked. */
  readonly additionalProperties?: boolean | Schema;
}
export type Schema = StringSchema | NumberSchema | BooleanSchema | EnumSchema | ArraySchema | ObjectSchema;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type InferProps<Props> = Simplify<
  { -readonly [K in keyof Props as Props[K] extends { required: true } ? K : never]: Infer<Props[K]> } & {
    -readonly [K in keyof Props as Props[K] extends { required: true } ? never : K]?: Infer<Props[K]>;
  }
>;
type InferExtra<A> = A extends Schema ? Record<string, Infer<A>> : A extends true ? Record<string, unknown> : unknown;
/** The TypeScript type a schema accepts (declare schemas `as const`). */
export type Infer<S> = S extends { nullable: true } ? InferValue<S> | null : InferValue<S>;
type InferValue<S> = S extends { type: 'string' }
  ? string
  : S extends { type: 'number' | 'integer' }
    ? number
    : S extends { type: 'boolean' }
      ? boolean
      : S extends { type: 'enum'; values: readonly (infer V)[] }
        ? V
        : S extends { type: 'array' }
          ? (S extends { items: infer I } ? Infer<I> : unknown)[]
          : S extends { type: 'object' }
            ? (S extends { properties: infer Props } ? InferProps<Props> : unknown) &
                (S extends { additionalProperties: infer A } ? InferExtra<A> : unknown)
            : never;

function fail(path: string, problem: string): never {
  const field = path || 'body';
  throw new BkgError('INVALID_ARGUMENT', `${path ? path + ': ' : 'request body '}${problem}`, { details: { field } });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

function check(schema: Schema, v: unknown, path: string): void {
  if (v === null && schema.nullable) return;
  switch (schema.type) {
    case 'string':
      if (typeof v !== 'string') fail(path, `must be a string, not ${describe(v)}`);
      if (schema.minLength !== undefined && v.length < schema.minLength) fail(path, `must be at least ${schema.minLength} characters`);
      if (schema.maxLength !== undefined && v.length > schema.maxLength) fail(path, `must be at most ${schema.maxLength} characters`);
      if (schema.pattern && !schema.pattern.test(v)) fail(path, `must match ${schema.pattern.source}`);
      return;
    case 'number':
    case 'integer':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, `must be a number, not ${describe(v)}`);
      if (schema.type === 'integer' && !Number.isSafeInteger(v)) fail(path, 'must be a whole number');
      if (schema.min !== undefined && v < schema.min) fail(path, `must be at least ${schema.min}`);
      if (schema.max !== undefined && v > schema.max) fail(path, `must be at most ${schema.max}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') fail(path, `must be true or false, not ${describe(v)}`);
      return;
    case 'enum':
      if (typeof v !== 'string' || !schema.values.includes(v)) fail(path, `must be one of ${schema.values.join(', ')}`);
      return;
    case 'array':
      if (!Array.isArray(v)) fail(path, `must be an array, not ${describe(v)}`);
      if (schema.maxLength !== undefined && v.length > schema.maxLength) fail(path, `must have at most ${schema.maxLength} items`);
      if (schema.items) {
        const items = schema.items;
        v.forEach((item, i) => check(items, item, `${path}[${i}]`));
      }
      return;
    case 'object': {
      if (!isPlainObject(v)) fail(path, `must be an object, not ${describe(v)}`);
      const props = schema.properties ?? {};
      for (const [key, sub] of Object.entries(props)) {
        if (Object.hasOwn(v, key)) check(sub, v[key], join(path, key));
        else if (sub.required) fail(join(path, key), 'is required');
      }
      const extra = schema.additionalProperties ?? false;
      for (const key of Object.keys(v)) {
        if (Object.hasOwn(props, key) || extra === true) continue;
        if (extra === false) fail(join(path, key), 'is not a known field');
        check(extra, v[key], join(path, key));
      }
      return;
    }
  }
}

/** `value` typed by the schema, or a BkgError INVALID_ARGUMENT naming the first bad field. */
export function validate<const S extends Schema>(schema: S, value: unknown): Infer<S> {
  if (value === undefined) fail('', 'is required');
  check(schema, value, '');
  return value as Infer<S>;
}
