/**
 * What a caller may do after a write whose outcome is unknown (the connection was lost, or the
 * server did not answer in time: it may still commit). Whether retrying is safe depends on the
 * function: an upsert is idempotent, an insert of a new order is not. The stack sets
 * DB_WRITES_IDEMPOTENT from the function's declaration (lib/data-functions.ts); without it
 * nothing is promised.
 */
export function unknownOutcomeAdvice(env: NodeJS.ProcessEnv = process.env): string {
  return env.DB_WRITES_IDEMPOTENT === 'true'
    ? "this function's writes are idempotent, so retrying the same event is safe"
    : "this function's writes are not declared idempotent: check whether the write took effect " +
        'before sending it again';
}
