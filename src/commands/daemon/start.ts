import { resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { DaemonCommand } from '../../cli/daemon-command.js';
import { renderDaemonInfo } from '../../cli/format.js';

export default class DaemonStart extends DaemonCommand {
  static override summary = 'Start the bkg daemon (the REST API on $BKG_HOME/bkg.sock and 127.0.0.1:$BKG_PORT).';
  static override description = `Without --foreground the daemon is started in the background unless one already answers, and its output
appended to $BKG_HOME/logs/daemon.out. Other commands start it the same way when needed.
With --foreground it runs in this process until SIGINT/SIGTERM or \`bkg daemon stop\`.`;

  static override examples = [
    '<%= config.bin %> daemon start',
    '<%= config.bin %> daemon start --foreground',
    '<%= config.bin %> daemon start --sync postgres://bkg_daemon:PASSWORD@db.internal/bkg --peer-port 7443 --tls-cert /etc/bkg/host1.crt --tls-key /etc/bkg/host1.key --tls-ca /etc/bkg/ca.crt',
  ];

  static override flags = {
    foreground: Flags.boolean({ description: 'Run in this process (logs: $BKG_HOME/logs/daemon.log).', default: false }),
    sync: Flags.string({ description: 'Join a fleet: the fleet database (postgres://...; or BKG_DATABASE_URL). See README "Running a fleet".' }),
    'sync-max-staleness': Flags.string({ description: 'Refuse keys made on other hosts after this long without a sync (default 60s; BKG_SYNC_MAX_STALENESS).' }),
    'host-name': Flags.string({ description: 'This host\'s name in the fleet (default: the hostname; BKG_HOST_NAME).' }),
    'peer-port': Flags.string({ description: 'Port of the mutual-TLS listener other hosts forward requests to (BKG_PEER_PORT).' }),
    'peer-address': Flags.string({ description: 'Address other hosts reach the peer listener at (default 127.0.0.1; BKG_PEER_ADDRESS).' }),
    'tls-cert': Flags.string({ description: 'This host\'s certificate, from `bkg ca issue` (BKG_TLS_CERT).' }),
    'tls-key': Flags.string({ description: 'Its private key (BKG_TLS_KEY).' }),
    'tls-ca': Flags.string({ description: 'The fleet CA certificate, from `bkg ca init` (BKG_TLS_CA).' }),
    p2p: Flags.boolean({ description: 'Run this host\'s P2P node (admin hosts: model replication between trusted peers; BKG_P2P=1). See README "P2P plugin".' }),
    'p2p-listen': Flags.string({ description: 'Where the P2P node listens (comma-separated multiaddrs; default /ip4/0.0.0.0/tcp/7421; BKG_P2P_LISTEN).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(DaemonStart);
    const env = { ...process.env, ...fleetEnv(flags), ...(flags.p2p ? { BKG_P2P: '1' } : {}), ...(flags['p2p-listen'] ? { BKG_P2P_LISTEN: flags['p2p-listen'] } : {}) };
    if (flags.foreground) return this.foreground(flags.json, env);
    const { started, info } = await this.withClient(async (c) => {
      const r = await c.ensureDaemon();
      return { started: r.started, info: await c.daemonInfo() };
    }, { onDaemonStarted: () => {}, env });
    this.output(flags.json, { started, ...info }, () => {
      process.stdout.write(`${started ? 'Started' : 'Already running'}: ${renderDaemonInfo(info)}\n`);
    });
  }

  private async foreground(json: boolean, env: NodeJS.ProcessEnv): Promise<void> {
    const { loadDaemonConfig } = await import('../../daemon/config.js');
    const { startDaemon } = await import('../../daemon/main.js');
    const config = loadDaemonConfig(env);
    const daemon: { close(): Promise<void>; closed?: Promise<void>; info?: unknown } = await startDaemon({ config });
    let stopping = false;
    const stopped = new Promise<void>((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) {
          process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
        }
        stopping = true;
        daemon.close().then(resolve, (err: unknown) => {
          process.stderr.write(`bkg: daemon did not close cleanly: ${err instanceof Error ? err.message : String(err)}\n`);
          process.exitCode = 1;
          resolve();
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    const info = daemon.info ?? { pid: process.pid, home: config.home, socket: config.socketPath, port: config.port || null };
    this.output(json, info, () => {
      process.stdout.write(`bkg daemon ${process.pid} listening on unix://${config.socketPath}${config.port ? ` and http://${config.host}:${config.port}` : ''}\n`);
    });
    // Until a signal, or `bkg daemon stop` (the daemon resolves `closed`); without `closed`, the process ends when its servers close.
    await Promise.race([stopped, ...(daemon.closed ? [daemon.closed] : [])]);
  }
}

/** The fleet flags as the environment variables the daemon reads (a background start passes them on). */
function fleetEnv(flags: Record<string, unknown>): Record<string, string> {
  const names: Record<string, string> = {
    sync: 'BKG_DATABASE_URL', 'sync-max-staleness': 'BKG_SYNC_MAX_STALENESS', 'host-name': 'BKG_HOST_NAME', 'peer-port': 'BKG_PEER_PORT',
    'peer-address': 'BKG_PEER_ADDRESS', 'tls-cert': 'BKG_TLS_CERT', 'tls-key': 'BKG_TLS_KEY', 'tls-ca': 'BKG_TLS_CA',
  };
  const value = (flag: string): string => (flag.startsWith('tls-') ? resolve(flags[flag] as string) : (flags[flag] as string)); // files: absolute for the daemon
  return Object.fromEntries(Object.entries(names).filter(([flag]) => typeof flags[flag] === 'string').map(([flag, variable]) => [variable, value(flag)]));
}
