import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Runs openssl with these arguments in the directory the files go to. */
export type OpenSsl = (...args: string[]) => Promise<unknown>;

/** EC P-256 keys without a passphrase: fast to make, and every client here speaks them. */
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
/** Every test certificate outlives any test run, and no more. */
const DAYS = ['-days', '2'];

/** `<name>.key` and `<name>.pem`: a self-signed CA named `subject`. */
export function makeCa(openssl: OpenSsl, name: string, subject: string): Promise<unknown> {
  return openssl(
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    ...DAYS,
    '-subj',
    `/CN=${subject}`
  );
}

/**
 * `<name>.key` and `<name>.pem`, a certificate for `subjectAltName` signed by the CA `ca`
 * (`<ca>.key`, `<ca>.pem`), which `caReady` makes meanwhile.
 */
export async function makeSignedCertificate(
  openssl: OpenSsl,
  dir: string,
  leaf: { name: string; subject: string; subjectAltName: string },
  ca: { name: string; ready: Promise<unknown> }
): Promise<void> {
  writeFileSync(path.join(dir, `${leaf.name}.ext`), `subjectAltName=${leaf.subjectAltName}\n`);
  await Promise.all([
    ca.ready,
    openssl(
      'req',
      ...EC_KEY,
      '-keyout',
      `${leaf.name}.key`,
      '-out',
      `${leaf.name}.csr`,
      '-subj',
      `/CN=${leaf.subject}`
    ),
  ]);
  await openssl(
    'x509',
    '-req',
    '-in',
    `${leaf.name}.csr`,
    '-CA',
    `${ca.name}.pem`,
    '-CAkey',
    `${ca.name}.key`,
    '-CAcreateserial',
    '-out',
    `${leaf.name}.pem`,
    ...DAYS,
    '-extfile',
    `${leaf.name}.ext`
  );
}
