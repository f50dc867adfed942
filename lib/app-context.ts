import {
  StageConfig,
  stageConfig,
  withProxySwitch,
  withReadReplicas,
  withReplicaEngineVersion,
} from './stage-config';

/** The `-c key=value` switches this app reads, with what each takes. */
export const APP_CONTEXT_KEYS = {
  stage: 'a stage of lib/stage-config.ts, e.g. -c stage=sandbox (the default) or -c stage=prod',
  proxy: "-c proxy=true or -c proxy=false (default: the stage's setting)",
  readReplicas: "-c readReplicas=N, a whole number from 0 to 15 (default: the stage's setting)",
  replicaEngineVersion:
    "a full version, 8.4.y, in cdk.json's context or as -c replicaEngineVersion=8.4.y: the replicas-first step of an engine upgrade; keep it until the primary catches up (docs/upgrades.md; default: the primary's version)",
  alarmEmail: '-c alarmEmail=you@example.com, subscribed to the alarm topic (default: none)',
} as const;

/** What the app builds from its context. */
export interface AppSettings {
  readonly config: StageConfig;
  readonly alarmEmail?: string;
}

/**
 * A context key or value the app cannot use. bin/app.ts prints its message alone (no stack
 * trace) and exits 1: the message says what to pass.
 */
export class AppContextError extends Error {
  readonly name = 'AppContextError';
}

/**
 * Reads and checks the app's context as a whole: every unknown key and bad value in one error.
 *
 * Only keys shaped like the app's own (a plain identifier: `stage`, `readReplica`) are checked.
 * The rest belong to others and pass: cdk.json's feature flags (`@aws-cdk/...`), the CLI's
 * (`aws:cdk:...`), context lookups (`availability-zones:account=...`) and the CLI's own
 * `acknowledged-issue-numbers`.
 */
export function readAppContext(context: Readonly<Record<string, unknown>>): AppSettings {
  const problems: string[] = [];
  const known = Object.keys(APP_CONTEXT_KEYS);
  for (const key of Object.keys(context).filter((k) => /^[A-Za-z][A-Za-z0-9_]*$/.test(k))) {
    if (!known.includes(key)) {
      const near = known.find((k) => closeTo(k, key));
      problems.push(
        `Unknown context key "${key}"${near ? ` (did you mean ${near}?)` : ''}. ` +
          `This app reads: ${known.join(', ')}.`
      );
    }
  }
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      // Each reader's message already shows the bad value and what to pass instead.
      problems.push((error as Error).message);
      return undefined;
    }
  };
  const stage = context.stage === undefined || context.stage === '' ? 'sandbox' : context.stage;
  let config = attempt(() => stageConfig(String(stage)));
  if (config) {
    const base: StageConfig = config;
    config = attempt(() => withProxySwitch(base, context.proxy));
  }
  if (config) {
    const base: StageConfig = config;
    config = attempt(() => withReadReplicas(base, context.readReplicas));
  } else {
    // Still check the count alone, so one run reports every bad value.
    attempt(() => withReadReplicas(sandboxShape, context.readReplicas));
  }
  if (config) {
    const base: StageConfig = config;
    config = attempt(() => withReplicaEngineVersion(base, context.replicaEngineVersion));
  }
  const alarmEmail = attempt(() => readAlarmEmail(context.alarmEmail));
  if (problems.length > 0 || !config) {
    throw new AppContextError(
      problems.length === 1
        ? problems[0]
        : `The CDK context has ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`
    );
  }
  return { config, alarmEmail };
}

const sandboxShape = { readReplicas: 0 } as StageConfig;

function readAlarmEmail(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text)) {
    throw new Error(
      `-c alarmEmail=${text} is not an email address. Pass ${APP_CONTEXT_KEYS.alarmEmail}.`
    );
  }
  return text;
}

/** Same letters but for case, one letter more or less, or one letter different. */
function closeTo(known: string, given: string): boolean {
  const a = known.toLowerCase();
  const b = given.toLowerCase();
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return (
    a.slice(i + 1) === b.slice(i + 1) ||
    a.slice(i) === b.slice(i + 1) ||
    a.slice(i + 1) === b.slice(i)
  );
}
