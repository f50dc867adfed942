import { createHash } from 'node:crypto';
import * as path from 'node:path';
import {
  CfnElement,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, IDependable } from 'constructs';
import { Grant, grantClauses } from '../lambda/lib/grants';
import { SchemaModule, schemaStatements } from '../lambda/lib/schema-module';
import { MigrationUser } from '../lambda/migration-users';
import { SCHEMA_MODULES } from '../lambda/schema-modules';
import { DatabaseClientProps, DataFunction } from './data-function';
import { functionRole } from './function-role';

export interface DatabaseUser {
  /** The declared function's name, which the user serves. */
  readonly role: string;
  /** The user's secret (RDS JSON format): its username and password become the MySQL user. */
  readonly secret: secretsmanager.ISecret;
  /** What the user may do on the app schema (the function's declaration). */
  readonly grants: readonly Grant[];
}

export interface SchemaMigrationProps extends DatabaseClientProps {
  /** Admin credentials: only this construct's function may read them. */
  readonly adminSecret: secretsmanager.ISecret;
  /** The least-privilege users to create, one per declared function. */
  readonly users: readonly DatabaseUser[];
  /**
   * The schema modules the migration applies: their statements make the schema version, so a
   * change re-runs the migration. The function itself bundles lambda/schema-modules.ts.
   * @default SCHEMA_MODULES
   */
  readonly schemaModules?: readonly SchemaModule[];
  /** The Secrets Manager endpoint: the migration waits for it and its rules before it runs. */
  readonly secretsManagerEndpoint: DatabaseClientProps['secretsManagerEndpoint'] & IDependable;
}

/**
 * A deploy-time custom resource that applies the schema (lambda/migrate.ts) and creates one
 * MySQL user per function with least privileges and `REQUIRE SSL`, on every create and update.
 * Make the functions depend on it, so they never run before their user exists.
 */
export class SchemaMigration extends Construct {
  public readonly resource: CustomResource;
  public readonly handler: DataFunction;

  constructor(scope: Construct, id: string, props: SchemaMigrationProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.handler = new DataFunction(this, 'MigrationFunction', {
      entry: path.join(__dirname, '..', 'lambda', 'migration-resource.ts'),
      description:
        'Applies the schema and creates the least-privilege database users (custom resource)',
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      // Deploys are serialized by CloudFormation; one connection is all it needs.
      reservedConcurrency: 1,
      timeout: Duration.minutes(5),
      logRetention,
    });
    this.handler.bindDatabase({
      secret: props.adminSecret,
      database: props.database,
      secretsManagerEndpoint: props.secretsManagerEndpoint,
    });
    for (const user of props.users) user.secret.grantRead(this.handler.function);
    // The users, their secrets and grants are the function's own configuration, fixed at synth:
    // an invoker cannot choose them (lambda/migration-resource.ts refuses an event that differs).
    const users: MigrationUser[] = props.users.map(({ role, secret, grants }) => ({
      role,
      secretArn: secret.secretArn,
      grants,
    }));
    assertFitsLambdaEnvironment(users);
    this.handler.function.addEnvironment('MIGRATION_USERS', Stack.of(this).toJsonString(users));

    // The provider framework's function answers CloudFormation from outside the VPC, so the
    // isolated subnets need no route to the S3 response URL.
    const providerLogs = new logs.LogGroup(this, 'ProviderLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role, writing only its own log group (lib/function-role.ts), rather than the
    // default one with AWSLambdaBasicExecutionRole; the provider adds the invoke permission.
    const providerRole = functionRole(this, 'ProviderRole', {
      logGroup: providerLogs,
      description: 'Custom resource framework: invokes the migration, writes its own log group',
    });
    const provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.handler.function,
      logGroup: providerLogs,
      frameworkOnEventRole: providerRole,
    });
    acknowledgeProviderFindings(providerRole, this.handler);

    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::SchemaMigration',
      properties: {
        Users: props.users.map(({ role, secret }) => ({ Role: role, SecretArn: secret.secretArn })),
        SchemaVersion: schemaVersion(props.schemaModules ?? SCHEMA_MODULES, props.users),
      },
    });
    // Not before its whole network path exists: the instance and its security group's rule for
    // this function, the function's own egress rules (created in parallel otherwise, and a late
    // one is a connect timeout that fails the create and rolls the stack back), and the Secrets
    // Manager endpoint with its ingress rules. A DependsOn on a construct covers every resource
    // in it (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html).
    this.resource.node.addDependency(
      props.database,
      this.handler.securityGroup,
      props.secretsManagerEndpoint
    );
  }
}

/**
 * Changes whenever a schema module's statements or a user's grants change, so CloudFormation
 * re-runs the migration. (A user added or removed changes the Users property itself.)
 */
export function schemaVersion(
  modules: readonly SchemaModule[],
  users: readonly Pick<DatabaseUser, 'grants'>[]
): string {
  const definition = [
    schemaStatements(modules, ''),
    ...users.map(({ grants }) => grantClauses(grants, 'app')),
  ];
  return createHash('sha256').update(JSON.stringify(definition)).digest('hex').slice(0, 16);
}

/**
 * Lambda refuses a function whose environment variables exceed 4 KB in all
 * ("Total size of environment variables": https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): fail at synth, not
 * at deploy. A secret's ARN is a token here; a deployed one is at most about 120 characters.
 */
function assertFitsLambdaEnvironment(users: readonly MigrationUser[]): void {
  const deployed = JSON.stringify(users.map((u) => ({ ...u, secretArn: 'x'.repeat(120) })));
  if (deployed.length > 3_500) {
    throw new Error(
      `The migration's user list (MIGRATION_USERS, about ${deployed.length} bytes for ` +
        `${users.length} functions) would not fit Lambda's 4 KB of environment variables. ` +
        'Fewer grants per function (a role per table group), or fewer data functions.'
    );
  }
}

function acknowledgeProviderFindings(role: iam.Role, handler: DataFunction): void {
  const stack = Stack.of(role);
  const handlerId = stack.resolve(
    stack.getLogicalId(handler.function.node.defaultChild as CfnElement)
  );
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${handlerId}.Arn>:*]`,
    reason:
      'The framework may invoke any version or alias of the one migration function (the wildcard is the qualifier only).',
  });
}
