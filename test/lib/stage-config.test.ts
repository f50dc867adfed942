import { RemovalPolicy } from 'aws-cdk-lib';
import { stageConfig } from '../../lib/stage-config';

describe('stageConfig', () => {
  test('sandbox is small and destroyable', () => {
    expect(stageConfig('sandbox')).toMatchObject({
      instanceType: 't4g.micro',
      multiAz: false,
      deletionProtection: false,
      databaseRemovalPolicy: RemovalPolicy.DESTROY,
    });
  });

  test('prod is highly available and hard to delete', () => {
    expect(stageConfig('prod')).toMatchObject({
      multiAz: true,
      deletionProtection: true,
      databaseRemovalPolicy: RemovalPolicy.SNAPSHOT,
    });
    expect(stageConfig('prod').backupRetention.toDays()).toBeGreaterThan(
      stageConfig('sandbox').backupRetention.toDays()
    );
  });

  test('fails on an unknown stage and lists the known ones', () => {
    expect(() => stageConfig('staging')).toThrow(
      /Unknown stage "staging". Use one of: sandbox, prod/
    );
    expect(() => stageConfig('toString')).toThrow(/Unknown stage/);
  });
});
