import { BkgCommand } from '../../cli/base-command.js';

export default class ApiSchema extends BkgCommand {
  static override summary = 'Print the daemon\'s API as an OpenAPI 3.1 document (the same as GET /api/v1/openapi.json).';
  static override description = `Generated from the wire contract (src/api/routes.ts and its zod schemas), without asking a daemon:
every route with its access rule, request and answers; every error is an ErrorBody.`;

  static override examples = [
    '<%= config.bin %> api schema > openapi.json',
    '<%= config.bin %> api schema | jq \'.paths | keys\'',
  ];

  async run(): Promise<void> {
    await this.parse(ApiSchema);
    const { buildOpenApi } = await import('../../api/openapi.js');
    process.stdout.write(`${JSON.stringify(buildOpenApi(this.config.version), null, 2)}\n`);
  }
}
