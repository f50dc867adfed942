import * as path from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IDependable } from 'constructs';
import { PASSWORD_EXCLUDED_CHARACTERS, PASSWORD_LENGTH } from '../lambda/lib/password-policy';
import { DataFunction } from './data-function';

export interface PasswordRotationProps {
  /** Network the rotation function runs in. */
  readonly vpc: ec2.IVpc;
  /** Subnets of its network interfaces (isolated). */
  readonly vpcSubnets: ec2.SubnetSelection;
  /** The instance whose users it rotates: opened to the function on its port, and waited for. */
  readonly instance: rds.DatabaseInstance;
  /** CA that signs the instance's server certificate (the instance's `caCertificate`). */
  readonly caCertificate: rds.CaCertificate;
  /**
   * The admin secret: rotated single-user (the admin changes its own password); with it, every
   * other secret alternates users (lambda/lib/rotation.ts). Pass it to `rotate()` too: its
   * schedule's grants are what let the function read it.
   */
  readonly adminSecret: secretsmanager.ISecret;
  /** The Secrets Manager endpoint the function calls; opened to it on 443, and waited for. */
  readonly secretsManagerEndpoint: ec2.IConnectable & IDependable;
  /**
   * How often each secret is rotated.
   * @default Duration.days(30)
   */
  readonly rotateAfter?: Duration;
  /**
   * Retention of the function's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Password rotation for the instance's secrets, by a function of the stack's own
 * (lambda/rotate.ts): alternating users for the function users (the admin sets the password of
 * the user not in AWSCURRENT, so no client or RDS Proxy holding AWSCURRENT is ever refused),
 * single user for the admin (docs/rotation.md). It runs on the data path's connection code: TLS always, verified against the RDS
 * root of the instance's CA for the region, never a plaintext retry. It replaces the hosted
 * SecretsManagerRDSMySQLRotationSingleUser application, whose TLS rests on the Lambda OS CA
 * bundle and falls back to plaintext (docs/rotation.md); this one is tested against a real
 * server and the real SDK (test/lambda/rotation.test.ts).
 */
export class PasswordRotation extends Construct {
  public readonly rotator: DataFunction;
  private readonly rotateAfter: Duration;
  private readonly waitFor: IDependable[];

  constructor(scope: Construct, id: string, props: PasswordRotationProps) {
    super(scope, id);
    this.rotateAfter = props.rotateAfter ?? Duration.days(30);
    this.rotator = new DataFunction(this, 'Rotator', {
      entry: path.join(__dirname, '..', 'lambda', 'rotate.ts'),
      description:
        'Rotates the database secrets (alternating users; the admin single-user): TLS-verified, never plaintext',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      // No reserved concurrency: AWS warns that fewer than 10 executions "can cause throttling"
      // of a rotation function (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html),
      // and a throttled step leaves AWSPENDING behind, which makes every later RotateSecret fail.
      // Its connections are bounded without it: Secrets Manager runs one rotation per secret at a
      // time and each step holds one connection at a time, so at most one per rotated secret
      // (reservedConnections().rotation in lib/connection-budget.ts counts one per secret).
      // Each step makes a few short connections, each bounded by what is left of these 30 s (of
      // Lambda's 15-minute maximum), so a step under a connection storm ends with a named error
      // before Lambda's timeout (lambda/rotate.ts).
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
    });
    const fn = this.rotator.function;
    // The one RDS root the function trusts (lambda/lib/rds-ca.ts), as for the data functions.
    fn.addEnvironment('DB_CA_TYPE', props.caCertificate.toString());
    fn.addEnvironment('EXCLUDE_CHARACTERS', PASSWORD_EXCLUDED_CHARACTERS);
    fn.addEnvironment('PASSWORD_LENGTH', String(PASSWORD_LENGTH));
    // Read with the grants of the admin secret's own schedule (rotate(), called by Database).
    fn.addEnvironment('ADMIN_SECRET_ARN', props.adminSecret.secretArn);
    props.instance.connections.allowDefaultPortFrom(
      this.rotator.securityGroup,
      'from the secret rotation function'
    );
    props.secretsManagerEndpoint.connections.allowDefaultPortFrom(
      this.rotator.securityGroup,
      'Secret rotation calls Secrets Manager'
    );
    // A rotation can also be started by hand (aws secretsmanager rotate-secret) at any time.
    this.rotator.dependOnNetworkPath();
    this.waitFor = [this.rotator.securityGroup, props.instance, props.secretsManagerEndpoint];
  }

  /**
   * Rotates `secret` (RDS JSON format, a user of the instance) every `rotateAfter`. The schedule
   * does not rotate when it is created or updated (RotateImmediatelyOnUpdate false): Secrets
   * Manager then only "tests the rotation configuration by running the testSecret step"
   * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-secretsmanager-rotationschedule.html,
   * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html), so a
   * deploy that changes the rotation function (the move from the hosted applications, or to
   * alternating users) rotates nothing, and a rollback of it meets no AWSPENDING left behind
   * (docs/rotation.md). That test still logs in, so the schedule waits for the function's whole
   * network path: its security group's egress rules, the instance's ingress rule for it (in the
   * instance's construct) and the endpoint with its rules.
   * CDK grants the function this secret's Describe/Get/Put/UpdateVersionStage and Secrets
   * Manager's invoke permission, which the schedule depends on.
   */
  public rotate(secret: secretsmanager.ISecret): secretsmanager.RotationSchedule {
    const schedule = secret.addRotationSchedule('RotationSchedule', {
      rotationLambda: this.rotator.function,
      automaticallyAfter: this.rotateAfter,
      rotateImmediatelyOnUpdate: false,
    });
    schedule.node.addDependency(...this.waitFor);
    // CDK added the grants to the role's DefaultPolicy; its Resource::* finding is
    // GetRandomPassword's alone (the role's own "*" is acknowledged by DataFunction).
    Validations.of(this.rotator.function.role!.node.findChild('DefaultPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'secretsmanager:GetRandomPassword acts on no resource and accepts only "*" ' +
        '(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html); ' +
        'CDK adds it with the rotation schedule.',
    });
    // CDK's invoke permission for Secrets Manager names no source. AWS: "In the resource policy
    // for your Lambda function, we recommend that you include the context key aws:SourceAccount
    // to help prevent AWS Lambda from being used as a confused deputy", and only that key, so one
    // function can rotate several secrets ("Permissions for rotation", an earlier version of
    // https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-required-permissions-function.html).
    for (const child of this.rotator.function.node.children) {
      if (
        child instanceof lambda.CfnPermission &&
        child.principal === 'secretsmanager.amazonaws.com'
      ) {
        child.sourceAccount = Stack.of(this).account;
      }
    }
    return schedule;
  }
}
