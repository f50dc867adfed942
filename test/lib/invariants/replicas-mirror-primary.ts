import { dbInstances, instanceAlarms } from '../template-facts';
import { Invariant } from './invariant';

/**
 * A read replica is the primary's copy in everything that keeps it working: engine version
 * (RDS wants replicas never older than their source, ModifyDBInstance:
 * https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html), minor
 * upgrades, class, parameter group, storage autoscaling (a replica does not grow with its source,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html), and the
 * alarms that tell when it runs out of connections or storage, and the logs it exports.
 */
const MIRRORED = [
  'EngineVersion',
  'AutoMinorVersionUpgrade',
  'DBInstanceClass',
  'DBParameterGroupName',
  'MaxAllocatedStorage',
  'StorageType',
  // The reader's queries run on the replicas: their slow ones are only seen if exported.
  'EnableCloudwatchLogsExports',
] as const;

export const invariant: Invariant = {
  name: "read replicas match the primary's engine version, upgrades, storage autoscaling, exported logs and alarms",
  check: ({ template }) => {
    const { primary, replicas } = dbInstances(template);
    const [, source] = primary;
    return replicas.flatMap(([id, replica]) => [
      ...MIRRORED.filter(
        (property) =>
          source.Properties[property] === undefined ||
          JSON.stringify(replica.Properties[property]) !==
            JSON.stringify(source.Properties[property])
      ).map(
        (property) =>
          `${id}.${property} is ${JSON.stringify(replica.Properties[property])}, the primary's ` +
          `${JSON.stringify(source.Properties[property])}: set it like the primary's (lib/read-replicas.ts)`
      ),
      ...['FreeStorageSpace', 'DatabaseConnections']
        .filter((metric) => instanceAlarms(template, id, metric).length === 0)
        .map((metric) => `${id} has no ${metric} alarm, although the primary has one`),
    ]);
  },
};
