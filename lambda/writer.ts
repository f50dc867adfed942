// Placeholder until the data path lands: fails loudly rather than returning a fake result.
export async function handler(_event: unknown): Promise<never> {
  throw new Error('writer handler is not implemented yet');
}
