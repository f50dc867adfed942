import { dbInstances, instanceAlarms } from '../template-facts';
import { Invariant } from './invariant';

const GIB = 1024 ** 3;

/**
 * RDS storage autoscaling acts when free space is at most 10 % of the allocated storage for five
 * minutes, up to MaxAllocatedStorage
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html). Every
 * instance autoscales (MaxAllocatedStorage above its allocation), and its FreeStorageSpace alarm
 * (bytes, https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html) sits at most at
 * half of that trigger for the initial allocation (storage never shrinks), so it fires on what
 * autoscaling cannot fix, not on every autoscale.
 */
export const invariant: Invariant = {
  name: 'every DB instance autoscales its storage, and its FreeStorageSpace alarm fires only where autoscaling cannot help',
  check: ({ template }) => {
    const { primary, replicas } = dbInstances(template);
    const allocatedGiB = Number(primary[1].Properties.AllocatedStorage);
    return [primary, ...replicas].flatMap(([id, instance]) => {
      const problems: string[] = [];
      const ceiling = Number(instance.Properties.MaxAllocatedStorage);
      if (!(ceiling > allocatedGiB)) {
        problems.push(
          `${id} has MaxAllocatedStorage ${instance.Properties.MaxAllocatedStorage} for ${allocatedGiB} GiB allocated: storage autoscaling is off`
        );
      }
      const alarms = instanceAlarms(template, id, 'FreeStorageSpace');
      if (alarms.length === 0) problems.push(`${id} has no FreeStorageSpace alarm`);
      const trigger = (allocatedGiB * GIB) / 10;
      for (const [alarmId, alarm] of alarms) {
        const { Threshold: threshold, ComparisonOperator: operator } = alarm.Properties;
        if (!['LessThanThreshold', 'LessThanOrEqualToThreshold'].includes(operator)) {
          problems.push(
            `${alarmId} compares with ${operator}: it must fire on too little free space`
          );
        }
        if (!(threshold > 0 && threshold <= trigger / 2)) {
          problems.push(
            `${alarmId} fires below ${threshold / GIB} GiB, but autoscaling already acts at ${trigger / GIB} GiB ` +
              '(10 % of the allocation): alarm at half of that or lower'
          );
        }
      }
      return problems;
    });
  },
};
