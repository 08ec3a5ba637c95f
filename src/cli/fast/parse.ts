/**
 * Arguments parsed the way oclif parses them, from the manifest's flag and arg definitions:
 * `--flag value`, `--flag=value`, `-c value`, `--no-flag`, repeatable flags, option lists, `--`.
 * Problems are BkgErrors (INVALID_ARGUMENT) that name the flag and say what to do, the same ones
 * the oclif path reports (errors.ts).
 */
import { BkgError } from '../../api/errors.js';
import { missingArgument, unknownFlag } from '../errors.js';
import type { ManifestCommand, ManifestFlag } from './manifest.js';

export interface Parsed {
  args: Record<string, string | undefined>;
  flags: Record<string, unknown>;
  /** Every positional, in order (those after `--` included). */
  argv: string[];
  /** The words after the command id, as given. */
  raw: string[];
}

export function parseArgs(cmd: ManifestCommand, raw: string[], bin = 'bkg'): Parsed {
  const flags: Record<string, unknown> = {};
  const positionals: string[] = [];
  const byChar = new Map<string, ManifestFlag>();
  for (const f of Object.values(cmd.flags)) if (f.char) byChar.set(f.char, f);
  const set = (f: ManifestFlag, value: unknown): void => {
    if (f.type === 'option' && f.options && !f.options.includes(value as string)) {
      throw new BkgError('INVALID_ARGUMENT', `--${f.name}: "${String(value)}" is not one of ${f.options.join(', ')}`, { details: { flag: f.name } });
    }
    if (f.multiple) flags[f.name] = [...((flags[f.name] as unknown[] | undefined) ?? []), value];
    else flags[f.name] = value;
  };
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i] as string;
    if (a === '--') {
      positionals.push(...raw.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    const long = a.startsWith('--');
    const eq = long ? a.indexOf('=') : -1;
    const name = long ? a.slice(2, eq === -1 ? undefined : eq) : a.slice(1);
    let flag = long ? cmd.flags[name] : name.length === 1 ? byChar.get(name) : undefined;
    let negated = false;
    if (!flag && long && name.startsWith('no-')) {
      const base = cmd.flags[name.slice(3)];
      if (base?.type === 'boolean' && base.allowNo) {
        flag = base;
        negated = true;
      }
    }
    if (!flag) throw unknownFlag(bin, cmd, a, raw);
    if (flag.type === 'boolean') {
      if (eq !== -1) throw new BkgError('INVALID_ARGUMENT', `--${flag.name} takes no value`, { details: { flag: flag.name } });
      set(flag, !negated);
      continue;
    }
    const value = eq !== -1 ? a.slice(eq + 1) : raw[++i];
    if (value === undefined) throw new BkgError('INVALID_ARGUMENT', `${a} needs a value`, { hint: flag.description ?? `See \`${bin} ${cmd.id.replace(/:/g, ' ')} --help\`.`, details: { flag: flag.name } });
    set(flag, value);
  }
  for (const f of Object.values(cmd.flags)) {
    if (flags[f.name] !== undefined) continue;
    if (f.required) throw new BkgError('INVALID_ARGUMENT', `--${f.name} is required`, { hint: f.description ?? '', details: { flag: f.name } });
    if (f.default !== undefined) flags[f.name] = f.default;
    else if (f.type === 'boolean' && !f.allowNo) flags[f.name] = false;
  }
  const args: Record<string, string | undefined> = {};
  const defs = Object.values(cmd.args);
  defs.forEach((d, i) => {
    args[d.name] = positionals[i];
    if (d.required && positionals[i] === undefined) throw missingArgument(bin, cmd, d);
  });
  if (cmd.strict !== false && positionals.length > defs.length) {
    throw new BkgError('INVALID_ARGUMENT', `unexpected argument "${positionals[defs.length] as string}"`, { hint: `See \`${bin} ${cmd.id.replace(/:/g, ' ')} --help\`.` });
  }
  return { args, flags, argv: positionals, raw };
}
