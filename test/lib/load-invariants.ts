import * as fs from 'node:fs';
import * as path from 'node:path';
import { Invariant } from './invariants/invariant';

const INVARIANTS_DIR = path.join(__dirname, 'invariants');

/** Every file in invariants/ but the interface is one invariant: a new one needs no change elsewhere. */
export function loadInvariants(): Invariant[] {
  return fs
    .readdirSync(INVARIANTS_DIR)
    .filter((file) => file.endsWith('.ts') && file !== 'invariant.ts')
    .sort()
    .map((file) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const loaded = require(path.join(INVARIANTS_DIR, file)) as { invariant?: Invariant };
      if (!loaded.invariant)
        throw new Error(`test/lib/invariants/${file} exports no \`invariant\``);
      return loaded.invariant;
    });
}
