import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildHandlers } from './bundle';
import { openServer } from './private-server';
import { STATE_ENV, TestState } from './state';

/**
 * Once per jest run: start the private MySQL-compatible server (or use DATABASE_URL) and bundle
 * the handlers as they ship. Workers find both through the state file named in STATE_ENV.
 */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const dir = mkdtempSync(path.join(tmpdir(), 'data-path-run-'));
  // DATABASE_URL, if set, names an existing server, e.g. MySQL 8.4 (+ DB_TLS_CA_FILE).
  const [{ server }, bundles] = await Promise.all([
    openServer(),
    buildHandlers(path.join(dir, 'bundles')),
  ]);
  const state: TestState = { dir, server, bundles };
  const file = path.join(dir, 'state.json');
  writeFileSync(file, JSON.stringify(state));
  process.env[STATE_ENV] = file;
}
