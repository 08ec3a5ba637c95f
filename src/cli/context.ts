/** The CLI's composition root: builds {log, host, runtime} once per invocation and passes it down. */
import { createLogger, type Logger } from '../log.js';
import { detectHost, type HostInfo } from '../runtime/host.js';
import { SandboxEngine } from '../runtime/engine.js';

export interface CliContext {
  log: Logger;
  host: HostInfo;
  runtime: SandboxEngine;
}

export function createCliContext(): CliContext {
  const log = createLogger();
  const host = detectHost();
  return { log, host, runtime: new SandboxEngine({ host, log }) };
}
