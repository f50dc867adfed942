import { Aspects, Duration, IAspect, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct, IDependable } from 'constructs';
import { functionRole } from './function-role';
import { lambdaBundling } from './lambda-bundling';

export interface DataFunctionProps {
  /** Handler file (exports `handler`), bundled with the local esbuild. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /** Network the function runs in. */
  readonly vpc: ec2.IVpc;
  /** Subnets of the function's network interfaces. */
  readonly vpcSubnets: ec2.SubnetSelection;
  /**
   * Reserved concurrency. Each environment holds at most one database connection, so this is also
   * the most connections the function can hold at once (see `connectionBudget()`).
   * @default - none: the function shares the account's unreserved concurrency. Only for a
   * function whose connections are bounded otherwise (the rotation's: one per secret)
   */
  readonly reservedConcurrency?: number;
  /**
   * Timeout; must exceed the handler's database connect timeout so a slow connect still ends in a
   * clear error rather than a Lambda timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MiB; Lambda gives CPU in proportion (1,769 MB = one vCPU), and a connection per
   * invocation is CPU-bound (TLS, TCP). `npm run bench` (docs/performance.md, "Memory size"): at 512 MB the
   * first invocation takes about a third of 256 MB's and the warm p90 a fifth, for about the
   * same cost per million invocations, because the shorter duration pays for the larger size.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Retention of the function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** Where database clients run and what they reach: shared by DataFunctions and SchemaMigration. */
export interface DatabaseClientProps {
  /** Network the functions run in. */
  readonly vpc: ec2.IVpc;
  /** Subnets of the functions' network interfaces (isolated). */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** The database instance (its security group is opened to each function). */
  readonly database: ec2.IConnectable;
  /** The Secrets Manager endpoint the functions read their secrets through. */
  readonly secretsManagerEndpoint: ec2.IConnectable;
  /**
   * Retention of the functions' log groups.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/** What a function needs to reach a database: its secret, its network peer, and the secrets endpoint. */
export interface DatabaseBinding {
  /** Secret in the RDS JSON format (host, port, username, password, dbname) the function connects with. */
  readonly secret: secretsmanager.ISecret;
  /** The database instance (its security group is opened to the function on its default port). */
  readonly database: ec2.IConnectable;
  /** The Secrets Manager endpoint (opened to the function on 443). */
  readonly secretsManagerEndpoint: ec2.IConnectable;
  /**
   * CA that signs the instance's server certificate: the function trusts only that CA's root
   * for its region (DB_CA_TYPE, lambda/lib/rds-ca.ts).
   * @default rds.CaCertificate.RDS_CA_RSA2048_G1 — what the Database construct sets
   */
  readonly caCertificate?: rds.CaCertificate;
  /**
   * RDS Proxy to connect through instead of the instance: its endpoint reaches the function as
   * DB_PROXY_HOST (it overrides the secret's host) and only the proxy is opened to it.
   * @default - the function connects to the instance directly
   */
  readonly proxy?: ProxyBinding;
}

/** What a function needs to reach the database through an RDS Proxy. */
export interface ProxyBinding {
  /** The proxy's endpoint host name. */
  readonly endpoint: string;
  /** The proxy (its security group is opened to the function on 3306). */
  readonly connections: ec2.IConnectable;
  /**
   * What must exist before a client can use the proxy: the proxy with its target group
   * (AWS::RDS::DBProxyTargetGroup), which registers the instance. The endpoint alone gives
   * CloudFormation a dependency on the AWS::RDS::DBProxy only, so turning the proxy on in an
   * update could point the function at a proxy with no target yet.
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbproxytargetgroup.html
   */
  readonly ready: IDependable;
}

/**
 * A `NodejsFunction` with the house defaults: Node.js 24 on arm64, a local esbuild bundle (ES
 * module, AWS SDK inside, names kept, source map beside it: lib/lambda-bundling.ts), JSON logs,
 * in the VPC behind its own security group with no default egress.
 */
export class DataFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: DataFunctionProps) {
    super(scope, id);
    if (
      props.reservedConcurrency !== undefined &&
      (!Number.isInteger(props.reservedConcurrency) || props.reservedConcurrency < 1)
    ) {
      throw new Error(
        `reservedConcurrency must be a whole number of at least 1, got ${props.reservedConcurrency}.`
      );
    }
    // No egress by default: bindDatabase() opens exactly the database and the secrets endpoint.
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${id} function: egress only to the database and the Secrets Manager endpoint`,
      allowAllOutbound: false,
    });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      reservedConcurrentExecutions: props.reservedConcurrency,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [this.securityGroup],
      // No NODE_OPTIONS=--enable-source-maps: the bundle keeps names and lines, and the map's
      // parse would cost every cold start ~35 ms of CPU (lib/lambda-bundling.ts).
      bundling: lambdaBundling,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      logGroup,
      // Writes only to its own log group; not the managed policies' logs rights on "*".
      role: functionRole(this, 'Role', {
        logGroup,
        inVpc: true,
        description: `${id} function: writes its own log group, manages its VPC network interfaces`,
      }),
    });
    // On the role resource itself, whose inline policy holds these: not on its children (a
    // DefaultPolicy of grants added later), whose findings need reasons of their own.
    Validations.of(this.function.role!.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only the network-interface actions Lambda needs to attach a function to a VPC are on "*": ' +
        'ec2:DescribeNetworkInterfaces only works on all resources, and Lambda creates and deletes ' +
        'its interfaces, whose ids are unknown before (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html). ' +
        "Logs are written to the function's own group only.",
    });
  }

  /** Gives the function its database: the secret's ARN (never the password), read access, network paths. */
  public bindDatabase(binding: DatabaseBinding): void {
    this.function.addEnvironment('DB_SECRET_ARN', binding.secret.secretArn);
    this.function.addEnvironment(
      'DB_CA_TYPE',
      (binding.caCertificate ?? rds.CaCertificate.RDS_CA_RSA2048_G1).toString()
    );
    binding.secret.grantRead(this.function);
    if (binding.proxy) {
      this.function.addEnvironment('DB_PROXY_HOST', binding.proxy.endpoint);
      this.function.node.addDependency(binding.proxy.ready);
      binding.proxy.connections.connections.allowFrom(
        this.securityGroup,
        ec2.Port.tcp(3306),
        `from the ${this.node.id} function`
      );
    } else {
      binding.database.connections.allowDefaultPortFrom(
        this.securityGroup,
        `from the ${this.node.id} function`
      );
    }
    binding.secretsManagerEndpoint.connections.allowDefaultPortFrom(
      this.securityGroup,
      `${this.node.id} function reads its database secret`
    );
    this.dependOnNetworkPath(binding.proxy?.connections.connections.securityGroups ?? []);
  }

  /**
   * Makes the function depend on every security-group rule that mentions its own security
   * group or one of `through` (a proxy's), wherever they are added (DependOnNetworkPath below).
   * bindDatabase() calls it; a function whose paths are opened otherwise calls it itself.
   */
  public dependOnNetworkPath(through: ec2.ISecurityGroup[] = []): void {
    Aspects.of(Stack.of(this)).add(
      new DependOnNetworkPath(this.function, [this.securityGroup, ...through])
    );
  }
}

/**
 * Makes a function depend on every security-group rule that mentions its security group or the
 * proxy's it goes through: its own egress, the database's (or proxy's, or a replica's) ingress
 * from it, the proxy's path to the instance, and the Secrets Manager endpoint's. Rules between
 * two security groups are resources of their own (AWS::EC2::SecurityGroupIngress/Egress), which
 * CloudFormation creates in parallel with the function unless told otherwise: an update that
 * switches the proxy off would otherwise let the function run before its new direct path
 * exists. An aspect, because rules are added after bindDatabase() too (the replicas').
 * DependsOn orders create, update and delete alike:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html
 */
class DependOnNetworkPath implements IAspect {
  private readonly groupIds: string[];

  constructor(
    private readonly fn: lambda.IFunction,
    securityGroups: ec2.ISecurityGroup[]
  ) {
    this.groupIds = securityGroups.map((group) => group.securityGroupId);
  }

  public visit(node: IConstruct): void {
    const mentioned =
      node instanceof ec2.CfnSecurityGroupIngress
        ? [node.groupId, node.sourceSecurityGroupId]
        : node instanceof ec2.CfnSecurityGroupEgress
          ? [node.groupId, node.destinationSecurityGroupId]
          : [];
    if (mentioned.some((id) => id !== undefined && this.groupIds.includes(id))) {
      this.fn.node.addDependency(node);
    }
  }
}
