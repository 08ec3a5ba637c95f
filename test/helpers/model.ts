/** The shared test model (../shared/models beside the checkout), and the rule for tests that need it. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const TEST_MODEL = join(import.meta.dirname, '..', '..', '..', 'shared', 'models', 'stories260K.gguf');
export const TEST_MODEL_SHA256 = '270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d';

/** Why model tests cannot run here, or null. Under CI=true the model must be there. */
export function modelSkipReason(): string | null {
  if (existsSync(TEST_MODEL)) return null;
  const reason = `the test model is missing at ${TEST_MODEL}`;
  if (process.env.CI === 'true') throw new Error(`CI=true but ${reason}`);
  console.warn(`skipping model tests: ${reason}`);
  return reason;
}
