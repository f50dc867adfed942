import { Template } from 'aws-cdk-lib/assertions';
import { referencesIn } from './template-facts';
import { resourcesOf } from './synthesize';

/**
 * IAM facts read from a synthesized template, shared by the invariants about rights: which
 * statements a role carries, and a small evaluator for the policies the stack writes (Allow and
 * Deny, Action globs, StringEquals / ArnLike conditions). Not a full IAM engine: it knows what
 * the stack's policies use, and a policy using anything else is reported, not guessed.
 */

/** One statement of an identity or resource policy, as CloudFormation holds it. */
export interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action?: string | string[];
  readonly Resource?: unknown;
  readonly Principal?: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Where a statement comes from: the role's inline policy, an attached AWS::IAM::Policy, or a managed policy. */
export interface RoleStatement {
  readonly source: string;
  readonly statement: Statement;
}

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export function actionsOf(statement: Statement): string[] {
  return asList(statement.Action);
}

export function resourcesOfStatement(statement: Statement): unknown[] {
  return asList(statement.Resource as unknown);
}

/** The logical id of the role a function's `Role` (GetAtt X.Arn) names. */
export function roleOf(fn: { Properties: Record<string, unknown> }): string | undefined {
  return [...referencesIn(fn.Properties.Role ?? {})][0];
}

/** Every statement a role carries, and the managed policies attached to it (as written). */
export function roleStatements(
  template: Template,
  roleId: string
): { statements: RoleStatement[]; managedPolicies: unknown[] } {
  const role = resourcesOf(template, 'AWS::IAM::Role').find(([id]) => id === roleId)?.[1];
  if (!role) return { statements: [], managedPolicies: [] };
  const statements: RoleStatement[] = [];
  for (const policy of asList(
    role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[]
  )) {
    for (const statement of asList(policy.PolicyDocument.Statement)) {
      statements.push({ source: `${roleId} (inline)`, statement });
    }
  }
  for (const [policyId, policy] of resourcesOf(template, 'AWS::IAM::Policy')) {
    if (!referencesIn(policy.Properties.Roles ?? []).has(roleId)) continue;
    for (const statement of asList(policy.Properties.PolicyDocument.Statement as Statement[])) {
      statements.push({ source: policyId, statement });
    }
  }
  return { statements, managedPolicies: asList(role.Properties.ManagedPolicyArns as unknown[]) };
}

/** Whether an IAM action pattern (`service:Get*`, `*`) covers an action. Case-insensitive, as IAM. */
export function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
    'i'
  );
  return regex.test(action);
}

/**
 * A request as an endpoint or resource policy sees it. Context values are compared as the
 * template writes them (JSON of the value, so `{ Ref: AWS::AccountId }` is "this account").
 */
export interface Request {
  readonly action: string;
  /** Condition keys present in the request; a key left out is absent. */
  readonly context: Readonly<Record<string, unknown>>;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Whether a statement's conditions hold for the request; throws on an operator it does not know. */
function conditionsHold(statement: Statement, request: Request): boolean {
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      const present = Object.prototype.hasOwnProperty.call(request.context, key);
      const actual = request.context[key];
      const values = asList(expected);
      if (operator === 'StringEquals' || operator === 'ArnEquals' || operator === 'ArnLike') {
        // An absent key makes these operators false (no ...IfExists here).
        if (!present || !values.some((value) => same(value, actual))) return false;
      } else {
        throw new Error(`iam-facts cannot evaluate the condition operator ${operator}`);
      }
    }
  }
  return true;
}

/** Allowed unless a matching Deny, and only with a matching Allow (explicit deny wins). */
export function policyAllows(statements: Statement[], request: Request): boolean {
  const matching = statements.filter(
    (s) => actionsOf(s).some((a) => actionMatches(a, request.action)) && conditionsHold(s, request)
  );
  return !matching.some((s) => s.Effect === 'Deny') && matching.some((s) => s.Effect === 'Allow');
}

/** Service principals a role's trust policy names, with the conditions of each statement. */
export function trustedServices(role: {
  Properties: Record<string, unknown>;
}): { service: string; condition: Statement['Condition'] }[] {
  const document = role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] };
  return asList(document?.Statement).flatMap((statement) =>
    asList((statement.Principal as { Service?: string | string[] })?.Service).map((service) => ({
      service,
      condition: statement.Condition,
    }))
  );
}
