import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildHandlers } from './bundle';
import { externalServer } from './prerequisites';
import { ServerInfo, serverFromUrl, startPrivateServer } from './private-server';
import { STATE_ENV, TestState } from './state';

/**
 * Once per jest run: start the private MySQL-compatible server (or use DATABASE_URL) and bundle
 * the handlers as they ship. Workers find both through the state file named in STATE_ENV.
 */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  const dir = mkdtempSync(path.join(tmpdir(), 'data-path-run-'));
  const [server, bundles] = await Promise.all([
    sharedServer(),
    buildHandlers(path.join(dir, 'bundles')),
  ]);
  const state: TestState = { dir, server, bundles };
  const file = path.join(dir, 'state.json');
  writeFileSync(file, JSON.stringify(state));
  process.env[STATE_ENV] = file;
}

async function sharedServer(): Promise<ServerInfo> {
  const given = externalServer();
  if (!given) {
    return startPrivateServer();
  }
  // An existing server, e.g. MySQL 8.4: mysql://root:pw@127.0.0.1:3306 (+ DB_TLS_CA_FILE).
  return serverFromUrl(given.url, given.caFile);
}
