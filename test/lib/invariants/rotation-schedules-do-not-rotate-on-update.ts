import { TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/**
 * A rotation schedule that rotates when it is created or updated (RotateImmediatelyOnUpdate
 * true, the default) rotates every secret on a deploy that changes its function, e.g. the move
 * from the hosted rotation applications; if that update rolls back, RotateSecret with the old
 * function meets the AWSPENDING the new one left and is refused ("If the AWSPENDING staging
 * label is present but not attached to the same version as AWSCURRENT, then any later invocation
 * of RotateSecret assumes that a previous rotation request is still in progress and returns an
 * error": https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
 * With false, Secrets Manager only tests the configuration (testSecret)
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-rotationschedule.html).
 */
export const invariant: Invariant = {
  name: 'no rotation schedule rotates when it is created or updated',
  check: ({ template }) =>
    new TemplateGraph(template)
      .ofType('AWS::SecretsManager::RotationSchedule')
      .filter(([, schedule]) => schedule.Properties.RotateImmediatelyOnUpdate !== false)
      .map(
        ([id]) =>
          `${id} rotates its secret on every create or update (RotateImmediatelyOnUpdate is not false): ` +
          'pass rotateImmediatelyOnUpdate: false (lib/password-rotation.ts)'
      ),
};
