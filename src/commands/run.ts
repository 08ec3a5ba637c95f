import { Args, Flags } from '@oclif/core';
import { DaemonCommand } from '../cli/daemon-command.js';
import { EXIT_OOM, EXIT_TIMEOUT } from '../cli/exit-codes.js';
import { runFromArgs } from '../cli/run-command.js';

export { nameBeforeDashes } from '../cli/run-command.js';

export default class Run extends DaemonCommand {
  static override summary = 'Run the project\'s sandboxes (cave.yaml), or one command in a fresh sandbox (--rm).';
  static override description = `bkg run [NAME] [-- CMD]: with cave.yaml (or a NAME), creates and starts the project's sandboxes through
the daemon (or only NAME) and, given CMD, runs it there (as \`bkg exec\`).

bkg run --rm [flags] -- CMD, or without cave.yaml: starts a throwaway sandbox (new namespaces, read-only
host /usr, a writable /workspace as CMD's working directory, cgroup limits, seccomp), runs CMD with output streamed live, and
removes it. Exits with CMD's exit code, 128+N when CMD is killed by signal N, ${EXIT_TIMEOUT} on timeout and
${EXIT_OOM} when the sandbox ran out of memory.`;

  static override examples = [
    '<%= config.bin %> run',
    '<%= config.bin %> run web -- python3 manage.py test',
    '<%= config.bin %> run --rm -- echo hello',
    '<%= config.bin %> run --from web:before-upgrade web-2 -- make test',
    '<%= config.bin %> run --rm --runtime python --memory 256m --timeout 30s -- -c "print(6*7)"',
    '<%= config.bin %> run --rm --workspace . --apply -- sh -c "make > build.log"',
  ];

  static override strict = false;
  static override args = { cmd: Args.string({ description: 'Command and arguments (after --)', required: false, ignoreStdin: true }) };

  static override flags = {
    from: Flags.string({ description: 'Start a new daemon sandbox NAME from a snapshot (its id or SANDBOX:TAG; see bkg snapshot), then run CMD in it.' }),
    rm: Flags.boolean({ description: 'A throwaway sandbox for CMD, removed when it ends (the default without cave.yaml).', default: false }),
    file: Flags.string({ description: 'The project file.', default: 'cave.yaml' }),
    runtime: Flags.string({ description: 'Interpreter template: shell, python or node; CMD becomes its arguments.' }),
    memory: Flags.string({ description: 'Memory limit, e.g. 256m (default 512m).' }),
    cpus: Flags.string({ description: 'CPU quota in cores, e.g. 0.5 (default: unlimited).' }),
    pids: Flags.string({ description: 'Maximum processes and threads (default 512).' }),
    disk: Flags.string({ description: 'Writable space for /workspace changes, /tmp and /dev/shm, e.g. 64m (default 1g).' }),
    timeout: Flags.string({ description: 'Wall-clock limit, e.g. 30s; every process of the sandbox is killed.' }),
    network: Flags.string({ description: 'none (loopback only; the default), host, or allow:HOST[:PORT],… (only those hosts, through bkg\'s egress proxy: *.DOMAIN, IP and CIDR entries too; no port: 80 and 443).' }),
    workspace: Flags.string({ description: 'Host directory mounted copy-on-write at /workspace (never modified unless --apply).' }),
    apply: Flags.boolean({ description: 'Copy the workspace changes back to the host directory afterwards.', default: false }),
    env: Flags.string({ char: 'e', description: 'Environment variable K=V (repeatable).', multiple: true }),
    secret: Flags.string({ description: 'Refused here: a throwaway sandbox runs without the daemon that holds secrets (use `bkg add NAME --secret S`, then `bkg run NAME`).', multiple: true }),
    seccomp: Flags.string({ description: 'Seccomp profile (OCI JSON) instead of the default allowlist.' }),
    'allow-nested-namespaces': Flags.boolean({ description: 'Allow unshare/setns/clone with namespace flags inside.', default: false }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Run);
    process.exitCode = await runFromArgs({ flags, argv: argv as string[], raw: this.argv });
  }
}
