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
 * suffix; a long stack name is cut, never the id. Throws when the prefix is not a valid name of
 * letters, digits and single hyphens.
 */
export function incarnationName(scope: Construct, id: string, maxPrefixLength = 54): string {
  const clean = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/-+/g, '-');
  // Only the stack name is shortened: the construct id is what tells two names of one stack
  // apart (replica1 and replica10 must not both become "...-replica1").
  const idPart = clean(id).replace(/^-|-$/g, '');
  const stackRoom = maxPrefixLength - idPart.length - 1;
  if (stackRoom < 1) {
    throw new Error(
      `The name part "${idPart}" leaves no room for the stack name within ${maxPrefixLength} characters: use a shorter construct id.`
    );
  }
  const prefix = `${clean(Stack.of(scope).stackName).slice(0, stackRoom).replace(/-$/, '')}-${idPart}`;
  if (!/^[a-z][a-z0-9-]*[a-z0-9]$/.test(prefix) || /--/.test(prefix)) {
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
