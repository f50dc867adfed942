import { createOnlyValues, valueAt } from './create-only';

describe('create-only paths (CloudFormation resource schemas)', () => {
  const properties = {
    CidrBlock: '10.0.0.0/16',
    DnsOptions: { PrivateDnsPreference: 'ALL_DOMAINS' },
    Rules: [{ Port: 3306 }, { Port: 443 }],
  };

  test('reads a top-level property, a nested one, and one of every list item', () => {
    expect(valueAt(properties, 'CidrBlock')).toBe('10.0.0.0/16');
    expect(valueAt(properties, 'DnsOptions/PrivateDnsPreference')).toBe('ALL_DOMAINS');
    expect(valueAt(properties, 'Rules/*/Port')).toEqual([3306, 443]);
  });

  test('a path through a missing step is unset, and unset paths are left out', () => {
    expect(valueAt(properties, 'DnsOptions/PrivateDnsSpecifiedDomains')).toBeUndefined();
    expect(valueAt(properties, 'Missing/Deeper')).toBeUndefined();
    expect(
      createOnlyValues(properties, ['CidrBlock', 'DnsOptions/PrivateDnsSpecifiedDomains'])
    ).toEqual({ CidrBlock: '10.0.0.0/16' });
  });
});
