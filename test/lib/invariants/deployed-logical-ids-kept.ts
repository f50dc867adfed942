import * as fs from 'node:fs';
import * as path from 'node:path';
import { Invariant } from './invariant';

/**
 * The logical IDs every configuration had when the stack's resources were last recorded
 * (deployed-logical-ids.json). CloudFormation replaces a resource whose logical ID changes: a
 * new secret (a new password nobody has), a new function, a new database instance. New IDs are
 * fine; one that disappears or changes type must be meant, and then be listed below with why.
 */
const RECORDED = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'deployed-logical-ids.json'), 'utf8')
) as { types: Record<string, string>; configurations: Record<string, string[]> };

/** IDs removed on purpose: `id: why`. */
const FUNCTION_ROLE =
  "a role of its own (lib/function-role.ts) replaces CDK's service role and its policy, to drop " +
  'the wildcard log rights of AWSLambdaBasicExecutionRole (issue 26, item 3): the function is ' +
  'updated to the new role, not replaced';
const INTENTIONALLY_REMOVED: Readonly<Record<string, string>> = {
  FunctionsWriterFunctionServiceRole012BFCB6: FUNCTION_ROLE,
  FunctionsReaderFunctionServiceRole79589699: FUNCTION_ROLE,
  SchemaMigrationMigrationFunctionServiceRole7E34D896: FUNCTION_ROLE,
  DatabaseRotationRotatorFunctionServiceRole11E4FBA2: FUNCTION_ROLE,
  SchemaMigrationProviderframeworkonEventServiceRole38D15A26: FUNCTION_ROLE,
  FunctionsWriterFunctionServiceRoleDefaultPolicyA57DD450: FUNCTION_ROLE,
  FunctionsReaderFunctionServiceRoleDefaultPolicyE19B6D3F: FUNCTION_ROLE,
  SchemaMigrationMigrationFunctionServiceRoleDefaultPolicy04E3B31B: FUNCTION_ROLE,
  DatabaseRotationRotatorFunctionServiceRoleDefaultPolicy1554A823: FUNCTION_ROLE,
  SchemaMigrationProviderframeworkonEventServiceRoleDefaultPolicyD7ED5B95: FUNCTION_ROLE,
  MonitoringWriterErrorsAlarm4B95A98D:
    "Errors alarms paged on any invoker's bad event: replaced by Failures and RefusedLogins (issue 26, item 6)",
  MonitoringReaderErrorsAlarmD8DBA9C5:
    "Errors alarms paged on any invoker's bad event: replaced by Failures and RefusedLogins (issue 26, item 6)",
};

export const invariant: Invariant = {
  name: 'every logical ID a deployed stack of this configuration has is kept, with its type (no accidental replacement)',
  check: ({ configuration, template }) => {
    const recorded = RECORDED.configurations[configuration.label];
    if (!recorded) {
      return [
        `No logical IDs are recorded for "${configuration.label}": add them to test/lib/deployed-logical-ids.json`,
      ];
    }
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    return recorded
      .filter((id) => !(id in INTENTIONALLY_REMOVED))
      .flatMap((id) => {
        const now = resources[id]?.Type;
        if (now === RECORDED.types[id]) return [];
        return [
          now === undefined
            ? `${id} (${RECORDED.types[id]}) is gone: CloudFormation would delete it and create whatever replaced it. Keep its construct id and path, or list it in INTENTIONALLY_REMOVED with why`
            : `${id} changed type from ${RECORDED.types[id]} to ${now}: CloudFormation would replace it`,
        ];
      });
  },
};
