/**
 * A sandbox's per-sandbox state, built once: its definition (environment and key included), its
 * cgroup plan and its compiled seccomp program. A persistent sandbox's is kept from its start (or
 * its adoption after a daemon restart) to its stop, so an exec builds none of it again.
 */
import { BkgError } from '../api/errors.js';
import { planCgroups, type CgroupPlan } from './cgroups.js';
import type { SandboxDefinition } from './definition.js';
import type { HostInfo } from './host.js';
import type { SeccompPrograms } from './seccomp/programs.js';
import type { SeccompProfile } from './seccomp/profile.js';

export interface PreparedSandbox {
  def: SandboxDefinition;
  plan: CgroupPlan;
  /** The seccomp program every command of the sandbox runs under. */
  seccomp: Buffer;
}

/** Plan the cgroups (LIMIT_UNENFORCEABLE before anything starts) and compile the seccomp program (`seccomp`, or the definition's own). */
export async function prepareSandbox(def: SandboxDefinition, host: HostInfo, programs: SeccompPrograms, seccomp?: SeccompProfile): Promise<PreparedSandbox> {
  const plan = planCgroups(host.cgroups, def.id, def.limits);
  return { def, plan, seccomp: await programs.program(seccomp ?? def.seccomp, def.allowNestedNamespaces === true) };
}

/** Where a sandbox's definition comes from when there is no kept state for it (a sandbox started by an earlier daemon). */
export type DefinitionSource = (id: string) => SandboxDefinition | Promise<SandboxDefinition>;

/** The kept state of the persistent sandboxes of one engine, by sandbox id. */
export class PreparedSandboxes {
  /** Promises, so that concurrent execs into an adopted sandbox share one rebuild. */
  private readonly byId = new Map<string, Promise<PreparedSandbox>>();

  constructor(private readonly build: (def: SandboxDefinition) => Promise<PreparedSandbox>, private readonly definitionOf?: DefinitionSource) {}

  /** Build the state of a sandbox that starts, or is adopted, and keep it until `drop`. */
  keep(def: SandboxDefinition): Promise<PreparedSandbox> {
    return this.hold(def.id, this.build(def));
  }

  /** The kept state; without one, rebuilt (once, however many execs ask at the same time) from the definition source. */
  of(id: string): Promise<PreparedSandbox> {
    const kept = this.byId.get(id);
    if (kept) return kept;
    const source = this.definitionOf;
    if (!source) return Promise.reject(new BkgError('INTERNAL', `sandbox ${id} is running, but this engine neither started nor adopted it`));
    return this.hold(id, (async () => this.build(await source(id)))());
  }

  private hold(id: string, state: Promise<PreparedSandbox>): Promise<PreparedSandbox> {
    this.byId.set(id, state);
    // a failed build is not kept: the next `of` builds it again
    state.catch(() => {
      if (this.byId.get(id) === state) this.byId.delete(id);
    });
    return state;
  }

  drop(id: string): void {
    this.byId.delete(id);
  }
}
