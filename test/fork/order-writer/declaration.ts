import { DataFunctionDeclaration } from '../../../lib/data-function-declaration';
import { DATA_FUNCTIONS } from '../../../lib/declared-functions';
import { SCHEMA_MODULES } from '../../../lambda/schema-modules';
import { ORDERS_SCHEMA } from './orders-schema';

/** The one declaration a fork adds to DATA_FUNCTIONS (lib/declared-functions.ts). */
export const ORDER_WRITER = {
  name: 'order-writer',
  entry: 'test/fork/order-writer/handler.ts',
  description: 'Records an order; opens and closes its own MySQL connection per invocation',
  grants: [{ privileges: ['INSERT'], table: 'orders' }],
  connectionShare: 1,
  idempotentWrites: false,
} as const satisfies DataFunctionDeclaration;

/** The fork's lists: the shipped ones with the new function and its schema module appended. */
export const FORK = {
  functions: [...DATA_FUNCTIONS, ORDER_WRITER],
  schemaModules: [...SCHEMA_MODULES, ORDERS_SCHEMA],
};
