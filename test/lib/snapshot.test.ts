import { synthesize } from './synthesize';

// One snapshot per stage catches any unreviewed template change; asset hashes are masked by
// test/setup/asset-hash-serializer.ts. Requirements are asserted one by one in stack.test.ts.
test.each(['sandbox', 'prod'])('%s template matches the snapshot', (stage) => {
  expect(synthesize(stage).template.toJSON()).toMatchSnapshot();
});
