import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * The network-interface actions Lambda needs on a function's execution role to attach it to a VPC,
 * as listed on https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html ("Required IAM
 * permissions"). They stay on "*": ec2:DescribeNetworkInterfaces (and the other Describe action)
 * "only works if it's allowed on all resources", and Lambda creates, assigns and deletes its
 * Hyperplane interfaces, whose ids nobody knows before, on the function's behalf. The same six
 * actions AWSLambdaVPCAccessExecutionRole grants, without its logs rights.
 */
export const LAMBDA_VPC_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/**
 * What a function writes to its own log group: a stream per execution environment and its
 * events. No logs:CreateLogGroup: the group is the stack's, created before the function
 * (test/lib/invariants/log-groups-are-owned.ts).
 */
export const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'] as const;

export interface FunctionRoleProps {
  /** The function's own log group: the only one the role may write to. */
  readonly logGroup: logs.ILogGroup;
  /**
   * Whether the function is attached to a VPC (it then needs the network-interface actions).
   * @default false
   */
  readonly inVpc?: boolean;
  /** Shown in the IAM console. */
  readonly description: string;
}

/**
 * An execution role in place of the one Lambda constructs create, which carries
 * AWSLambdaBasicExecutionRole (logs:CreateLogGroup, CreateLogStream, PutLogEvents on "*") and, in
 * a VPC, AWSLambdaVPCAccessExecutionRole (the same logs rights again, with the network-interface
 * actions): here the logs rights name the function's own group, and the network-interface
 * actions are the only "*". Inline policies of the role itself, so the permissions exist as soon
 * as the role does: Lambda checks the network-interface rights when the function is created.
 */
export function functionRole(scope: Construct, id: string, props: FunctionRoleProps): iam.Role {
  const statements = [
    new iam.PolicyStatement({
      sid: 'WriteOwnLogGroup',
      actions: [...LOG_WRITE_ACTIONS],
      // The group's Arn attribute ends in ":*", which covers its log streams.
      resources: [props.logGroup.logGroupArn],
    }),
  ];
  if (props.inVpc) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'ManageVpcNetworkInterfaces',
        actions: [...LAMBDA_VPC_ACTIONS],
        resources: ['*'],
      })
    );
  }
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: props.description,
    inlinePolicies: { Execution: new iam.PolicyDocument({ statements }) },
  });
}
