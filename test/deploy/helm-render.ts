/**
 * A deliberately small renderer for the subset of Go templates the bkg chart uses (no helm binary
 * here): `{{ .Values.a.b }}` and `| quote`, `.Release.Name`, `.Chart.AppVersion`, and on lines of
 * their own `if`/`with`/`end`, `include "NAME" . | nindent N` and `toYaml X | nindent N`. Anything
 * else throws, so a template that outgrows it fails the test instead of passing unchecked.
 */
import { stringify } from 'yaml';

export interface RenderScope {
  Values: Record<string, unknown>;
  Release: { Name: string };
  Chart: { AppVersion: string };
}

function lookup(scope: RenderScope, dot: unknown, expr: string): unknown {
  if (expr === '.') return dot;
  const m = /^\.(Values|Release|Chart)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$/.exec(expr);
  if (!m) throw new Error(`unsupported template expression: ${expr}`);
  let v: unknown = scope[m[1] as keyof RenderScope];
  for (const part of (m[2] ?? '').split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object' || !(part in v)) throw new Error(`${expr}: no such value (at ${part})`);
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

const truthy = (v: unknown): boolean => !(v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));
const indent = (text: string, n: number): string => text.replace(/\n$/, '').split('\n').map((l) => ' '.repeat(n) + l).join('\n');

export function renderTemplate(src: string, scope: RenderScope, helpers: Record<string, string>): string {
  const out: string[] = [];
  const stack: { on: boolean; dot: unknown }[] = [];
  const on = (): boolean => stack.every((s) => s.on);
  const dot = (): unknown => (stack.length ? stack[stack.length - 1]?.dot : scope);
  for (const line of src.split('\n')) {
    const control = /^\s*\{\{-?\s*(.*?)\s*-?\}\}\s*$/.exec(line);
    if (control?.[1] !== undefined) {
      const body = control[1];
      let m: RegExpExecArray | null;
      if ((m = /^(if|with) (\S+)$/.exec(body))) {
        const v = lookup(scope, dot(), m[2] as string);
        stack.push({ on: truthy(v), dot: m[1] === 'with' ? v : dot() });
        continue;
      }
      if (body === 'end') {
        if (!stack.pop()) throw new Error('{{ end }} without a block');
        continue;
      }
      if ((m = /^include "([^"]+)" \. \| nindent (\d+)$/.exec(body))) {
        const helper = helpers[m[1] as string];
        if (helper === undefined) throw new Error(`no helper ${m[1]}`);
        if (on()) out.push(indent(renderTemplate(helper, scope, helpers), Number(m[2])));
        continue;
      }
      if ((m = /^toYaml (\S+) \| nindent (\d+)$/.exec(body))) {
        if (on()) out.push(indent(stringify(lookup(scope, dot(), m[1] as string)), Number(m[2])));
        continue;
      }
      if (/^(define|\/\*)/.test(body)) throw new Error(`unsupported template line: ${line.trim()}`);
    }
    if (!on()) continue;
    out.push(line.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, expr: string) => {
      const [path, ...pipes] = expr.split('|').map((s) => s.trim());
      const v = lookup(scope, dot(), path as string);
      if (pipes.length === 0) return String(v);
      if (pipes.length === 1 && pipes[0] === 'quote') return JSON.stringify(String(v));
      throw new Error(`unsupported pipeline: ${expr}`);
    }));
  }
  if (stack.length) throw new Error('a block is not closed with {{ end }}');
  return out.join('\n');
}

/** The bodies of `{{- define "NAME" -}} ... {{- end -}}` in a helpers file. */
export function parseHelpers(src: string): Record<string, string> {
  const helpers: Record<string, string> = {};
  for (const m of src.matchAll(/\{\{-?\s*define "([^"]+)"\s*-?\}\}\n?([\s\S]*?)\n?\{\{-?\s*end\s*-?\}\}/g)) helpers[m[1] as string] = m[2] as string;
  return helpers;
}
