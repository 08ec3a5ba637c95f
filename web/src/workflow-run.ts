/**
 * Running a workflow graph: nodes in dependency order (a cycle is refused), each node's input the
 * outputs of the nodes with an edge into it (joined by newlines), each node's status reported as it
 * goes. The node kinds: run code in a sandbox (stdin: the input), prompt a model ({{input}} in the
 * prompt), read a file from a sandbox, write the input to a file in a sandbox.
 */
import { api, enc, raw } from './api';
import { complete, type ModelAuth } from './llm';

export type NodeKind = 'sandbox' | 'prompt' | 'read' | 'write';
export type NodeStatus = 'idle' | 'waiting' | 'running' | 'done' | 'error' | 'skipped';

export type StepData = {
  kind: NodeKind;
  /** sandbox, read, write: the sandbox (name or id). */
  sandbox?: string;
  /** sandbox: a shell script (sh -c). */
  script?: string;
  /** prompt: the model, and the prompt with {{input}}. */
  model?: string;
  prompt?: string;
  /** read, write: an absolute path inside the sandbox. */
  path?: string;
};

export interface GraphNode { id: string; data: StepData }
export interface GraphEdge { source: string; target: string }

export function order(nodes: GraphNode[], edges: GraphEdge[]): string[] {
  const indeg = new Map(nodes.map((n) => [n.id, 0]));
  for (const e of edges) if (indeg.has(e.target) && indeg.has(e.source)) indeg.set(e.target, (indeg.get(e.target) ?? 0) + 1);
  const ready = nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  const out: string[] = [];
  while (ready.length) {
    const id = ready.shift() as string;
    out.push(id);
    for (const e of edges) {
      if (e.source !== id || !indeg.has(e.target)) continue;
      const left = (indeg.get(e.target) ?? 0) - 1;
      indeg.set(e.target, left);
      if (left === 0) ready.push(e.target);
    }
  }
  if (out.length !== nodes.length) throw new Error('the graph has a cycle: a workflow must run each node once, in order');
  return out;
}

async function step(key: string, auth: ModelAuth | null, d: StepData, input: string, signal: AbortSignal): Promise<string> {
  switch (d.kind) {
    case 'sandbox': {
      if (!d.sandbox || !d.script) throw new Error('give the sandbox and the code to run');
      const r = await api<{ exit_code: number | null; stdout: string; stderr: string }>(key, 'POST', `/api/v1/sandboxes/${enc(d.sandbox)}/exec`, {
        cmd: ['/bin/sh', '-c', d.script],
        ...(input ? { stdin: input } : {}),
      });
      if (r.exit_code !== 0) throw new Error(`exit ${r.exit_code ?? 'signal'}: ${r.stderr.trim() || r.stdout.trim()}`);
      return r.stdout;
    }
    case 'prompt': {
      if (!auth) throw new Error('no model access: sign in with an admin key, or set a model-access key on the Chat page');
      if (!d.model) throw new Error('pick a model');
      const prompt = (d.prompt ?? '{{input}}').replaceAll('{{input}}', input.trim());
      return complete(auth, d.model, prompt, signal);
    }
    case 'read': {
      if (!d.sandbox || !d.path) throw new Error('give the sandbox and the path');
      const res = await raw(key, 'GET', `/api/v1/sandboxes/${enc(d.sandbox)}/files?path=${enc(d.path)}`, { signal });
      return res.text();
    }
    case 'write': {
      if (!d.sandbox || !d.path) throw new Error('give the sandbox and the path');
      await fetch(`/api/v1/sandboxes/${enc(d.sandbox)}/files?path=${enc(d.path)}`, {
        method: 'PUT', body: input, signal, credentials: 'omit',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      }).then(async (r) => {
        if (!r.ok) throw new Error(((await r.json().catch(() => null)) as { error?: { message: string } } | null)?.error?.message ?? `HTTP ${r.status}`);
      });
      return input;
    }
  }
}

/** Run the graph; `report` gets each node's status and output (or error) as they change. */
export async function runGraph(
  key: string, auth: ModelAuth | null, nodes: GraphNode[], edges: GraphEdge[], signal: AbortSignal,
  report: (id: string, status: NodeStatus, output?: string) => void,
): Promise<void> {
  const ids = order(nodes, edges);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const outputs = new Map<string, string>();
  const failed = new Set<string>();
  for (const id of ids) report(id, 'waiting');
  for (const id of ids) {
    const from = edges.filter((e) => e.target === id).map((e) => e.source);
    if (signal.aborted || from.some((f) => failed.has(f))) {
      failed.add(id);
      report(id, 'skipped');
      continue;
    }
    report(id, 'running');
    try {
      const out = await step(key, auth, (byId.get(id) as GraphNode).data, from.map((f) => outputs.get(f) ?? '').join('\n'), signal);
      outputs.set(id, out);
      report(id, 'done', out);
    } catch (err) {
      failed.add(id);
      report(id, 'error', err instanceof Error ? err.message : String(err));
    }
  }
}
