/**
 * The daemon's composition root: builds {config, log, store, runtime, ...} once and passes them down.
 * Sandboxes outlive the daemon (their helpers run detached); a restart re-adopts them.
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { ApiKeyStore } from './auth/api-keys.js';
import { createAuthenticator } from './auth/authenticate.js';
import { loadMasterKey } from './auth/master-key.js';
import { parseRateLimitsEnv, RateLimiter, type RateLimitOverrides } from './auth/rate-limit.js';
import type { DaemonConfig } from './config.js';
import { createDaemonMetrics } from './metrics.js';
import { EgressReport } from './egress-report.js';
import { attachExecWebSocket } from './exec-ws.js';
import { createHttpServer, type DaemonHttpServer } from './http/server.js';
import { Router } from './http/router.js';
import { createUiHandler } from './http/static-ui.js';
import { Registry } from './prometheus.js';
import type { DaemonInfo } from '../api/admin.js';
import { parseSize } from '../api/units.js';
import { adminRoutes } from './routes/admin.js';
import { sandboxRoutes } from './routes/sandboxes.js';
import { mcpRoutes } from './mcp/http.js';
import { llmRoutes } from './routes/llm.js';
import { llmModelRoutes } from './routes/llm-models.js';
import { loadSigningKey, ModelAccess } from '../llm/access.js';
import { ModelRegistry } from '../llm/registry/index.js';
import type { InferenceEngine } from '../llm/types.js';
import { SandboxEngine } from '../runtime/engine.js';
import { SandboxDefinitions } from './sandbox/definition.js';
import { SandboxService } from './sandbox/service.js';
import type { Principal } from './auth/api-keys.js';
import { detectHost, packageRoot } from '../runtime/host.js';
import { openStore } from '../store/index.js';
import { Authorizer } from './auth/authorize.js';
import { Quotas } from './auth/quotas.js';
import type { Action } from './auth/rights.js';
import { policyRoutes } from './routes/policies.js';
import { secretRoutes } from './routes/secrets.js';
import { snapshotRoutes } from './routes/snapshots.js';
import { loadSealingKey } from './secrets/keypair.js';
import { SecretVault } from './secrets/vault.js';
import { buildOpenApi } from '../api/openapi.js';
import { assertServesContract } from './http/contract.js';
import { existsSync } from 'node:fs';
import { createFleet } from './fleet/index.js';
import type { FleetDirectory } from './fleet/directory.js';
import { createPeering } from './fleet/peering.js';
import { createP2p } from './p2p/index.js';
import { DaemonEvents } from './events/index.js';
import { eventRoutes, eventsUpgrade } from './events/route.js';
import { createTelemetry } from './telemetry/index.js';

export interface RunningDaemon {
  info: DaemonInfo;
  /** Resolves when the daemon was asked to stop (API or signal) and has closed. */
  closed: Promise<void>;
  close(): Promise<void>;
}

const EXPIRY_INTERVAL_MS = 1000;

/** `fleet.directory`: the fleet's hosts instead of the fleet database's registry (tests: two daemons without Postgres). */
export async function startDaemon(opts: { config: DaemonConfig; fleet?: { directory: FleetDirectory } }): Promise<RunningDaemon> {
  const { config } = opts;
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  mkdirSync(config.logDir, { recursive: true, mode: 0o700 });
  const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  // traces: nothing at all unless OTEL_EXPORTER_OTLP_ENDPOINT is set; log lines then carry the current trace and span ids
  const telemetry = await createTelemetry(config.otel, { version, hostName: config.hostName });
  const log = pino(
    { name: 'bkgd', level: process.env.BKG_LOG_LEVEL ?? 'info', ...(telemetry.enabled ? { mixin: () => telemetry.logFields() } : {}) },
    pino.destination({ dest: join(config.logDir, 'daemon.log'), sync: false, mkdir: true }),
  );

  const store = openStore(join(config.home, 'bkg.db'));
  // before anything writes: in a fleet, every change to a shared table from now on reaches the outbox
  const fleet = createFleet({
    config, store, log, version,
    load: () => ({ running: store.sandboxes.list(null, { status: 'running' }).length }),
    onApplied: (tables) => log.debug({ tables: [...tables] }, 'fleet sync: applied changes from other hosts'),
  });
  const master = loadMasterKey({ keyFile: join(config.home, 'master.key') });
  const keys = new ApiKeyStore(store, master.key);
  const audit = store.audit;
  // the rate_limits table, then BKG_RATE_LIMITS on top
  const overrides: RateLimitOverrides = {
    ...Object.fromEntries(store.rateLimits.list().map((p) => [p.role, { ratePerSec: p.ratePerSec, burst: p.burst }])),
    ...parseRateLimitsEnv(process.env.BKG_RATE_LIMITS),
  };
  const limiter = new RateLimiter(overrides);
  const host = detectHost({ prepareCgroups: true });
  const { sandboxes, namespaces, executions } = store;
  const registry = new Registry();
  const sandboxSocket = join(config.home, 'sandbox.sock');
  // one engine for throwaway (model verification) and persistent sandboxes; it rebuilds a definition only for a sandbox it neither started nor adopted
  // secrets: sealed by clients to this host's key, stored under the master key, decrypted only into a starting sandbox's definition
  const secrets = new SecretVault({ repo: store.secrets, namespaces, masterKey: master.key, sealing: loadSealingKey(join(config.home, 'secrets.key')) });
  const execSocketDir = join(config.home, 'run');
  mkdirSync(execSocketDir, { recursive: true, mode: 0o700 });
  const definitions = new SandboxDefinitions({ keys, sandboxes, sandboxSocket, execSocketDir, secrets });
  // sandboxes with an egress allowlist: their proxies run here; refusals go to the logs, the audit log and the event stream (published once it exists)
  const egressReport = new EgressReport({ log, audit, sandboxes: store.sandboxes, registry, publish: (s, d) => events.publish.networkDenied(s, d) });
  const sandboxEngine = new SandboxEngine({ host, log, definitionOf: (id) => definitions.byId(id), egress: { observers: egressReport.observers }, tracing: telemetry.tracing, launcherSocket: join(execSocketDir, 'launcher.sock') });
  const policies = store.policies;
  // the one authorisation function of every door (router, WebSocket, service: REST, MCP)
  const authz = new Authorizer({ audit, namespaces, policies, peers: store.peers });
  const quotas = new Quotas({ sandboxes, authz });
  // the live event stream (GET /api/v1/events): every part reports to its publisher; every audit row is an event too
  const events = new DaemonEvents({ config: config.events, authz, keys, sandboxes, namespaces, cgroups: host.cgroups, log });
  audit.onAppend((e) => events.publish.audit(e));
  // forwarding to the host that runs a sandbox (mutual TLS), and the peer listener other hosts forward to
  const peering = createPeering({ config, directory: opts.fleet?.directory ?? fleet.directory, log });
  const svc = new SandboxService({
    remote: peering.remote,
    log, host, engine: sandboxEngine, definitions, sandboxes, namespaces, projects: store.projects, executions, transaction: store.transaction, keys, audit, authz, quotas, secrets,
    metrics: createDaemonMetrics(registry, sandboxes), stateDir: join(config.home, 'sandboxes'), events: events.publish,
    snapshots: store.snapshots, snapshotDir: join(config.home, 'snapshots'), tracing: telemetry.tracing,
  });

  let stop: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const info: DaemonInfo = {
    pid: process.pid, version, home: config.home, socket: config.socketPath, port: null, started_at: new Date().toISOString(),
    host: { id: store.hostId, name: config.hostName, peer_url: fleet.peerUrl }, sync: { enabled: false },
  };
  // routes as data (src/api/routes.ts): the router authorises, validates and audits what they declare
  const router = new Router<Principal, Action>({
    audit: (a) => audit.append({ actor: a.principal?.id ?? 'anonymous', namespace: a.namespace, action: a.action, target: a.target, outcome: a.outcome, ...(a.details ? { details: a.details } : {}) }),
  });
  sandboxRoutes(router, svc, { fleet, authz, sandboxes });
  policyRoutes(router, { authz, policies, namespaces, sandboxes });
  secretRoutes(router, { vault: secrets, authz, namespaces });
  snapshotRoutes(router, svc);
  const cacheMax = process.env.BKG_MODEL_CACHE_MAX;
  const models = new ModelRegistry({
    store, home: config.home, runtime: sandboxEngine, log, onJob: (job) => events.publish.modelJob(job),
    ...(cacheMax === undefined ? {} : { capBytes: parseSize(cacheMax, 'BKG_MODEL_CACHE_MAX') }),
  });
  llmModelRoutes(router, models);
  // the P2P plugin (README "P2P plugin"): its routes always; its libp2p node only with BKG_P2P=1
  let engine: Promise<InferenceEngine> | null = null;
  // node-llama-cpp loads on the first inference, not at start
  const llmEngine = (): Promise<InferenceEngine> => (engine ??= import('../llm/engine-llama.js').then((m) => new m.LlamaEngine({ log, gpu: config.llmGpu === 'off' ? false : config.llmGpu })));
  const p2p = await createP2p({ config, store, masterKey: master.key, registry: models, engine: llmEngine, authz, router, log, tracing: telemetry.tracing });
  llmRoutes(router, {
    access: new ModelAccess(store.llmAccess, await loadSigningKey(join(config.home, 'llm-signing.key'))),
    models,
    engine: llmEngine,
    // chats for models only a trusted peer holds are routed there (P2P plugin)
    remote: p2p.routing,
    audit,
    authz,
    events: events.publish,
    tracing: telemetry.tracing,
  });
  eventRoutes(router, events);
  const mcp = mcpRoutes(router, svc, registry, version, telemetry.tracing);
  let openapi: Record<string, unknown> | null = null;
  adminRoutes(router, {
    keys, namespaces, audit, metrics: registry, info: () => ({ ...info, sync: fleet.status() }), shutdown: () => stop(),
    health: () => [...(existsSync(host.helperPath) ? [] : [`sandbox helper missing at ${host.helperPath}`]), ...fleet.problems()],
    openapi: () => (openapi ??= buildOpenApi(version)),
    fleetDb: () => fleet.db(),
    telemetry,
  });
  assertServesContract(router);

  const reconciled = svc.reconcile();
  log.info(reconciled, 'reconciled sandboxes with the database');

  const gate = config.sync ? { sync: { selfId: store.hostId, stale: () => fleet.stale() } } : {};
  const authMain = createAuthenticator(keys, limiter, { trustUnix: true, ...gate });
  const authSandbox = createAuthenticator(keys, limiter, { trustUnix: false, ...gate });
  const authorize = (p: Principal, action: Action, route: string): void => authz.require(p, action, route);
  // the web UI (dist/web, built from web/) at /ui/ on the TCP listener
  const ui = createUiHandler(join(packageRoot(), 'dist', 'web'));
  const main: DaemonHttpServer = createHttpServer({ router, log, authenticate: authMain, authorize, metrics: registry, maxBodyBytes: config.maxBodyBytes, telemetry, ui });
  const forSandboxes: DaemonHttpServer = createHttpServer({ router, log, authenticate: authSandbox, authorize, metrics: new Registry(), maxBodyBytes: config.maxBodyBytes, telemetry });
  const peer = peering.listener({ router, log, authz, metrics: new Registry(), maxBodyBytes: config.maxBodyBytes, keys, limiter });
  const eventsWs = eventsUpgrade(events);
  const wss = attachExecWebSocket(
    [
      { server: main.unix, transport: 'unix', authenticate: authMain },
      { server: main.tcp, transport: 'tcp', authenticate: authMain },
      { server: forSandboxes.unix, transport: 'unix', authenticate: authSandbox },
      ...(peer ? [{ server: peer.http.tcp, transport: 'peer' as const, authenticate: peer.authenticate }] : []),
    ],
    svc,
    authorize,
    log,
    peering.proxy(svc),
    [eventsWs],
  );
  const bound = await main.listen({ socketPath: config.socketPath, port: config.port, host: config.host });
  info.port = bound.port ?? null;
  await forSandboxes.listen({ socketPath: sandboxSocket, port: 0, host: config.host });
  if (peer) await peer.listen();
  chmodSync(sandboxSocket, 0o666); // sandboxes connect as their own uid; every request there needs a key

  let expiring = false;
  const timer = setInterval(() => {
    if (expiring) return;
    expiring = true;
    svc.expire().then(
      (ids) => ids.length && log.info({ ids }, 'stopped expired sandboxes'),
      (err: unknown) => log.error({ err }, 'expiry failed'),
    ).finally(() => {
      expiring = false;
    });
  }, EXPIRY_INTERVAL_MS);
  timer.unref();
  fleet.start();
  log.info({ socket: config.socketPath, port: info.port, version, host: store.hostId, sync: config.sync !== null }, 'daemon listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(timer);
      await events.close(); // readers get stream.end first
      await sandboxEngine.close(); // running sandboxes' helpers keep their egress sockets for the next daemon
      eventsWs.close();
      await mcp.close();
      await p2p.close();
      await models.close();
      if (engine) await (await engine).close();
      for (const client of wss.clients) client.terminate();
      wss.close();
      await Promise.allSettled([main.close(), forSandboxes.close(), peer?.close()]);
      peering.close();
      await fleet.close();
      await telemetry.shutdown().catch((err: unknown) => log.warn({ err }, 'could not export the last traces'));
      store.close();
      log.info('daemon stopped');
      log.flush();
      stop();
    })();
    return closing;
  };
  void closed.then(() => close());
  return { info, closed: closed.then(() => closing ?? undefined), close };
}
