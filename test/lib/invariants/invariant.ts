import { SynthesizedConfiguration } from '../configurations';

/**
 * A property every deployable configuration keeps. `check` returns one message per violation,
 * naming the resource and what to fix; an empty list means the invariant holds.
 * Put each invariant in its own file in this folder, exporting `invariant`: invariants.test.ts
 * loads every file here and runs it against every configuration of CONFIGURATIONS.
 */
export interface Invariant {
  /** What holds, as a sentence: it becomes the test's name. */
  readonly name: string;
  readonly check: (synthesized: SynthesizedConfiguration) => string[];
}
