import { InvocationContext } from '../../../lambda/lib/database';
import { databaseFromEnvironment, prepareForFirstInvocation } from '../../../lambda/lib/runtime';
import { insertOrder, Order, parseOrder, prepareOrdersStatement } from './orders-repository';

// A fork's handler, shaped like lambda/writer.ts: validate, one statement on a connection of
// its own, close. In a fork it is lambda/order-writer.ts. The init runs the data path once on a
// connection closed before the init ends (runtime.ts).
await prepareForFirstInvocation(() => [databaseFromEnvironment()], prepareOrdersStatement);

/** `{ email, item, quantity }` -> `{ order }`: every call records a new order. */
export async function handler(
  event: unknown,
  context?: InvocationContext
): Promise<{ order: Order }> {
  const input = parseOrder(event);
  const order = await databaseFromEnvironment().run((db) => insertOrder(db, input), context);
  return { order };
}
