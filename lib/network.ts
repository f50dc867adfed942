import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { RemovalPolicy } from 'aws-cdk-lib';
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

    this.secretsManagerEndpoint = this.vpc.addInterfaceEndpoint('SecretsManager', {
      service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      privateDnsEnabled: true,
      // Closed by default: each client is allowed in explicitly, not the whole VPC CIDR.
      open: false,
      subnets: { subnets: this.vpc.isolatedSubnets.slice(0, endpointAzs) },
    });
  }
}
