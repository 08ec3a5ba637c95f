/** The shell: sign-in, then the pages the key may use (from GET /api/v1/whoami), one live event feed. */
import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, errorText, type Whoami } from './api';
import { openEventFeed, type EventFeed } from './events';
import { go, useHashRoute } from './route';
import { SessionContext, storedKey, storeKey, type Session } from './session';
import { SignIn } from './pages/signin';
import { SandboxesPage } from './pages/sandboxes';
import { KeysPage } from './pages/keys';
import { AuditPage } from './pages/audit';
import { ChatPage } from './pages/chat';
import { ModelsPage } from './pages/models';
import { ChangesPage } from './pages/changes';
import { PeersPage } from './pages/peers';

const TerminalPage = lazy(() => import('./pages/terminal').then((m) => ({ default: m.TerminalPage })));
const WorkflowPage = lazy(() => import('./pages/workflow').then((m) => ({ default: m.WorkflowPage })));

interface PageDef {
  id: string;
  label: string;
  /** Shown when the key holds this action (null: always). */
  action: string | null;
}

const PAGES: PageDef[] = [
  { id: 'sandboxes', label: 'Sandboxes', action: 'sandbox.list' },
  { id: 'chat', label: 'Chat', action: null },
  { id: 'workflow', label: 'Workflow', action: 'sandbox.exec' },
  { id: 'models', label: 'Models', action: 'llm.manage' },
  { id: 'peers', label: 'Peers', action: 'peer.manage' },
  { id: 'keys', label: 'Keys', action: 'key.manage' },
  { id: 'audit', label: 'Audit', action: 'audit.read' },
];

export function App() {
  const [key, setKey] = useState<string | null>(storedKey);
  const [who, setWho] = useState<Whoami | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  // a key kept from before (a reload): ask who it is again
  useEffect(() => {
    if (key === null || who !== null) return;
    api<Whoami>(key, 'GET', '/api/v1/whoami').then(setWho, (err: unknown) => {
      storeKey(null);
      setKey(null);
      setProblem(errorText(err));
    });
  }, [key, who]);

  const signIn = useCallback((k: string, w: Whoami) => {
    storeKey(k);
    setProblem(null);
    setKey(k);
    setWho(w);
  }, []);
  const signOut = useCallback((why?: string) => {
    storeKey(null);
    setKey(null);
    setWho(null);
    setProblem(why ?? null);
    go('');
  }, []);

  if (key === null) return <SignIn onSignedIn={signIn} problem={problem} />;
  if (who === null) return <p className="loading" role="status">Signing in…</p>;
  return <Shell keyValue={key} who={who} signOut={signOut} />;
}

function Shell({ keyValue, who, signOut }: { keyValue: string; who: Whoami; signOut(why?: string): void }) {
  const [live, setLive] = useState(false);
  // one stream per signed-in key, opened and closed by the effect (never during render)
  const [feed, setFeed] = useState<EventFeed | null>(null);
  useEffect(() => {
    const f = openEventFeed(keyValue, setLive, (message) => signOut(`Signed out: ${message}`));
    setFeed(f);
    return () => f.close();
  }, [keyValue, signOut]);
  const session: Session | null = useMemo(() => (feed ? { key: keyValue, who, feed, can: (a: string) => who.actions.includes(a), signOut } : null), [keyValue, who, feed, signOut]);
  const route = useHashRoute();
  if (!session) return <p className="loading" role="status">Connecting…</p>;
  const pages = PAGES.filter((p) => p.action === null || session.can(p.action));
  const current = route[0] ?? pages[0]?.id ?? 'chat';

  let page: ReactNode;
  switch (current) {
    case 'sandboxes':
      page = <SandboxesPage />;
      break;
    case 'terminal':
      page = <TerminalPage sandbox={route[1] ?? ''} />;
      break;
    case 'changes':
      page = <ChangesPage sandbox={route[1] ?? ''} />;
      break;
    case 'peers':
      page = <PeersPage />;
      break;
    case 'keys':
      page = <KeysPage />;
      break;
    case 'audit':
      page = <AuditPage />;
      break;
    case 'models':
      page = <ModelsPage />;
      break;
    case 'workflow':
      page = <WorkflowPage />;
      break;
    default:
      page = <ChatPage />;
  }

  return (
    <SessionContext.Provider value={session}>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">bkg</span>
        <nav aria-label="Pages">
          {pages.map((p) => (
            <a key={p.id} href={`#/${p.id}`} aria-current={p.id === current ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <span className="who" title={`${who.kind} key ${who.id}`}>
          <span className={live ? 'dot live' : 'dot'} aria-label={live ? 'live' : 'offline'} role="img" />
          {who.name} <small>({who.kind}{who.namespace ? `: ${who.namespace}` : ''})</small>
        </span>
        <button type="button" className="quiet" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p role="status">Loading…</p>}>{page}</Suspense>
      </main>
    </SessionContext.Provider>
  );
}
