/**
 * The commands every rotation error and warning ends with. Each sequence leaves rotation ENABLED:
 * it removes a stuck AWSPENDING label if there is one, then starts a new rotation with
 * `rotate-secret`. Never `cancel-rotate-secret` alone: it turns rotation off until RotateSecret
 * is called again and leaves AWSPENDING behind
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CancelRotateSecret.html),
 * and RotateSecret refuses to start while AWSPENDING sits on a version other than AWSCURRENT's
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
 * test/lambda/rotation-recovery.test.ts checks every text built here.
 */

/**
 * `rotate-secret`, after removing AWSPENDING from `pendingVersionId` when given, and after
 * `between` (what to do once the label is gone, e.g. run the migration) when given.
 */
export function restartRotation(
  secretId: string,
  pendingVersionId?: string,
  between?: string
): string {
  const remove = pendingVersionId
    ? `aws secretsmanager update-secret-version-stage --secret-id ${secretId} ` +
      `--version-stage AWSPENDING --remove-from-version-id ${pendingVersionId}; then `
    : '';
  const then = between ? `${between}; then ` : '';
  return `${remove}${then}aws secretsmanager rotate-secret --secret-id ${secretId}`;
}
