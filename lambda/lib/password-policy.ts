/**
 * What every generated database password looks like: the secrets' first passwords (CDK's
 * DatabaseSecret, lib/database.ts) and every rotated one (lambda/lib/rotation.ts) alike.
 *
 * Excluded: the characters that break a password in a URL (DATABASE_URL), a shell, JSON or a
 * MySQL string literal; the backslash in particular, which MySQL reads differently with and
 * without sql_mode NO_BACKSLASH_ESCAPES (sql-literals.ts refuses it). CDK's default for
 * DatabaseSecret, stated once here so the rotation uses it too.
 */
export const PASSWORD_EXCLUDED_CHARACTERS = ' %+~`#$&*()|[]{}:;<>?!\'/@"\\';

/** Length of every generated password: DatabaseSecret's default (30). */
export const PASSWORD_LENGTH = 30;
