/** `bkg policy`: flags to a policy patch, and the human renderings of policies. */
import { BkgError } from '../api/errors.js';
import { policyNetworkProblem } from '../api/egress.js';
import type { PolicyPatch, PolicyView } from '../api/policies.js';
import { parseCpus, parsePositiveInt, parseSize } from '../api/units.js';
import { ago, renderTable } from './format.js';

const MiB = 1024 * 1024;
const UNLIMITED = 'unlimited';

export interface PolicyFlags {
  reset?: boolean;
  networks?: string;
  'workspace-root'?: string[];
  'clear-workspace-roots'?: boolean;
  'allow-nested-namespaces'?: boolean;
  'allow-custom-seccomp'?: boolean;
  'max-memory'?: string;
  'max-cpus'?: string;
  'max-pids'?: string;
  'max-disk'?: string;
  'max-sandboxes'?: string;
  'max-running'?: string;
  'max-total-memory'?: string;
  'max-total-pids'?: string;
}

function orUnlimited<T>(value: string | undefined, parse: (v: string) => T): T | null | undefined {
  if (value === undefined) return undefined;
  return value.trim().toLowerCase() === UNLIMITED ? null : parse(value);
}

/** A size flag in whole MiB: "512m", "2g"; `unlimited` for no cap. */
function mib(flag: string): (v: string) => number {
  return (v) => {
    const bytes = parseSize(v, flag);
    if (bytes % MiB !== 0) throw new BkgError('INVALID_ARGUMENT', `${flag}: "${v}" must be a whole number of MiB (examples: 512m, 2g; a bare number is bytes)`);
    return bytes / MiB;
  };
}

function count(flag: string, min = 0): (v: string) => number {
  return (v) => (min === 0 && v.trim() === '0' ? 0 : parsePositiveInt(v, flag, 1_000_000_000));
}

/** The PATCH body for `bkg policy set`: only the flags given. */
export function policyPatch(f: PolicyFlags): PolicyPatch {
  const patch: PolicyPatch = {};
  const put = <K extends keyof PolicyPatch>(k: K, v: PolicyPatch[K] | undefined): void => {
    if (v !== undefined) patch[k] = v;
  };
  if (f.reset) patch.reset = true;
  if (f.networks !== undefined) {
    const list = f.networks.split(',').map((n) => n.trim()).filter(Boolean);
    for (const n of list) {
      const problem = policyNetworkProblem(n);
      if (problem) throw new BkgError('INVALID_ARGUMENT', `--networks: ${problem}`, { details: { flag: '--networks' } });
    }
    patch.networks = list;
  }
  if (f['clear-workspace-roots']) patch.workspace_roots = [];
  if (f['workspace-root']?.length) patch.workspace_roots = f['workspace-root'];
  put('allow_nested_namespaces', f['allow-nested-namespaces']);
  put('allow_custom_seccomp', f['allow-custom-seccomp']);
  put('max_memory_mb', orUnlimited(f['max-memory'], mib('--max-memory')));
  put('max_cpus', orUnlimited(f['max-cpus'], (v) => parseCpus(v, '--max-cpus')));
  put('max_pids', orUnlimited(f['max-pids'], count('--max-pids', 1)));
  put('max_disk_mb', orUnlimited(f['max-disk'], mib('--max-disk')));
  put('max_sandboxes', orUnlimited(f['max-sandboxes'], count('--max-sandboxes')));
  put('max_running', orUnlimited(f['max-running'], count('--max-running')));
  put('max_total_memory_mb', orUnlimited(f['max-total-memory'], mib('--max-total-memory')));
  put('max_total_pids', orUnlimited(f['max-total-pids'], count('--max-total-pids')));
  if (Object.keys(patch).length === 0) throw new BkgError('INVALID_ARGUMENT', 'bkg policy set: name at least one setting to change (see `bkg policy set --help`)');
  return patch;
}

const size = (m: number | null): string => (m === null ? UNLIMITED : m > 0 && m % 1024 === 0 ? `${m / 1024} GiB` : `${m} MiB`);
const num = (n: number | null): string => (n === null ? UNLIMITED : String(n));
const yes = (b: boolean): string => (b ? 'allowed' : 'no');

/** One namespace's policy and what it uses, as label/value lines. */
export function renderPolicy(v: PolicyView, now = Date.now()): string {
  const p = v.policy;
  const rows: [string, string][] = [
    ['policy', v.default ? 'the defaults' : `its own, set ${ago(v.updated_at, now)} by ${v.updated_by ?? '?'}`],
    ['networks', p.networks.join(', ')],
    ['workspace roots', p.workspace_roots.length ? p.workspace_roots.join(', ') : '-'],
    ['nested namespaces', yes(p.allow_nested_namespaces)],
    ['custom seccomp', yes(p.allow_custom_seccomp)],
    ['per sandbox', `memory ${size(p.max_memory_mb)}, cpus ${num(p.max_cpus)}, pids ${num(p.max_pids)}, disk ${size(p.max_disk_mb)}`],
    ['sandboxes', `${v.usage.sandboxes} of ${num(p.max_sandboxes)}`],
    ['running', `${v.usage.running} of ${num(p.max_running)}`],
    ['running memory', `${size(v.usage.memory_mb)} of ${size(p.max_total_memory_mb)}`],
    ['running pids', `${v.usage.pids} of ${num(p.max_total_pids)}`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return `namespace ${v.namespace}\n${rows.map(([k, val]) => `  ${k.padEnd(width)}  ${val}`).join('\n')}\n`;
}

/** All namespaces, one line each. */
export function renderPolicies(views: readonly PolicyView[]): string {
  const rows = views.map((v) => [
    v.namespace, v.default ? 'default' : 'own', v.policy.networks.join(','), size(v.policy.max_memory_mb),
    `${v.usage.sandboxes}/${num(v.policy.max_sandboxes)}`, `${v.usage.running}/${num(v.policy.max_running)}`,
    `${size(v.usage.memory_mb)}/${size(v.policy.max_total_memory_mb)}`,
  ]);
  return renderTable(['NAMESPACE', 'POLICY', 'NETWORKS', 'MEMORY/SANDBOX', 'SANDBOXES', 'RUNNING', 'RUNNING MEMORY'], rows);
}
