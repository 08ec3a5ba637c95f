import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Flags } from '@oclif/core';
import { CAVE_FILE } from '../api/cave-config.js';
import { BkgError } from '../api/errors.js';
import { NAME_PATTERN } from '../api/sandboxes.js';
import { BkgCommand } from '../cli/base-command.js';

const TEMPLATE = new URL('../../templates/cave.yaml', import.meta.url);

/** A project name from a directory name: invalid characters become '-'. */
export function projectNameFor(dir: string): string {
  const name = basename(dir).replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63);
  return NAME_PATTERN.test(name) ? name : 'project';
}

export default class Init extends BkgCommand {
  static override summary = 'Create cave.yaml, the file that lists this project\'s sandboxes.';
  static override description = 'Writes a commented cave.yaml in the current directory. `bkg add NAME` then adds sandboxes to it and `bkg run` starts them.';
  static override examples = ['<%= config.bin %> init', '<%= config.bin %> init --project demo', '<%= config.bin %> init --force --json'];

  static override flags = {
    project: Flags.string({ description: 'Project name (default: the directory\'s name).' }),
    force: Flags.boolean({ description: 'Overwrite an existing cave.yaml.', default: false }),
    file: Flags.string({ description: 'Where to write it.', default: CAVE_FILE }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Init);
    const path = resolve(flags.file);
    const project = flags.project ?? projectNameFor(dirname(path));
    if (!NAME_PATTERN.test(project)) throw new BkgError('INVALID_ARGUMENT', `--project: "${project}" must match ${NAME_PATTERN.source}`);
    const { stringify } = await import('yaml');
    const text = (await readFile(TEMPLATE, 'utf8')).replace('{{project}}', stringify(project).trimEnd());
    try {
      await writeFile(path, text, { flag: flags.force ? 'w' : 'wx', mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new BkgError('CONFLICT', `${flags.file} already exists`, { hint: 'Pass --force to overwrite it, or edit it (`bkg add NAME` adds a sandbox).' });
      }
      throw new BkgError('INVALID_ARGUMENT', `cannot write ${flags.file}: ${(err as Error).message}`);
    }
    this.output(flags.json, { path, project }, () => {
      process.stdout.write(`Created ${flags.file} for project ${project}. Add a sandbox with \`bkg add NAME\`, start it with \`bkg run NAME\`.\n`);
    });
  }
}
