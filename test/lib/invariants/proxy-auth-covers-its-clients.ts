import { TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/**
 * RDS Proxy admits a client only with credentials of a secret in its auth list, and logs in to
 * the database with that secret ("The proxy uses the secrets ... to authenticate":
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-secrets-arns.html). A function
 * that connects through the proxy (DB_PROXY_HOST) with a secret the proxy does not know gets
 * access denied on every invocation, and nothing in synth says so.
 */
export const invariant: Invariant = {
  name: "every function that connects through the proxy has its secret in the proxy's auth list",
  check: ({ template }) => {
    const graph = new TemplateGraph(template);
    const proxies = new Map(
      graph
        .ofType('AWS::RDS::DBProxy')
        .map(([id, proxy]) => [
          id,
          new Set(
            ((proxy.Properties.Auth ?? []) as { SecretArn: unknown }[]).map((a) =>
              JSON.stringify(a.SecretArn)
            )
          ),
        ])
    );
    const problems: string[] = [];
    for (const [id, fn] of graph.ofType('AWS::Lambda::Function')) {
      const env = fn.Properties.Environment?.Variables ?? {};
      const proxyRef = env.DB_PROXY_HOST?.['Fn::GetAtt']?.[0];
      if (env.DB_PROXY_HOST === undefined) continue;
      const known = proxies.get(proxyRef);
      if (!known) {
        problems.push(`${id} connects through DB_PROXY_HOST, which names no DBProxy of the stack`);
      } else if (!known.has(JSON.stringify(env.DB_SECRET_ARN))) {
        problems.push(
          `${id} connects through ${proxyRef} with ${JSON.stringify(env.DB_SECRET_ARN)}, which is not in the proxy's Auth: ` +
            "add the secret to the proxy (lib/lambda-rds-stack.ts passes every declared function's)"
        );
      }
    }
    return problems;
  },
};
