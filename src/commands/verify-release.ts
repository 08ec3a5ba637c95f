import { Args, Flags } from '@oclif/core';
import { BkgError } from '../api/errors.js';
import { BkgCommand } from '../cli/base-command.js';
import { renderVerified, verifyRelease } from '../cli/verify-release.js';

export default class VerifyRelease extends BkgCommand {
  static override summary = 'Check a release\'s signed provenance: its Ed25519 signature, then the sha256 of the tarball, SBOM and lockfile it names.';
  static override description = `FILE is the DSSE envelope \`npm run release\` writes (NAME-VERSION.intoto.json); the files it names are looked for beside it (or in --dir).
Exits 0 when everything verifies; 6 with SIGNATURE_INVALID or DIGEST_MISMATCH when not.`;

  static override examples = ['<%= config.bin %> verify-release release/bkg-0.1.0.intoto.json --key bkg-release.pub'];
  static override args = { file: Args.string({ description: 'The signed provenance (DSSE envelope, JSON).', required: true }) };
  static override flags = {
    key: Flags.string({ description: 'The publisher\'s Ed25519 public key (PEM); or BKG_RELEASE_PUBLIC_KEY.' }),
    dir: Flags.string({ description: 'Where the released files are (default: beside FILE).' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(VerifyRelease);
    const keyPath = flags.key ?? process.env.BKG_RELEASE_PUBLIC_KEY;
    if (!keyPath) throw new BkgError('INVALID_ARGUMENT', '--key: the publisher\'s public key is required (or BKG_RELEASE_PUBLIC_KEY)', { details: { field: 'key' } });
    const r = await verifyRelease(args.file, { keyPath, ...(flags.dir ? { dir: flags.dir } : {}) });
    this.output(flags.json, r, () => process.stdout.write(renderVerified(r)));
  }
}
