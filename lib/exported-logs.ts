import { Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** Logs RDS exports to CloudWatch: errors, and queries slower than `long_query_time`. */
export const EXPORTED_LOGS = ['error', 'slowquery'] as const;

/**
 * The log groups RDS writes a DB instance's exported logs to, /aws/rds/instance/<identifier>/<log>
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html),
 * as stack resources with a retention. RDS would create them itself, keeping the logs forever
 * and leaving them behind on `cdk destroy`. Make the instance depend on them, so they exist
 * before RDS writes. `identifier` must be known before the instance exists (incarnationName()).
 */
export function ownExportedLogs(
  scope: Construct,
  identifier: string,
  retention: logs.RetentionDays,
  instanceRemovalPolicy: RemovalPolicy
): logs.LogGroup[] {
  return EXPORTED_LOGS.map(
    (log) =>
      new logs.LogGroup(scope, `${log}Logs`, {
        logGroupName: Fn.join('', ['/aws/rds/instance/', identifier, `/${log}`]),
        retention,
        // RETAIN_ON_UPDATE_OR_DELETE is CloudFormation's RetainExceptOnCreate: kept when the
        // stack is deleted, but removed when the create that made it rolls back, so a failed
        // first deploy leaves no orphans behind.
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
        removalPolicy:
          instanceRemovalPolicy === RemovalPolicy.DESTROY
            ? RemovalPolicy.DESTROY
            : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      })
  );
}
