import { rmSync } from 'node:fs';
import { stopPrivateServer } from './private-server';
import { readState } from './state';

export default async function globalTeardown(): Promise<void> {
  const state = readState();
  await stopPrivateServer(state.server);
  rmSync(state.dir, { recursive: true, force: true });
}
