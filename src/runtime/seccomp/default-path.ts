/** Where bkg's bundled default seccomp profile lies (templates/seccomp/default.json): what the precompiled programs are checked against, without loading the profile parser. */
import { fileURLToPath } from 'node:url';

// src/runtime/seccomp/*.ts and dist/runtime/seccomp/*.js both sit three levels below the package root.
const DEFAULT_PROFILE_URL = new URL('../../../templates/seccomp/default.json', import.meta.url);

export function defaultSeccompProfilePath(): string {
  return fileURLToPath(DEFAULT_PROFILE_URL);
}
