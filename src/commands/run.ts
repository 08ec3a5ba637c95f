import { Args, Flags } from '@oclif/core';
import { BkgCommand } from '../cli/base-command.js';
import { createCliContext } from '../cli/context.js';
import { runSandboxCommand } from '../cli/run-sandbox.js';

export default class Run extends BkgCommand {
  static override summary = 'Run one command in a fresh sandbox.';
  static override description = `Starts a sandbox (new namespaces, read-only host /usr, copy-on-write /workspace, cgroup limits, seccomp),
runs CMD in it with output streamed live, and removes it. Exits with CMD's exit code, 128+N when CMD is
killed by signal N, ${124} on timeout and ${125} when the sandbox ran out of memory.`;

  static override examples = [
    '<%= config.bin %> run --rm -- echo hello',
    '<%= config.bin %> run --rm --runtime python --memory 256m --timeout 30s -- -c "print(6*7)"',
    '<%= config.bin %> run --rm --workspace . --apply -- sh -c "make > build.log"',
  ];

  static override strict = false;
  static override args = { cmd: Args.string({ description: 'Command and arguments (after --)', required: false, ignoreStdin: true }) };

  static override flags = {
    rm: Flags.boolean({ description: 'Remove the sandbox when the command ends (always the case for now).', default: true, allowNo: false }),
    runtime: Flags.string({ description: 'Interpreter template: shell, python or node; CMD becomes its arguments.' }),
    memory: Flags.string({ description: 'Memory limit, e.g. 256m (default 512m).' }),
    cpus: Flags.string({ description: 'CPU quota in cores, e.g. 0.5 (default: unlimited).' }),
    pids: Flags.string({ description: 'Maximum processes and threads (default 512).' }),
    disk: Flags.string({ description: 'Writable space for /workspace changes, /tmp and /dev/shm, e.g. 64m (default 1g).' }),
    timeout: Flags.string({ description: 'Wall-clock limit, e.g. 30s; every process of the sandbox is killed.' }),
    network: Flags.string({ description: 'none (loopback only) or host.', options: ['none', 'host'], default: 'none' }),
    workspace: Flags.string({ description: 'Host directory mounted copy-on-write at /workspace (never modified unless --apply).' }),
    apply: Flags.boolean({ description: 'Copy the workspace changes back to the host directory afterwards.', default: false }),
    env: Flags.string({ char: 'e', description: 'Environment variable K=V (repeatable).', multiple: true }),
    seccomp: Flags.string({ description: 'Seccomp profile (OCI JSON) instead of the default allowlist.' }),
    'allow-nested-namespaces': Flags.boolean({ description: 'Allow unshare/setns/clone with namespace flags inside.', default: false }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Run);
    const code = await runSandboxCommand(createCliContext(), { ...flags, cmd: argv as string[] });
    process.exitCode = code;
  }
}
