import * as path from 'node:path';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DatabaseClientProps, DataFunction, ProxyBinding } from './data-function';

const LAMBDA_DIR = path.join(__dirname, '..', 'lambda');

export interface DataFunctionsProps extends DatabaseClientProps {
  /** Secret the writer connects with; the writer can read no other. */
  readonly writerSecret: secretsmanager.ISecret;
  /** Secret the reader connects with; the reader can read no other. */
  readonly readerSecret: secretsmanager.ISecret;
  /** Reserved concurrency of the writer (= connections it can hold), from `connectionBudget()`. */
  readonly writerConcurrency: number;
  /** Reserved concurrency of the reader (= connections it can hold), from `connectionBudget()`. */
  readonly readerConcurrency: number;
  /**
   * RDS Proxy both functions connect through.
   * @default - they connect to the instance directly
   */
  readonly proxy?: ProxyBinding;
}

/** The writer and reader functions, each opening its own connection inside the handler. */
export class DataFunctions extends Construct {
  public readonly writer: DataFunction;
  public readonly reader: DataFunction;

  constructor(scope: Construct, id: string, props: DataFunctionsProps) {
    super(scope, id);
    const common = {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      logRetention: props.logRetention,
    };

    this.writer = new DataFunction(this, 'Writer', {
      ...common,
      entry: path.join(LAMBDA_DIR, 'writer.ts'),
      description:
        'Upserts a user by email; opens and closes its own MySQL connection per invocation',
      reservedConcurrency: props.writerConcurrency,
    });
    this.writer.bindDatabase({
      secret: props.writerSecret,
      database: props.database,
      secretsManagerEndpoint: props.secretsManagerEndpoint,
      proxy: props.proxy,
    });

    this.reader = new DataFunction(this, 'Reader', {
      ...common,
      entry: path.join(LAMBDA_DIR, 'reader.ts'),
      description:
        'Reads a user by email or a page of users; opens and closes its own MySQL connection per invocation',
      reservedConcurrency: props.readerConcurrency,
    });
    this.reader.bindDatabase({
      secret: props.readerSecret,
      database: props.database,
      secretsManagerEndpoint: props.secretsManagerEndpoint,
      proxy: props.proxy,
    });
  }
}
