/**
 * Reads once, then up to `retries` more times `everyMs` apart, until `done` holds; returns the
 * last value read. For conditions the server reaches asynchronously (a QUIT being processed).
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { retries, everyMs = 10 }: { retries: number; everyMs?: number }
): Promise<T> {
  let value = await read();
  for (let i = 0; i < retries && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    value = await read();
  }
  return value;
}
