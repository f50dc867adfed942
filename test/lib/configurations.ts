import { LambdaRdsStack, LambdaRdsStackProps } from '../../lib/lambda-rds-stack';
import { StageConfig, STAGES } from '../../lib/stage-config';
import { synthesize } from './synthesize';
import { Template } from 'aws-cdk-lib/assertions';

/** One supported way to deploy: a stage of STAGES with the `-c` switches a user may pass. */
export interface Configuration {
  /** How a person would say it, e.g. `prod -c proxy=false -c readReplicas=2`. */
  readonly label: string;
  readonly stage: string;
  /** The `-c key=value` pairs on top of the stage. */
  readonly context: Readonly<Record<string, string>>;
}

/**
 * Every stage, with the proxy off and on, and with no replica, two replicas and the stage's own
 * count: each combination is a supported configuration (shared/DESIGN.md), so a stage added to
 * STAGES is covered here without new test code.
 */
export const CONFIGURATIONS: readonly Configuration[] = Object.values(STAGES).flatMap((stage) =>
  [false, true].flatMap((proxy) =>
    [...new Set([0, 2, stage.readReplicas])].map((readReplicas) => ({
      label: `${stage.name} -c proxy=${proxy} -c readReplicas=${readReplicas}`,
      stage: stage.name,
      context: { proxy: String(proxy), readReplicas: String(readReplicas) },
    }))
  )
);

/** A configuration as synthesized: what an invariant reads. */
export interface SynthesizedConfiguration {
  readonly configuration: Configuration;
  /** The stage config with the switches applied, as the stack received it. */
  readonly config: StageConfig;
  readonly stack: LambdaRdsStack;
  readonly template: Template;
}

/** Synthesizes a configuration exactly as `cdk synth -c stage=… -c …` would (bundling skipped). */
export function synthesizeConfiguration(
  configuration: Configuration,
  options: {
    amend?: (stack: LambdaRdsStack) => void;
    declared?: Pick<LambdaRdsStackProps, 'functions' | 'schemaModules'>;
  } = {}
): SynthesizedConfiguration {
  const { stack, template } = synthesize(configuration.stage, {
    context: { alarmEmail: 'ops@example.com', ...configuration.context },
    amend: options.amend,
    declared: options.declared,
  });
  return { configuration, config: stack.config, stack, template };
}
