/** What the doctor's checks read from the host, and what each check reports. */
import { readdirSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { SandboxRunner } from '../engine.js';
import type { HostInfo } from '../host.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  id: string;
  title: string;
  status: DoctorStatus;
  detail: string;
  fix?: string;
}

export interface DoctorContext {
  host: HostInfo;
  runtime: SandboxRunner;
}

/** What the probes read from the host; tests substitute parts of it. */
export interface DoctorProbes {
  platform: string;
  arch: string;
  /** `uname -r`. */
  kernelRelease: string;
  /** A file's text, or null when it cannot be read. */
  readText: (path: string) => string | null;
  /** A directory's entries, or null when it cannot be read. */
  listDir: (path: string) => string[] | null;
  /** Run the sandbox probe (skip it only in tests of the other probes). */
  sandbox: boolean;
}

export function defaultProbes(): DoctorProbes {
  return {
    platform: process.platform,
    arch: process.arch,
    kernelRelease: release(),
    readText: (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return null;
      }
    },
    listDir: (path) => {
      try {
        return readdirSync(path);
      } catch {
        return null;
      }
    },
    sandbox: true,
  };
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function readInt(p: DoctorProbes, path: string): number | null {
  const text = p.readText(path)?.trim();
  return text !== undefined && /^-?\d+$/.test(text) ? Number(text) : null;
}
