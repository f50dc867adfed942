import { RemovalPolicy } from 'aws-cdk-lib';
import { stageConfig, withProxySwitch } from '../../lib/stage-config';

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

describe('the proxy switch', () => {
  test('is off in sandbox and on in prod', () => {
    expect(stageConfig('sandbox').proxy).toBe(false);
    expect(stageConfig('prod').proxy).toBe(true);
  });

  test('-c proxy=true|false overrides the stage, and nothing else changes', () => {
    expect(withProxySwitch(stageConfig('sandbox'), 'true')).toEqual({
      ...stageConfig('sandbox'),
      proxy: true,
    });
    expect(withProxySwitch(stageConfig('prod'), 'false').proxy).toBe(false);
    expect(withProxySwitch(stageConfig('prod'), undefined)).toBe(stageConfig('prod'));
  });

  test('fails when -c proxy is neither true nor false', () => {
    expect(() => withProxySwitch(stageConfig('sandbox'), 'yes')).toThrow(
      /-c proxy must be true or false, got "yes"/
    );
  });
});
