import * as path from 'node:path';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DatabaseClientProps, DataFunction, ProxyBinding } from './data-function';
import { constructIdOf, DataFunctionDeclaration } from './data-function-declaration';

const PROJECT_ROOT = path.join(__dirname, '..');

/** A declared function with the secret it connects with. */
export interface DataFunctionWithSecret {
  readonly declaration: DataFunctionDeclaration;
  /** Its database user's secret (RDS JSON format); the function can read no other. */
  readonly secret: secretsmanager.ISecret;
}

export interface DataFunctionsProps extends DatabaseClientProps {
  /** The declared functions (lib/declared-functions.ts), each with its secret. */
  readonly functions: readonly DataFunctionWithSecret[];
  /**
   * Reserved concurrency of each function by name (= connections it can hold), from
   * `connectionBudget()` or `proxyConnectionBudget()`.
   */
  readonly concurrency: Readonly<Record<string, number>>;
  /**
   * RDS Proxy the functions connect through.
   * @default - they connect to the instance directly
   */
  readonly proxy?: ProxyBinding;
}

/** A deployed data function, by its declaration. */
export interface DeployedDataFunction extends DataFunctionWithSecret {
  readonly dataFunction: DataFunction;
}

/** The declared data functions, each opening its own connection inside the handler. */
export class DataFunctions extends Construct {
  /** In declaration order. */
  public readonly functions: readonly DeployedDataFunction[];

  constructor(scope: Construct, id: string, props: DataFunctionsProps) {
    super(scope, id);
    this.functions = props.functions.map(({ declaration, secret }) => {
      const reservedConcurrency = props.concurrency[declaration.name];
      if (reservedConcurrency === undefined) {
        throw new Error(`The connection budget has no concurrency for "${declaration.name}".`);
      }
      const dataFunction = new DataFunction(this, constructIdOf(declaration.name), {
        vpc: props.vpc,
        vpcSubnets: props.vpcSubnets,
        logRetention: props.logRetention,
        entry: path.join(PROJECT_ROOT, declaration.entry),
        description: declaration.description,
        reservedConcurrency,
      });
      dataFunction.bindDatabase({
        secret,
        database: props.database,
        secretsManagerEndpoint: props.secretsManagerEndpoint,
        proxy: props.proxy,
      });
      // Whether "retrying is safe" is true of this function's writes (lambda/lib/error-mapping.ts).
      dataFunction.function.addEnvironment(
        'DB_WRITES_IDEMPOTENT',
        String(declaration.idempotentWrites)
      );
      return { declaration, secret, dataFunction };
    });
  }

  /** The function declared as `name`; throws naming the declared ones when there is none. */
  public byName(name: string): DeployedDataFunction {
    const found = this.functions.find((f) => f.declaration.name === name);
    if (!found) {
      throw new Error(
        `No data function "${name}"; declared: ${this.functions.map((f) => f.declaration.name).join(', ')}.`
      );
    }
    return found;
  }
}
