import { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { LambdaRdsStack } from '../../lib/lambda-rds-stack';
import { constructIdOf } from '../../lib/data-function-declaration';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import { CfnResource, resourcesOf } from './synthesize';

/**
 * A declared data function's Lambda resource, found by its declaration (the construct path
 * `Functions/<Name>/Function` makes its logical ID), never by description or count.
 */
export function functionOf(template: Template, name: string): [string, CfnResource] {
  const id = new RegExp(`^Functions${constructIdOf(name)}Function[0-9A-F]{8}$`);
  const found = resourcesOf(template, 'AWS::Lambda::Function').filter(([logicalId]) =>
    id.test(logicalId)
  );
  if (found.length !== 1) {
    throw new Error(`Expected one function for the declared "${name}", found ${found.length}.`);
  }
  return found[0];
}

/** Every declared data function's Lambda resource, in declaration order. */
export function dataFunctionsOf(
  template: Template,
  functions: readonly { name: string }[] = DATA_FUNCTIONS
): [string, CfnResource][] {
  return functions.map(({ name }) => functionOf(template, name));
}

/** Each declared function of a synthesized stack with its Lambda's logical ID, in declaration order. */
export function declaredFunctionIds(
  stack: LambdaRdsStack
): { readonly name: string; readonly id: string }[] {
  return stack.functions.functions.map(({ declaration, dataFunction }) => ({
    name: declaration.name,
    id: stack.resolve(
      stack.getLogicalId(dataFunction.function.node.defaultChild as CfnElement)
    ) as string,
  }));
}
