import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BkgError } from '../../src/api/errors.js';
import { loadDaemonConfig } from '../../src/daemon/config.js';

function configError(env: NodeJS.ProcessEnv): BkgError {
  try {
    loadDaemonConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(BkgError);
    return err as BkgError;
  }
  throw new Error('expected INVALID_CONFIG');
}

describe('loadDaemonConfig', () => {
  it('has defaults', () => {
    const home = join(homedir(), '.bkg');
    expect(loadDaemonConfig({})).toEqual({
      home,
      socketPath: join(home, 'bkg.sock'),
      port: 7420,
      host: '127.0.0.1',
      logDir: join(home, 'logs'),
      maxBodyBytes: 1024 * 1024,
      hostName: hostname(),
      sync: null,
      peer: null,
      events: { bufferSize: 10_000, intervalMs: 1000 },
      llmGpu: 'off',
      otel: { endpoint: null, samplingRate: 1 },
      p2p: null,
    });
  });

  it('reads BKG_LLM_GPU: the GPU backend of local inference, off unless asked for', () => {
    for (const v of ['off', 'auto', 'cuda', 'vulkan'] as const) expect(loadDaemonConfig({ BKG_LLM_GPU: v }).llmGpu).toBe(v);
  });

  it('reads BKG_HOME, BKG_PORT and BKG_MAX_BODY', () => {
    const c = loadDaemonConfig({ BKG_HOME: '/srv//bkg/', BKG_PORT: '8080', BKG_MAX_BODY: '2m' });
    expect(c).toMatchObject({ home: '/srv/bkg', socketPath: '/srv/bkg/bkg.sock', logDir: '/srv/bkg/logs', port: 8080, maxBodyBytes: 2 * 1024 ** 2 });
    expect(loadDaemonConfig({ BKG_PORT: '0' }).port).toBe(0);
    expect(loadDaemonConfig({ BKG_PORT: '65535', BKG_MAX_BODY: '4096' })).toMatchObject({ port: 65535, maxBodyBytes: 4096 });
  });

  it('reads BKG_EVENTS_BUFFER and BKG_EVENTS_INTERVAL_MS', () => {
    expect(loadDaemonConfig({ BKG_EVENTS_BUFFER: '5', BKG_EVENTS_INTERVAL_MS: '200' }).events).toEqual({ bufferSize: 5, intervalMs: 200 });
  });

  it.each(['', 'abc', '-1', '65536', '99999', '7420x', ' 80', '080', '1.5', '0x10', '1e3'])('BKG_PORT=%j is fatal, never defaulted', (value) => {
    const err = configError({ BKG_PORT: value });
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message).toMatch(/^BKG_PORT: /);
  });

  it.each([
    ['BKG_HOME', 'relative/dir'],
    ['BKG_HOME', ''],
    ['BKG_HOME', `/${'x'.repeat(120)}`],
    ['BKG_MAX_BODY', 'lots'],
    ['BKG_MAX_BODY', '0'],
    ['BKG_MAX_BODY', '100'],
    ['BKG_MAX_BODY', '2g'],
    ['BKG_MAX_BODY', ''],
    ['BKG_EVENTS_BUFFER', '0'],
    ['BKG_EVENTS_BUFFER', 'many'],
    ['BKG_EVENTS_BUFFER', '1.5'],
    ['BKG_EVENTS_BUFFER', '2000000'],
    ['BKG_EVENTS_BUFFER', ''],
    ['BKG_EVENTS_INTERVAL_MS', '10'],
    ['BKG_EVENTS_INTERVAL_MS', '1s'],
    ['BKG_EVENTS_INTERVAL_MS', '-5'],
    ['BKG_LLM_GPU', 'metal'],
    ['BKG_LLM_GPU', ''],
    ['BKG_HOME', `/${'x'.repeat(90)}`], // bkg.sock would fit; a sandbox's exec socket, run/ID.sock, would not
  ])('%s=%j is fatal', (name, value) => {
    const err = configError({ [name]: value });
    expect(err.code).toBe('INVALID_CONFIG');
    expect(err.message.startsWith(`${name}: `)).toBe(true);
    expect(err.details).toEqual({ setting: name });
  });
});
