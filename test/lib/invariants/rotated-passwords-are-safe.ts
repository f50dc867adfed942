import { referencedIds, TemplateGraph } from '../template-graph';
import { Invariant } from './invariant';

/**
 * A rotation generates each new password itself: unless it excludes the same characters as the
 * secret's first generated password, a rotated password may hold characters a consumer
 * mishandles (a URL's '@' and '/', a shell's quotes), months after the first deploy.
 */
export const invariant: Invariant = {
  name: "every rotation generates passwords with its secret's excluded characters",
  check: ({ template }) => {
    const graph = new TemplateGraph(template);
    const problems: string[] = [];
    for (const [id, schedule] of graph.ofType('AWS::SecretsManager::RotationSchedule')) {
      let [secretId] = referencedIds(schedule.Properties.SecretId);
      const attachment = graph.resources[secretId];
      if (attachment?.Type === 'AWS::SecretsManager::SecretTargetAttachment') {
        [secretId] = referencedIds(attachment.Properties.SecretId);
      }
      const excluded =
        graph.resources[secretId]?.Properties?.GenerateSecretString?.ExcludeCharacters;
      const [rotatorId] = referencedIds(schedule.Properties.RotationLambdaARN);
      const rotator = graph.resources[rotatorId];
      const rotatorExcludes =
        rotator?.Type === 'AWS::Serverless::Application'
          ? rotator.Properties.Parameters?.excludeCharacters
          : rotator?.Properties?.Environment?.Variables?.EXCLUDE_CHARACTERS;
      if (!excluded) {
        problems.push(
          `${secretId} (rotated by ${id}) generates its password with no excluded characters`
        );
      } else if (rotatorExcludes !== excluded) {
        problems.push(
          `${rotatorId} rotates ${secretId} excluding ${JSON.stringify(rotatorExcludes)}, not the ` +
            `secret's ${JSON.stringify(excluded)}: pass the same excludeCharacters`
        );
      }
    }
    return problems;
  },
};
