import { SqlConnection } from '../../../lambda/lib/connection';
import { ValidationError } from '../../../lambda/lib/errors';

/** An order as the handler returns it. */
export interface Order {
  readonly id: number;
  readonly email: string;
  readonly item: string;
  readonly quantity: number;
}

export type NewOrder = Omit<Order, 'id'>;

/** `{ email, item, quantity }`, checked before anything connects: a bad event touches nothing. */
export function parseOrder(event: unknown): NewOrder {
  const e = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
  if (typeof e.email !== 'string' || !/^[^@\s]{1,64}@[^@\s]{1,189}$/.test(e.email)) {
    throw new ValidationError('email', 'must be an e-mail address');
  }
  if (typeof e.item !== 'string' || e.item.length < 1 || e.item.length > 200) {
    throw new ValidationError('item', 'must be a string of 1 to 200 characters');
  }
  if (
    !Number.isInteger(e.quantity) ||
    (e.quantity as number) < 1 ||
    (e.quantity as number) > 1000
  ) {
    throw new ValidationError('quantity', 'must be a whole number from 1 to 1000');
  }
  return { email: e.email.toLowerCase(), item: e.item, quantity: e.quantity as number };
}

/**
 * Records a new order: one INSERT, one round trip. Not idempotent: the same event twice is two
 * orders (the declaration says so, and the errors tell the caller to check before a retry).
 */
export async function insertOrder(db: SqlConnection, order: NewOrder): Promise<Order> {
  const result = await db.query<{ insertId: number }>(
    'INSERT INTO orders (email, item, quantity) VALUES (?, ?, ?)',
    [order.email, order.item, order.quantity]
  );
  return { id: Number(result.insertId), ...order };
}

/**
 * The init phase's statement (lambda/lib/init-preparation.ts): reads nothing a caller sees and
 * writes nothing, within the user's grants (INSERT on orders only).
 */
export async function prepareOrdersStatement(db: SqlConnection): Promise<void> {
  await db.query('SELECT 1 AS ready', []);
}
