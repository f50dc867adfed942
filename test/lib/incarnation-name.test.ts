import { Stack } from 'aws-cdk-lib';
import { testApp } from './synthesize';
import { incarnationName } from '../../lib/incarnation-name';

/** The readable part of an incarnation name (before the stack id's digits). */
function prefixOf(stackName: string, id: string, max?: number): string {
  const stack = new Stack(testApp(), 'Stack', { stackName });
  const resolved = stack.resolve(incarnationName(stack, id, max)) as {
    'Fn::Join': [string, [string, unknown]];
  };
  return resolved['Fn::Join'][1][0];
}

test('a long stack name is cut, never the id: two replicas of one stack keep distinct names', () => {
  const stackName = 'a-very-long-stack-name-for-a-team-with-many-services-prod';
  const names = ['ReadReplicas-replica1', 'ReadReplicas-replica10'].map((id) =>
    prefixOf(stackName, id)
  );
  expect(names[0]).not.toBe(names[1]);
  for (const name of names) {
    expect(name.length).toBeLessThanOrEqual(54);
    expect(name).toMatch(/^a-very-long-stack[a-z0-9-]*-readreplicas-replica1(0)?$/);
    expect(name).not.toMatch(/--|-$/);
  }
});

test('a short stack name is kept whole, lower-cased', () => {
  expect(prefixOf('LambdaRdsMysql-prod', 'Database')).toBe('lambdardsmysql-prod-database');
});

test('an id that leaves no room for the stack name is refused, saying so', () => {
  expect(() => prefixOf('Stack', 'x'.repeat(60))).toThrow(/leaves no room for the stack name/);
});
