import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { CfnResource, RemovalPolicy, Stack } from 'aws-cdk-lib';
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

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', {
              retention: props.flowLogRetention ?? logs.RetentionDays.ONE_WEEK,
              removalPolicy: RemovalPolicy.DESTROY,
            })
          ),
        },
      },
    });

    this.ownDefaultSecurityGroupProviderLogs(props.providerLogRetention);

    this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManager', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      privateDnsEnabled: true,
      // Closed by default: each client is allowed in explicitly, not the whole VPC CIDR.
      open: false,
      subnets: { subnets: this.vpc.isolatedSubnets.slice(0, endpointAzs) },
    });
  }

  /**
   * With @aws-cdk/aws-ec2:restrictDefaultSecurityGroup (cdk.json), CDK strips the VPC's default
   * security group with a custom resource whose function would log to /aws/lambda/<its name>, a
   * group Lambda creates on first invocation with no retention and `cdk destroy` leaves behind
   * (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html). The
   * provider offers no log group option, so its function is pointed at one of ours (LoggingConfig);
   * the reference makes CloudFormation create the group first. Its role has
   * AWSLambdaBasicExecutionRole, which may write to any group.
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
  }
}
