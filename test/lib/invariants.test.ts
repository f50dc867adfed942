import {
  CONFIGURATIONS,
  SynthesizedConfiguration,
  synthesizeConfiguration,
} from './configurations';
import { loadInvariants } from './load-invariants';

const INVARIANTS = loadInvariants();

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
