// Masks the content hashes CDK puts in asset paths and S3 keys, so snapshots change when the
// template changes, not whenever handler code or esbuild output does.
const ASSET_HASH = /[0-9a-f]{64}/g;

const serializer = {
  test: (value: unknown) => typeof value === 'string' && new RegExp(ASSET_HASH.source).test(value),
  serialize: (value: string) => JSON.stringify(value.replace(ASSET_HASH, '[ASSET HASH]')),
};

export = serializer;
