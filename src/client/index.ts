/** The daemon's typed client: `new DaemonClient()` talks to $BKG_HOME/bkg.sock, or BKG_API_URL with BKG_API_KEY. */
export { DaemonClient, errorFromResponse, type DaemonClientOptions } from './daemon-client.js';
export { bkgHome, resolveEndpoint, type Endpoint } from './endpoint.js';
export { DEFAULT_BIN, DEFAULT_START_TIMEOUT_MS, ensureDaemon, type EnsureDaemonOptions, type EnsureDaemonResult } from './ensure-daemon.js';
export type * from './types.js';
