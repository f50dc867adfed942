import {
  UPSERT_USER_PROCEDURE,
  UPSERT_USER_PROCEDURE_V1,
  UPSERT_USER_PROCEDURE_V2,
} from '../lambda/lib/users-schema';
import { checkDeclarations, DataFunctionDeclaration } from './data-function-declaration';

/**
 * The stack's data functions, declared once: the stack, the migration, the proxy, the budget,
 * monitoring, the figures and the test support all read this list (README "Fork it").
 * Order matters only for the budget's remainder (it goes to the largest share, first declared).
 */
export const DATA_FUNCTIONS = checkDeclarations([
  {
    name: 'writer',
    entry: 'lambda/writer.ts',
    description:
      'Upserts a user by email; opens and closes its own MySQL connection per invocation',
    grants: [
      { privileges: ['SELECT', 'INSERT', 'UPDATE'], table: 'users' },
      { privileges: ['EXECUTE'], procedure: UPSERT_USER_PROCEDURE },
      // Until every function runs code that calls the current version.
      { privileges: ['EXECUTE'], procedure: UPSERT_USER_PROCEDURE_V2 },
      { privileges: ['EXECUTE'], procedure: UPSERT_USER_PROCEDURE_V1 },
    ],
    connectionShare: 1,
    idempotentWrites: true,
  },
  {
    name: 'reader',
    entry: 'lambda/reader.ts',
    description:
      'Reads a user by email or a page of users; opens and closes its own MySQL connection per invocation',
    grants: [{ privileges: ['SELECT'], table: 'users' }],
    connectionShare: 2,
    idempotentWrites: true,
    readsReplicas: true,
  },
] as const satisfies readonly DataFunctionDeclaration[]);

/** A declared function's name: a role that is not declared here does not compile. */
export type AppRole = (typeof DATA_FUNCTIONS)[number]['name'];
