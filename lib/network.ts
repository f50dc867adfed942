import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Aws, CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { LOG_WRITE_ACTIONS } from './function-role';
import { Construct } from 'constructs';

export interface NetworkProps {
  /**
   * Availability zones of the VPC. RDS needs subnets in two AZs even for a single-AZ instance.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * How many AZs get a Secrets Manager interface endpoint. One is enough for a sandbox (other
   * AZs reach it across the AZ boundary); use one per AZ in production.
   * @default - one per AZ
   */
  readonly secretsEndpointAzs?: number;
  /**
   * Retention of the VPC flow log.
   * @default RetentionDays.ONE_WEEK
   */
  readonly flowLogRetention?: logs.RetentionDays;
  /**
   * Retention of the log group of the function CDK adds to strip the VPC's default security group.
   * @default RetentionDays.ONE_WEEK
   */
  readonly providerLogRetention?: logs.RetentionDays;
}

/**
 * A VPC with isolated subnets only: no internet gateway and no NAT gateway (the largest cost of a
 * sandbox). The functions reach Secrets Manager through an interface endpoint and the database
 * through its security group; nothing else leaves the VPC.
 */
export class Network extends Construct {
  public readonly vpc: ec2.Vpc;
  /** Subnets the database and the functions live in. */
  public readonly isolatedSubnets: ec2.SubnetSelection = {
    subnetType: ec2.SubnetType.PRIVATE_ISOLATED,
  };
  /** The Secrets Manager endpoint; open it to a client with `connections.allowDefaultPortFrom`. */
  public readonly secretsManagerEndpoint: ec2.InterfaceVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? 2;
    const endpointAzs = props.secretsEndpointAzs ?? maxAzs;
    if (!Number.isInteger(endpointAzs) || endpointAzs < 1 || endpointAzs > maxAzs) {
      throw new Error(
        `secretsEndpointAzs must be a whole number from 1 to maxAzs (${maxAzs}), got ${endpointAzs}.`
      );
    }

    const flowLogs = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
        },
      },
    });
    trustOnlyThisAccountsFlowLogs(
      this.vpc.node.findChild('all').node.findChild('IAMRole') as iam.Role
    );

    this.ownDefaultSecurityGroupProviderLogs(props.providerLogRetention);

    this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManager', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      privateDnsEnabled: true,
      // Closed by default: each client is allowed in explicitly, not the whole VPC CIDR.
      open: false,
      subnets: { subnets: this.vpc.isolatedSubnets.slice(0, endpointAzs) },
    });
    limitToOwnAccount(this.secretsManagerEndpoint);
  }

  /**
   * With @aws-cdk/aws-ec2:restrictDefaultSecurityGroup (cdk.json), CDK strips the VPC's default
   * security group with a custom resource whose function would log to /aws/lambda/<its name>, a
   * group Lambda creates on first invocation with no retention and `cdk destroy` leaves behind
   * (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html). The
   * provider offers no log group option, so its function is pointed at one of ours (LoggingConfig);
   * the reference makes CloudFormation create the group first. Its role comes with
   * AWSLambdaBasicExecutionRole (logs:CreateLogGroup and writes to any group): that is replaced by
   * writes to this group alone, like every other function's (lib/function-role.ts).
   */
  private ownDefaultSecurityGroupProviderLogs(retention?: logs.RetentionDays): void {
    const provider = Stack.of(this).node.tryFindChild(
      'Custom::VpcRestrictDefaultSGCustomResourceProvider'
    );
    const handler = provider?.node.tryFindChild('Handler') as CfnResource | undefined;
    if (!handler) return; // the feature flag is off: no such function
    const logGroup = new logs.LogGroup(this, 'RestrictDefaultSecurityGroupLogs', {
      retention: retention ?? logs.RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    handler.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);

    const role = provider!.node.findChild('Role') as CfnResource;
    role.addPropertyDeletionOverride('ManagedPolicyArns');
    const writeLogs = new iam.CfnPolicy(this, 'RestrictDefaultSecurityGroupLogsPolicy', {
      policyName: 'WriteOwnLogGroup',
      roles: [role.ref],
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: [...LOG_WRITE_ACTIONS], Resource: logGroup.logGroupArn },
        ],
      },
    });
    // The function logs from its first run on: not before it may.
    handler.node.addDependency(writeLogs);
  }
}

/**
 * Trusts the flow-logs service with the flow log's role only on behalf of this account's flow
 * logs: "We recommend that you use the aws:SourceAccount and aws:SourceArn condition keys to
 * protect yourself against the confused deputy problem ... the source ARN is the flow log ARN"
 * (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html). The flow log's id
 * is not known before it exists, so the ARN's id is a wildcard, as that page allows. The
 * conditions go on the role CDK made for the flow log rather than on a new role: every
 * AWS::EC2::FlowLog property is create-only, so a new role ARN would replace the flow log, and
 * the replacement (same VPC, traffic type and log group) is refused while the old one exists
 * (FlowLogAlreadyExists): a deployed stack could not be updated.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-flowlog.html
 */
function trustOnlyThisAccountsFlowLogs(role: iam.Role): void {
  (role.node.defaultChild as iam.CfnRole).addPropertyOverride(
    'AssumeRolePolicyDocument.Statement.0.Condition',
    {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: {
        'aws:SourceArn': `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:vpc-flow-log/*`,
      },
    }
  );
}

/**
 * An interface endpoint without a policy admits every principal to every resource, any account's:
 * code running in a function (a compromised dependency) could write this stack's data to a
 * secret of another account through it. This policy admits only principals of this account
 * acting on resources of this account (aws:PrincipalAccount, aws:ResourceAccount:
 * https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html and
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/vpc-endpoint-overview.html, the
 * endpoint page of https://docs.aws.amazon.com/secretsmanager/latest/userguide/infrastructure-security.html).
 * secretsmanager:GetRandomPassword, which the rotation function calls, acts on no resource
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html),
 * so a request for it carries no aws:ResourceAccount: it has a statement of its own that needs
 * only this account's principal. RDS Proxy reads its secrets with its role from the service's
 * side: its network prerequisites ask for no Secrets Manager endpoint
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-network-prereqs.html), which
 * rests on that page alone. What each caller's calls are (the functions' and the proxy's, which
 * would pass too), and that they pass, is checked by
 * test/lib/invariants/secrets-endpoint-admits-own-account-only.ts.
 */
function limitToOwnAccount(endpoint: ec2.InterfaceVpcEndpoint): void {
  const ownPrincipal = { 'aws:PrincipalAccount': Aws.ACCOUNT_ID };
  endpoint.addToPolicy(
    new iam.PolicyStatement({
      sid: 'OwnPrincipalsOwnSecrets',
      principals: [new iam.AnyPrincipal()],
      actions: ['secretsmanager:*'],
      resources: ['*'],
      conditions: {
        StringEquals: { ...ownPrincipal, 'aws:ResourceAccount': Aws.ACCOUNT_ID },
      },
    })
  );
  endpoint.addToPolicy(
    new iam.PolicyStatement({
      sid: 'OwnPrincipalsRandomPasswords',
      principals: [new iam.AnyPrincipal()],
      actions: ['secretsmanager:GetRandomPassword'],
      resources: ['*'],
      conditions: { StringEquals: ownPrincipal },
    })
  );
}
