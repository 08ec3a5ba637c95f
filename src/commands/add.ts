import { Args, Flags } from '@oclif/core';
import { CAVE_FILE, loadCaveConfig, saveCaveConfig } from '../api/cave-config.js';
import { BkgError } from '../api/errors.js';
import { PLACEMENTS, RUNTIMES } from '../api/names.js';
import { BkgCommand } from '../cli/base-command.js';
import { sandboxFromFlags } from '../cli/sandbox-request.js';

export default class Add extends BkgCommand {
  static override summary = 'Add a sandbox to cave.yaml.';
  static override description = 'Sizes and durations are converted to the API\'s units (memory_mb, timeout_s, ...); the workspace is stored relative to cave.yaml. Nothing is created until `bkg run`.';
  static override examples = [
    '<%= config.bin %> add web --runtime python --memory 256m --timeout 1h',
    '<%= config.bin %> add build --workspace . --cpus 2 --env CI=1',
    '<%= config.bin %> add deploy --secret DEPLOY_TOKEN --secret DB_PASSWORD=PGPASSWORD --secret TLS_KEY:file',
  ];

  static override args = { name: Args.string({ description: 'Sandbox name (letters, digits, _ . -).', required: true }) };

  static override flags = {
    runtime: Flags.string({ description: 'Interpreter template.', options: [...RUNTIMES] }),
    memory: Flags.string({ description: 'Memory limit, e.g. 256m (whole MiB).' }),
    cpus: Flags.string({ description: 'CPU quota in cores, e.g. 0.5.' }),
    pids: Flags.string({ description: 'Maximum processes and threads.' }),
    disk: Flags.string({ description: 'Writable space, e.g. 1g (whole MiB).' }),
    timeout: Flags.string({ description: 'Stop the sandbox this long after it starts, e.g. 1h (whole seconds).' }),
    'idle-timeout': Flags.string({ description: 'Stop it after this long without an exec, e.g. 10m (whole seconds).' }),
    network: Flags.string({ description: 'none (loopback only), host, or allow:HOST[:PORT],… (only those hosts, through bkg\'s egress proxy).' }),
    env: Flags.string({ char: 'e', description: 'Environment variable K=V (repeatable).', multiple: true }),
    secret: Flags.string({ description: 'A secret of the namespace (`bkg secret set`), given when it starts: NAME (the variable NAME), NAME=ENV (the variable ENV) or NAME:file (the file /run/secrets/NAME). Repeatable.', multiple: true }),
    workspace: Flags.string({ description: 'Host directory mounted copy-on-write at /workspace.' }),
    seccomp: Flags.string({ description: 'An OCI seccomp profile file instead of the default allowlist (a privilege; stored relative to cave.yaml).' }),
    'allow-nested-namespaces': Flags.boolean({ description: 'Allow unshare/setns/clone with namespace flags inside (a privilege).' }),
    placement: Flags.string({ description: 'In a fleet: local (the host asked) or auto (the live host running the fewest sandboxes).', options: [...PLACEMENTS] }),
    file: Flags.string({ description: 'The cave.yaml to edit.', default: CAVE_FILE }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Add);
    const config = await loadCaveConfig(flags.file);
    if (config.sandboxes.some((s) => s.name === args.name)) {
      throw new BkgError('CONFLICT', `sandbox "${args.name}" is already in ${flags.file}`, { hint: `Pick another name, or edit ${flags.file}.` });
    }
    const sandbox = await sandboxFromFlags(args.name, flags);
    await saveCaveConfig(config.path, { ...config, sandboxes: [...config.sandboxes, sandbox] });
    this.output(flags.json, { path: config.path, project: config.project, sandbox }, () => {
      process.stdout.write(`Added ${args.name} to ${flags.file}. Start it with \`bkg run ${args.name}\`.\n`);
    });
  }
}
