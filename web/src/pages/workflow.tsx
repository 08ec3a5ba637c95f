/**
 * Workflow canvas (React Flow): nodes that run code in a sandbox, prompt a model, read or write a
 * file; an edge passes one node's output to the next. Run shows each node's status and output live.
 * A workflow saves to and loads from JSON (a file, and this browser's localStorage). Everything on
 * the canvas can also be done from the side panel with the keyboard (add, edit, connect).
 */
import { addEdge, applyEdgeChanges, applyNodeChanges, Background, Controls, Handle, Position, ReactFlow, type Edge, type EdgeChange, type Node, type NodeChange, type NodeProps } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { useCallback, useEffect, useMemo, useState, type ChangeEvent } from 'react';
import { listModels, modelAuth, type ModelAuth } from '../llm';
import { useSession } from '../session';
import { runGraph, type NodeKind, type NodeStatus, type StepData } from '../workflow-run';

type StepNode = Node<StepData & { status?: NodeStatus; output?: string }, 'step'>;

const SAVED = 'bkg.workflow';
const LABEL: Record<NodeKind, string> = { sandbox: 'Run code in a sandbox', prompt: 'Prompt a model', read: 'Read a file', write: 'Write a file' };

function StepView({ data, selected }: NodeProps<StepNode>) {
  const detail = data.kind === 'sandbox' ? `${data.sandbox ?? '?'}: ${data.script ?? ''}` : data.kind === 'prompt' ? `${data.model ?? '?'}: ${data.prompt ?? ''}` : `${data.sandbox ?? '?'}:${data.path ?? ''}`;
  return (
    <div className={`step ${data.status ?? 'idle'}${selected ? ' selected' : ''}`} data-kind={data.kind}>
      <Handle type="target" position={Position.Left} />
      <strong>{LABEL[data.kind]}</strong>
      <small className="detail">{detail}</small>
      <span className="state" data-testid="node-status">{data.status ?? 'idle'}</span>
      {data.output !== undefined && <pre className="out" data-testid="node-output">{data.output}</pre>}
      <Handle type="source" position={Position.Right} />
    </div>
  );
}
const NODE_TYPES = { step: StepView };

interface Saved { nodes: { id: string; position: { x: number; y: number }; data: StepData }[]; edges: { id: string; source: string; target: string }[] }

function toSaved(nodes: StepNode[], edges: Edge[]): Saved {
  return {
    nodes: nodes.map((n) => ({ id: n.id, position: n.position, data: { kind: n.data.kind, sandbox: n.data.sandbox, script: n.data.script, model: n.data.model, prompt: n.data.prompt, path: n.data.path } })),
    edges: edges.map((e) => ({ id: e.id, source: e.source, target: e.target })),
  };
}

function fromSaved(s: Saved): { nodes: StepNode[]; edges: Edge[] } {
  if (!Array.isArray(s.nodes) || !Array.isArray(s.edges)) throw new Error('not a workflow: nodes and edges are missing');
  return { nodes: s.nodes.map((n) => ({ id: n.id, type: 'step', position: n.position, data: n.data })), edges: s.edges.map((e) => ({ ...e })) };
}

export function WorkflowPage() {
  const { key, can } = useSession();
  const [nodes, setNodes] = useState<StepNode[]>(() => {
    try {
      return fromSaved(JSON.parse(localStorage.getItem(SAVED) ?? '') as Saved).nodes;
    } catch {
      return [];
    }
  });
  const [edges, setEdges] = useState<Edge[]>(() => {
    try {
      return fromSaved(JSON.parse(localStorage.getItem(SAVED) ?? '') as Saved).edges;
    } catch {
      return [];
    }
  });
  const [selected, setSelected] = useState<string | null>(null);
  const [running, setRunning] = useState<AbortController | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [models, setModels] = useState<string[]>([]);
  // an admin key, or the model-access key set on the Chat page
  const auth: ModelAuth | null = useMemo(() => modelAuth(can('llm.manage'), key), [can, key]);
  useEffect(() => {
    if (auth) listModels(auth).then(setModels, () => setModels([]));
  }, [auth]);

  const onNodesChange = useCallback((c: NodeChange<StepNode>[]) => setNodes((ns) => applyNodeChanges(c, ns)), []);
  const onEdgesChange = useCallback((c: EdgeChange[]) => setEdges((es) => applyEdgeChanges(c, es)), []);
  const connect = useCallback((source: string, target: string) => {
    if (source === target) return;
    setEdges((es) => addEdge({ id: `e-${source}-${target}`, source, target }, es));
  }, []);

  const add = (kind: NodeKind): void => {
    const id = `n${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
    const base: StepData = kind === 'prompt' ? { kind, model: models[0] ?? '', prompt: '{{input}}' } : kind === 'sandbox' ? { kind, sandbox: '', script: 'echo hi' } : { kind, sandbox: '', path: '/workspace/out.txt' };
    setNodes((ns) => [...ns, { id, type: 'step', position: { x: 40 + ns.length * 260, y: 80 + (ns.length % 2) * 60 }, data: base }]);
    setSelected(id);
  };
  const edit = (id: string, patch: Partial<StepData>): void => setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...patch } } : n)));
  const report = (id: string, status: NodeStatus, output?: string): void =>
    setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, status, ...(output !== undefined ? { output } : status === 'waiting' ? { output: undefined } : {}) } } : n)));

  const run = async (): Promise<void> => {
    const ac = new AbortController();
    setRunning(ac);
    setMessage(null);
    try {
      await runGraph(key, auth, nodes.map((n) => ({ id: n.id, data: n.data })), edges, ac.signal, report);
      setMessage('finished');
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    } finally {
      setRunning(null);
    }
  };

  const save = (): void => {
    const json = JSON.stringify(toSaved(nodes, edges), null, 2);
    localStorage.setItem(SAVED, json);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
    a.download = 'workflow.json';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    setMessage('saved (workflow.json, and in this browser)');
  };
  const load = async (e: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const file = e.target.files?.[0];
    if (!file) return;
    try {
      const g = fromSaved(JSON.parse(await file.text()) as Saved);
      setNodes(g.nodes);
      setEdges(g.edges);
      setMessage(`loaded ${file.name}`);
    } catch (err) {
      setMessage(`could not load ${file.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    e.target.value = '';
  };

  const sel = nodes.find((n) => n.id === selected) ?? null;
  const name = (n: StepNode): string => `${LABEL[n.data.kind]} (${n.id.slice(-4)})`;
  return (
    <section aria-labelledby="wf-title" className="workflow">
      <div className="inline toolbar">
        <h1 id="wf-title">Workflow</h1>
        {(['sandbox', 'prompt', 'read', 'write'] as NodeKind[]).map((k) => (
          <button key={k} type="button" className="quiet" onClick={() => add(k)}>+ {LABEL[k]}</button>
        ))}
        {running ? <button type="button" className="danger" onClick={() => running.abort()}>Stop</button> : <button type="button" onClick={() => void run()} disabled={nodes.length === 0}>Run</button>}
        <button type="button" className="quiet" onClick={save}>Save JSON</button>
        <label className="file-button">Load JSON <input type="file" accept="application/json,.json" onChange={(e) => void load(e)} /></label>
        <button type="button" className="quiet" onClick={() => { setNodes([]); setEdges([]); setSelected(null); }}>Clear</button>
        {message && <span role="status" className="muted" data-testid="wf-message">{message}</span>}
      </div>
      <div className="wf-body">
        <div className="canvas" aria-label="Workflow canvas">
          <ReactFlow nodes={nodes} edges={edges} nodeTypes={NODE_TYPES} onNodesChange={onNodesChange} onEdgesChange={onEdgesChange}
            onConnect={(c) => connect(c.source, c.target)} onNodeClick={(_, n) => setSelected(n.id)} fitView fitViewOptions={{ maxZoom: 1 }} defaultViewport={{ x: 0, y: 0, zoom: 0.9 }} proOptions={{ hideAttribution: true }}>
            <Background />
            <Controls />
          </ReactFlow>
        </div>
        <aside className="panel" aria-label="Node editor">
          <label>
            Node{' '}
            <select name="wf-node" value={selected ?? ''} onChange={(e) => setSelected(e.target.value || null)}>
              <option value="">—</option>
              {nodes.map((n) => <option key={n.id} value={n.id}>{name(n)}</option>)}
            </select>
          </label>
          {sel && (
            <>
              {sel.data.kind !== 'prompt' && <label>Sandbox <input name="wf-sandbox" value={sel.data.sandbox ?? ''} onChange={(e) => edit(sel.id, { sandbox: e.target.value })} /></label>}
              {sel.data.kind === 'sandbox' && <label>Code (sh -c; stdin: the input) <textarea name="wf-script" rows={3} value={sel.data.script ?? ''} onChange={(e) => edit(sel.id, { script: e.target.value })} /></label>}
              {sel.data.kind === 'prompt' && (
                <>
                  <label>Model <select name="wf-model" value={sel.data.model ?? ''} onChange={(e) => edit(sel.id, { model: e.target.value })}>{models.map((m) => <option key={m}>{m}</option>)}</select></label>
                  <label>Prompt ({'{{input}}'}: the input) <textarea name="wf-prompt" rows={3} value={sel.data.prompt ?? ''} onChange={(e) => edit(sel.id, { prompt: e.target.value })} /></label>
                </>
              )}
              {(sel.data.kind === 'read' || sel.data.kind === 'write') && <label>Path <input name="wf-path" value={sel.data.path ?? ''} onChange={(e) => edit(sel.id, { path: e.target.value })} /></label>}
              <label>
                Pass output to{' '}
                <select name="wf-connect" value="" onChange={(e) => e.target.value && connect(sel.id, e.target.value)}>
                  <option value="">—</option>
                  {nodes.filter((n) => n.id !== sel.id).map((n) => <option key={n.id} value={n.id}>{name(n)}</option>)}
                </select>
              </label>
              <button type="button" className="danger" onClick={() => { setNodes((ns) => ns.filter((n) => n.id !== sel.id)); setEdges((es) => es.filter((x) => x.source !== sel.id && x.target !== sel.id)); setSelected(null); }}>Remove node</button>
            </>
          )}
          <p className="muted">{edges.length} connections. Drag from a node's right handle to another's left, or use “Pass output to”.</p>
        </aside>
      </div>
    </section>
  );
}
