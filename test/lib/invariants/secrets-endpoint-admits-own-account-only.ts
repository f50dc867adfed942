import { functionsOf, referencesIn } from '../template-facts';
import { resourcesOf } from '../synthesize';
import {
  actionsOf,
  policyAllows,
  Request,
  resourcesOfStatement,
  roleOf,
  roleStatements,
  Statement,
} from '../iam-facts';
import { Invariant } from './invariant';

const THIS_ACCOUNT = { Ref: 'AWS::AccountId' };
const OTHER_ACCOUNT = '111122223333';

/** A request from a principal of `principal`'s account, on a secret of `resource`'s (absent: no resource). */
const request = (action: string, principal: unknown, resource?: unknown): Request => ({
  action,
  context: {
    'aws:PrincipalAccount': principal,
    ...(resource === undefined ? {} : { 'aws:ResourceAccount': resource }),
  },
});

/**
 * Every Secrets Manager call a caller of the stack may make (each function's role and the RDS
 * Proxy's role: whether or not the proxy's reads pass the endpoint, they must not depend on it
 * being open), as the endpoint sees it: a principal of this account, on a secret of this
 * account, or on no resource for an action granted on "*" (GetRandomPassword).
 */
function callers(template: Parameters<Invariant['check']>[0]['template']) {
  const roles = new Map<string, string>();
  for (const { id, fn } of functionsOf(template)) {
    const role = roleOf(fn);
    if (role) roles.set(role, id);
  }
  for (const [id, proxy] of resourcesOf(template, 'AWS::RDS::DBProxy')) {
    for (const role of referencesIn(proxy.Properties.RoleArn ?? {})) roles.set(role, id);
  }
  return [...roles].flatMap(([roleId, caller]) =>
    roleStatements(template, roleId).statements.flatMap(({ statement }) =>
      statement.Effect !== 'Allow'
        ? []
        : actionsOf(statement)
            .filter((action) => action.toLowerCase().startsWith('secretsmanager:'))
            .flatMap((action) =>
              resourcesOfStatement(statement).map((resource) => ({
                caller,
                action,
                onResource: resource !== '*',
              }))
            )
    )
  );
}

/**
 * The Secrets Manager endpoint admits only this account's principals acting on this account's
 * secrets (and GetRandomPassword, which has no resource), and every call the stack's callers
 * make passes it (lib/network.ts, limitToOwnAccount).
 */
export const invariant: Invariant = {
  name: "the Secrets Manager endpoint admits only this account's principals on this account's secrets, and every caller's calls",
  check: ({ template }) => {
    const endpoints = resourcesOf(template, 'AWS::EC2::VPCEndpoint').filter(([, e]) =>
      JSON.stringify(e.Properties.ServiceName).includes('secretsmanager')
    );
    if (endpoints.length === 0) return ['the stack has no Secrets Manager endpoint'];
    return endpoints.flatMap(([id, endpoint]) => {
      const document = endpoint.Properties.PolicyDocument as { Statement: Statement[] } | undefined;
      if (!document) return [`${id} has no policy: it admits any principal to any secret`];
      const statements = document.Statement;
      const problems: string[] = [];
      const refused: [string, Request][] = [
        [
          'a principal of another account reading a secret of this one',
          request('secretsmanager:GetSecretValue', OTHER_ACCOUNT, THIS_ACCOUNT),
        ],
        [
          'a principal of this account writing a secret of another one',
          request('secretsmanager:PutSecretValue', THIS_ACCOUNT, OTHER_ACCOUNT),
        ],
        [
          'a principal of this account creating a secret in another one',
          request('secretsmanager:CreateSecret', THIS_ACCOUNT, OTHER_ACCOUNT),
        ],
        [
          'a principal of another account asking for a random password',
          request('secretsmanager:GetRandomPassword', OTHER_ACCOUNT),
        ],
      ];
      for (const [what, r] of refused) {
        if (policyAllows(statements, r)) problems.push(`${id} admits ${what} (${r.action})`);
      }
      for (const { caller, action, onResource } of callers(template)) {
        const r = request(action, THIS_ACCOUNT, onResource ? THIS_ACCOUNT : undefined);
        if (!policyAllows(statements, r)) {
          problems.push(
            `${id} refuses ${caller}'s ${action} ${onResource ? "on this account's secret" : '(no resource)'}: ` +
              'the stack would fail at run time'
          );
        }
      }
      return problems;
    });
  },
};
