/**
 * What the daemon's parts say happened, as events of the stream, each with who may receive it:
 * sandbox, exec and usage events whoever can read the sandbox; audit rows and model events admins
 * only (Authorizer.mayReceive decides, per reader).
 */
import type { AccessRequest } from '../../api/schema/llm.js';
import type { ExecSummary, NetworkDenial } from '../../api/schema/sandboxes.js';
import type { ExecRef, SANDBOX_EVENT_TYPES, SandboxRef, UsageSample } from '../../api/schema/events.js';
import type { AuditEvent } from '../../store/audit.js';
import type { NamespaceRepo, Sandbox } from '../../store/repos/index.js';
import type { DownloadJob } from '../../store/types.js';
import type { EventScope } from '../auth/authorize.js';
import { eventView } from '../routes/admin.js';
import type { EventBus } from './bus.js';

export type SandboxEventType = (typeof SANDBOX_EVENT_TYPES)[number];

/** What the sandbox service reports (ServiceDeps.events). */
export interface SandboxEvents {
  sandbox(type: SandboxEventType, s: Sandbox, actor: string | null, opts?: { reason?: string; status?: string }): void;
  execStarted(s: Sandbox, exec: ExecRef): void;
  execFinished(s: Sandbox, exec: ExecRef, verdict: ExecSummary): void;
}

/** A usage sample with the sandbox it is about (for the rights check of each reader). */
export interface ScopedSample {
  sample: UsageSample;
  namespaceId: string;
}

/** The most of a command's arguments an event carries, in characters (the buffer holds thousands of events). */
export const EVENT_CMD_CAP = 8192;

/** The command as events show it: its arguments up to EVENT_CMD_CAP characters in all, the one that crosses it cut and ended with '…'. */
export function cappedCmd(cmd: readonly string[]): string[] {
  let left = EVENT_CMD_CAP;
  const out: string[] = [];
  for (const arg of cmd) {
    if (arg.length <= left) {
      out.push(arg);
      left -= arg.length;
      continue;
    }
    out.push(`${arg.slice(0, left)}…`);
    break;
  }
  return out;
}

const ADMIN_ONLY = (action: 'audit.read' | 'llm.manage', namespaceId: string | null = null): EventScope => ({ action, namespaceId, sandboxId: null });

export class EventPublisher implements SandboxEvents {
  constructor(private readonly bus: EventBus, private readonly namespaces: Pick<NamespaceRepo, 'get'>) {}

  /** The sandbox as events name it (its namespace by name). */
  ref(s: Sandbox, status: string = s.status): SandboxRef {
    return { id: s.id, name: s.name, namespace: this.namespaces.get(s.namespaceId)?.name ?? s.namespaceId, status };
  }

  sandbox(type: SandboxEventType, s: Sandbox, actor: string | null, opts: { reason?: string; status?: string } = {}): void {
    this.bus.publish({ type, sandbox: this.ref(s, opts.status), actor, ...(opts.reason === undefined ? {} : { reason: opts.reason }) }, sandboxScope(s));
  }

  execStarted(s: Sandbox, exec: ExecRef): void {
    this.bus.publish({ type: 'exec.started', sandbox: this.ref(s), exec: { ...exec, cmd: cappedCmd(exec.cmd) } }, sandboxScope(s));
  }

  execFinished(s: Sandbox, exec: ExecRef, verdict: ExecSummary): void {
    this.bus.publish({ type: 'exec.finished', sandbox: this.ref(s), exec: { ...exec, cmd: cappedCmd(exec.cmd), ...verdict } }, sandboxScope(s));
  }

  /** The sandbox's egress proxy refused a connection (src/daemon/egress.ts decides which refusals are told). */
  networkDenied(s: Sandbox, denial: NetworkDenial): void {
    this.bus.publish({ type: 'network.denied', sandbox: this.ref(s), denial }, sandboxScope(s));
  }

  /** One usage event for every running sandbox sampled (none: nothing is published). */
  usage(samples: readonly ScopedSample[], intervalMs: number): void {
    if (samples.length === 0) return;
    this.bus.publish(
      { type: 'usage', interval_ms: intervalMs, samples: samples.map((x) => x.sample) },
      { action: 'sandbox.read', namespaceId: null, sandboxId: null },
      samples.map((x) => ({ action: 'sandbox.read', namespaceId: x.namespaceId, sandboxId: x.sample.sandbox.id })),
    );
  }

  /** Every audit row appended (AuditLog.onAppend). */
  audit(e: AuditEvent): void {
    this.bus.publish({ type: 'audit', event: eventView(e) }, ADMIN_ONLY('audit.read', e.namespace));
  }

  /** A download job created, moved on (throttled by the registry), or finished. */
  modelJob(job: DownloadJob): void {
    this.bus.publish({ type: 'model.pull', job }, ADMIN_ONLY('llm.manage'));
  }

  /** A model-access request made, approved or denied. */
  accessRequest(r: AccessRequest): void {
    this.bus.publish({ type: 'model.access_request', request: r }, ADMIN_ONLY('llm.manage'));
  }
}

function sandboxScope(s: Sandbox): EventScope {
  return { action: 'sandbox.read', namespaceId: s.namespaceId, sandboxId: s.id };
}
