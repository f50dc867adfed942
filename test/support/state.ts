import { readFileSync } from 'node:fs';
import type { BuiltHandler, HandlerName } from './bundle';
import type { ServerInfo } from './private-server';

/** What globalSetup hands to the test workers. */
export interface TestState {
  readonly dir: string;
  readonly server: ServerInfo;
  readonly bundles: Record<HandlerName, BuiltHandler>;
}

export const STATE_ENV = 'DATA_PATH_TEST_STATE';

export function readState(): TestState {
  const file = process.env[STATE_ENV];
  if (!file) {
    throw new Error(
      `${STATE_ENV} is not set: run these tests through jest (globalSetup starts the database).`
    );
  }
  return JSON.parse(readFileSync(file, 'utf8')) as TestState;
}
