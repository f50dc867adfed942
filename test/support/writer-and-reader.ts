import { AppDatabase } from './app-database';
import { LambdaEnvironment } from './lambda-environment';
import { ServerInfo } from './private-server';

/** A schema of its own with one writer and one reader environment: what most handler tests need. */
export interface WriterAndReader {
  readonly db: AppDatabase;
  readonly writer: LambdaEnvironment;
  readonly reader: LambdaEnvironment;
}

/** Creates the schema `label` on `server` (the run's shared server by default) and starts both environments. */
export async function startWriterAndReader(
  label: string,
  server?: ServerInfo
): Promise<WriterAndReader> {
  const db = await AppDatabase.create(label, server);
  const [writer, reader] = await Promise.all([
    LambdaEnvironment.start('writer', db.env('writer')),
    LambdaEnvironment.start('reader', db.env('reader')),
  ]);
  return { db, writer, reader };
}

/** Stops what startWriterAndReader started; tolerates a setup that failed half-way. */
export async function stopWriterAndReader(
  started: Partial<WriterAndReader> | undefined
): Promise<void> {
  await Promise.all([started?.writer?.stop(), started?.reader?.stop()]);
  await started?.db?.dispose();
}
