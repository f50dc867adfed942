import { Fn, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * A physical name unique to one incarnation of the stack:
 * `<stack name>-<construct id>-<first 8 hex digits of the stack id's GUID>`, lower-cased.
 *
 * A fixed name breaks two things. CloudFormation replaces a resource by creating the new one
 * before deleting the old, so a change that needs replacement (a logical id that moved, a
 * create-only property) fails on the name the old one still holds ("CloudFormation cannot update
 * a stack when a custom-named resource requires replacing",
 * https://repost.aws/knowledge-center/cloudformation-custom-name). And a stack created again
 * under the same name (after `cdk destroy`, or a first create that rolled back) meets whatever
 * the earlier one retained. The stack id is new for each incarnation, and a name known before the
 * resource exists lets its log groups be created first (with a retention) under that name.
 *
 * `maxPrefixLength` bounds the readable part: the service's limit minus the 9 characters of the
 * suffix. Throws when the prefix is not a valid name of letters, digits and single hyphens.
 */
export function incarnationName(scope: Construct, id: string, maxPrefixLength = 54): string {
  const prefix = `${Stack.of(scope).stackName}-${id}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .slice(0, maxPrefixLength);
  if (!/^[a-z][a-z0-9-]*[a-z0-9]$/.test(prefix)) {
    throw new Error(
      `The name "${prefix}-<stack id>" derived from the stack name is not a valid identifier ` +
        '(letters, digits and single hyphens, starting with a letter). Rename the stack or pass a name explicitly.'
    );
  }
  return Fn.join('-', [prefix, stackIncarnationId(scope)]);
}

/**
 * The first 8 hex digits of the stack id's GUID (a token): different for every stack created,
 * also one created again under the same name.
 */
export function stackIncarnationId(scope: Construct): string {
  // arn:aws:cloudformation:<region>:<account>:stack/<name>/<guid> -> first group of <guid>.
  return Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Stack.of(scope).stackId))));
}
