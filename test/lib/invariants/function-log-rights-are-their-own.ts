import { LAMBDA_VPC_ACTIONS } from '../../../lib/function-role';
import { functionsOf, referencesIn } from '../template-facts';
import {
  actionMatches,
  actionsOf,
  resourcesOfStatement,
  roleOf,
  roleStatements,
} from '../iam-facts';
import { Invariant } from './invariant';

/** Managed policies that grant logs:CreateLogGroup and writes to every log group. */
const WILDCARD_LOG_POLICIES = ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole'];

/**
 * What may stand on "*" in a function's role: the network-interface actions Lambda needs for a
 * VPC function (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html), and
 * secretsmanager:GetRandomPassword, which acts on no resource.
 */
const ALLOWED_ON_ANY_RESOURCE: readonly string[] = [
  ...LAMBDA_VPC_ACTIONS,
  'secretsmanager:GetRandomPassword',
];

const isLogsAction = (action: string) => actionMatches(action, 'logs:PutLogEvents');

/**
 * Every function writes to its own log group, a group of the stack (log-groups-are-owned.ts),
 * so its role may write there and nowhere else: no logs:CreateLogGroup, no logs rights on "*"
 * or on another group, none of the managed policies that grant them. The only "*" left are the
 * network-interface actions a VPC function needs, and the VPC functions have all of them.
 */
export const invariant: Invariant = {
  name: 'every function\'s role writes only its own log group, and holds on "*" only what must be there',
  check: ({ template }) =>
    functionsOf(template).flatMap(({ id, fn }) => {
      const roleId = roleOf(fn);
      if (!roleId) return [`${id} has no role of the stack`];
      const { statements, managedPolicies } = roleStatements(template, roleId);
      const problems: string[] = [];
      for (const policy of managedPolicies) {
        const name = WILDCARD_LOG_POLICIES.find((p) => JSON.stringify(policy).includes(p));
        if (name) {
          problems.push(
            `${id}'s role ${roleId} carries ${name} (logs:CreateLogGroup and writes to every log group): ` +
              'give the function a role of its own (lib/function-role.ts)'
          );
        }
      }
      const ownGroup = [...referencesIn(fn.Properties.LoggingConfig?.LogGroup ?? {})][0];
      for (const { source, statement } of statements) {
        if (statement.Effect !== 'Allow') continue;
        const actions = actionsOf(statement);
        const resources = resourcesOfStatement(statement);
        if (actions.some((a) => actionMatches(a, 'logs:CreateLogGroup'))) {
          problems.push(`${source} lets ${id} create log groups (logs:CreateLogGroup)`);
        }
        if (actions.some(isLogsAction)) {
          for (const resource of resources) {
            const group = [...referencesIn(resource)][0];
            if (ownGroup === undefined || group !== ownGroup || resource === '*') {
              problems.push(
                `${source} lets ${id} write logs to ${JSON.stringify(resource)}, not only its own group ${ownGroup ?? '(none)'}`
              );
            }
          }
        }
        if (resources.includes('*')) {
          for (const action of actions.filter((a) => !ALLOWED_ON_ANY_RESOURCE.includes(a))) {
            problems.push(`${source} grants ${id} ${action} on "*"`);
          }
        }
      }
      if (fn.Properties.VpcConfig) {
        const onAny = new Set(
          statements
            .filter(
              ({ statement }) =>
                statement.Effect === 'Allow' && resourcesOfStatement(statement).includes('*')
            )
            .flatMap(({ statement }) => actionsOf(statement))
        );
        for (const action of LAMBDA_VPC_ACTIONS.filter((a) => !onAny.has(a))) {
          problems.push(
            `${id} runs in the VPC but its role lacks ${action} on "*": Lambda cannot attach it`
          );
        }
      }
      return problems;
    }),
};
