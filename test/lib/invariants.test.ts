import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CONFIGURATIONS,
  SynthesizedConfiguration,
  synthesizeConfiguration,
} from './configurations';
import { Invariant } from './invariants/invariant';

// Every file in invariants/ but the interface is one invariant: a new one needs no change here.
const INVARIANTS_DIR = path.join(__dirname, 'invariants');
const INVARIANTS: Invariant[] = fs
  .readdirSync(INVARIANTS_DIR)
  .filter((file) => file.endsWith('.ts') && file !== 'invariant.ts')
  .sort()
  .map((file) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(path.join(INVARIANTS_DIR, file)) as { invariant?: Invariant };
    if (!loaded.invariant) throw new Error(`test/lib/invariants/${file} exports no \`invariant\``);
    return loaded.invariant;
  });

// GIVEN every supported configuration, synthesized once.
const synthesized = new Map<string, SynthesizedConfiguration>();
beforeAll(() => {
  for (const configuration of CONFIGURATIONS) {
    synthesized.set(configuration.label, synthesizeConfiguration(configuration));
  }
});

test('covers every stage with the proxy off and on, without and with replicas', () => {
  expect(CONFIGURATIONS.length).toBeGreaterThanOrEqual(8);
});

describe.each(CONFIGURATIONS.map((c) => [c.label]))('%s', (label) => {
  test.each(INVARIANTS.map((i) => [i.name, i]))('%s', (_name, invariant) => {
    expect(invariant.check(synthesized.get(label)!)).toEqual([]);
  });
});
