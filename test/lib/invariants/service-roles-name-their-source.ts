import { resourcesOf } from '../synthesize';
import { trustedServices } from '../iam-facts';
import { Invariant } from './invariant';

/**
 * Lambda assumes an execution role only for a function whose configuration names it, and naming
 * it there takes iam:PassRole in this account: the role's trust needs no source condition.
 */
const EXEMPT = new Set(['lambda.amazonaws.com']);

/**
 * RDS Proxy's role is trusted without conditions (lib/database-proxy.ts): no RDS Proxy page says
 * the proxy sends aws:SourceAccount / aws:SourceArn when it assumes it, and a conditioned role it
 * could not assume would refuse every login through the proxy.
 */
const UNCONDITIONED_ROLE_PREFIXES = ['ProxyIAMRole'];

/**
 * Every other role a service assumes (the flow log's) is trusted only on behalf
 * of this account's resources: aws:SourceAccount equal to this account and aws:SourceArn within
 * it, as the services' confused-deputy pages recommend
 * (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/cross-service-confused-deputy-prevention.html).
 */
export const invariant: Invariant = {
  name: 'every role a service other than Lambda assumes names this account as aws:SourceAccount and an aws:SourceArn in it',
  check: ({ template }) =>
    resourcesOf(template, 'AWS::IAM::Role')
      .filter(([id]) => !UNCONDITIONED_ROLE_PREFIXES.some((prefix) => id.startsWith(prefix)))
      .flatMap(([id, role]) =>
        trustedServices(role)
          .filter(({ service }) => !EXEMPT.has(service))
          .flatMap(({ service, condition }) => {
            const problems: string[] = [];
            const account = condition?.StringEquals?.['aws:SourceAccount'];
            if (JSON.stringify(account) !== JSON.stringify({ Ref: 'AWS::AccountId' })) {
              problems.push(`${id} trusts ${service} without aws:SourceAccount = this account`);
            }
            const sourceArn =
              condition?.ArnLike?.['aws:SourceArn'] ?? condition?.ArnEquals?.['aws:SourceArn'];
            const arnText = JSON.stringify(sourceArn ?? '');
            if (!sourceArn || !arnText.includes('AWS::AccountId') || /^"?\*"?$/.test(arnText)) {
              problems.push(`${id} trusts ${service} without an aws:SourceArn of this account`);
            }
            return problems;
          })
      ),
};
