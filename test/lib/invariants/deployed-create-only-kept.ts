import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { valueAt } from '../create-only';
import { Invariant } from './invariant';

/**
 * The create-only property values every resource of a deployed stack had when they were last
 * recorded (deployed-create-only.json, by record-create-only.ts). A resource that keeps its
 * logical ID (deployed-logical-ids-kept.ts) is still replaced when one of these changes, is set
 * or is removed: CloudFormation creates the new resource, moves references to it and deletes the
 * old one ("Update requires: Replacement" on each property's page of the CloudFormation
 * resource reference, e.g.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html).
 * For the database instance that is a new, empty database; for a secret, a new password nobody
 * has; for a subnet, a new subnet that the instance must move to. Not checked: the schemas'
 * conditionalCreateOnlyProperties, updated in place unless they cannot be (an instance's
 * BackupRetentionPeriod or StorageType, for example).
 */
interface Recorded {
  readonly createOnly: { readonly byType: Record<string, string[]> };
  readonly resources: Record<string, Record<string, unknown>>;
  readonly perStage: Record<string, Record<string, Record<string, unknown>>>;
  readonly perConfiguration: Record<string, Record<string, Record<string, unknown>>>;
}
const RECORDED = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'deployed-create-only.json'), 'utf8')
) as Recorded;
const IDS = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'deployed-logical-ids.json'), 'utf8')
) as { types: Record<string, string>; configurations: Record<string, string[]> };

/** Create-only changes made on purpose: `logicalId.Property: why`. */
const INTENTIONALLY_CHANGED: Readonly<Record<string, string>> = {};

export const invariant: Invariant = {
  name: 'every create-only property of a deployed resource keeps its value (no replacement on update)',
  check: ({ configuration, template }) => {
    const resources = template.toJSON().Resources as Record<
      string,
      { Type: string; Properties?: Record<string, unknown> }
    >;
    const recordedValues = (id: string) =>
      RECORDED.perConfiguration[configuration.label]?.[id] ??
      RECORDED.perStage[configuration.stage]?.[id] ??
      RECORDED.resources[id] ??
      {};
    return (IDS.configurations[configuration.label] ?? []).flatMap((id) => {
      const now = resources[id];
      // Gone or of another type: deployed-logical-ids-kept.ts says so.
      if (now === undefined || now.Type !== IDS.types[id]) return [];
      const before = recordedValues(id);
      return (RECORDED.createOnly.byType[now.Type] ?? [])
        .filter((property) => !(`${id}.${property}` in INTENTIONALLY_CHANGED))
        .filter(
          (property) => !isDeepStrictEqual(valueAt(now.Properties, property), before[property])
        )
        .map(
          (property) =>
            `${id} (${now.Type}): ${property} is ${shown(valueAt(now.Properties, property))}, ` +
            `deployed ${shown(before[property])}: ${consequence(now.Type, property)}. ` +
            'Keep the value, or list it in INTENTIONALLY_CHANGED with why'
        );
    });
  },
};

const shown = (value: unknown) => JSON.stringify(value) ?? 'not set';

/**
 * What CloudFormation does with the change. A custom resource's ServiceToken cannot change at all
 * ("Updates aren't supported",
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cfn-customresource.html):
 * the update fails, "Modifying service token is not allowed".
 */
function consequence(type: string, property: string): string {
  return type.startsWith('Custom::') && property === 'ServiceToken'
    ? "CloudFormation refuses to change a custom resource's ServiceToken, so the update would fail"
    : 'CloudFormation would replace it on update';
}
