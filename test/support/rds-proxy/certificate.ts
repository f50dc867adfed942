import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { findMariadb } from '../prerequisites';
import { makeCa, makeSignedCertificate } from '../test-certificates';

const run = promisify(execFile);

/** Loopback addresses the proxy may listen on; its certificate names every one of them. */
export const PROXY_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`);

/** The proxy's own TLS material: a CA of its own (not the database's) and a certificate it signed. */
export interface ProxyCertificate {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** What a client trusts to verify the proxy: DB_TLS_CA_FILE of a function behind it. */
  readonly caFile: string;
  readonly dir: string;
}

/**
 * An RDS Proxy presents its own certificate, issued by ACM under the Amazon Root CAs, not the
 * database's RDS CA certificate
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.howitworks.html#rds-proxy-security.tls).
 * The stand-in does the same with a CA made here, so a client that trusts only the database's CA
 * cannot talk to it, and one behind the proxy verifies it through DB_TLS_CA_FILE.
 */
export async function makeProxyCertificate(): Promise<ProxyCertificate> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rds-proxy-'));
  const openssl = (...args: string[]) => run(findMariadb().openssl, args, { cwd: dir });
  // DNS:localhost as on the database's certificate (private-server.ts): mysql2 checks an IP
  // host's certificate against "localhost" (it passes no host name to Node's TLS for an IP).
  const names = [...PROXY_ADDRESSES.map((ip) => `IP:${ip}`), 'DNS:localhost'].join(',');
  await makeSignedCertificate(
    openssl,
    dir,
    { name: 'proxy', subject: 'rds-proxy', subjectAltName: names },
    { name: 'ca', ready: makeCa(openssl, 'ca', 'RDS Proxy stand-in CA') }
  );
  return {
    key: readFileSync(path.join(dir, 'proxy.key')),
    cert: readFileSync(path.join(dir, 'proxy.pem')),
    caFile: path.join(dir, 'ca.pem'),
    dir,
  };
}
