import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { checkPrerequisites } from '../../scripts/check-prerequisites';
import {
  PrerequisiteError,
  externalServer,
  findExecutable,
  findMariadb,
} from '../../test/support/prerequisites';

describe('prerequisites of the tests and local tools', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'prereq-test-'));
    for (const sub of ['path', 'homebrew']) mkdirSync(path.join(dir, sub));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const program = (sub: string, name: string) => {
    const file = path.join(dir, sub, name);
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o755);
    return file;
  };

  test('mariadbd is found on PATH and, when not there, in the usual places (e.g. Homebrew)', () => {
    const onPath = program('path', 'openssl');
    const homebrew = program('homebrew', 'mariadbd');
    const usual = [path.join(dir, 'homebrew')];
    const env = { PATH: path.join(dir, 'path') };
    expect(findExecutable('openssl', env, usual)).toBe(onPath);
    expect(findExecutable('mariadbd', env, usual)).toBe(homebrew);
    expect(findExecutable('mariadbd', env, [])).toBeUndefined();
  });

  test('a missing MariaDB is one line saying what to install or which variable to set', () => {
    let error: unknown;
    try {
      findMariadb({ PATH: path.join(dir, 'path') }, [path.join(dir, 'homebrew')]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PrerequisiteError);
    const { message } = error as Error;
    expect(message).toMatch(/^No mariadb-install-db on PATH or in /);
    expect(message).toMatch(/apt-get install mariadb-server/);
    expect(message).toMatch(/brew install mariadb/);
    expect(message).toMatch(/or set DATABASE_URL=mysql:\/\//);
    expect(message).not.toMatch(/\n/);
  });

  test('npm test stops first with that line, unless DATABASE_URL names a server', () => {
    const lines: string[] = [];
    const env = { PATH: path.join(dir, 'nowhere') };
    expect(checkPrerequisites(env, (l) => lines.push(l), [])).toBe(1);
    expect(lines).toEqual([
      expect.stringMatching(/^npm test needs a MySQL-compatible server\. No /),
    ]);
    expect(checkPrerequisites({ ...env, DATABASE_URL: 'mysql://root@h' }, () => 0, [])).toBe(0);
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
    expect(pkg.scripts.test).toMatch(/^tsx scripts\/check-prerequisites\.ts && tsc /);
  });

  test('DATABASE_URL / DB_TLS_CA_FILE, with MYSQL_URL / MYSQL_TLS_CA_FILE as aliases', () => {
    expect(externalServer({ DATABASE_URL: 'mysql://a', DB_TLS_CA_FILE: 'ca' })).toEqual({
      url: 'mysql://a',
      caFile: 'ca',
    });
    expect(externalServer({ MYSQL_URL: 'mysql://b', MYSQL_TLS_CA_FILE: 'ca2' })).toEqual({
      url: 'mysql://b',
      caFile: 'ca2',
    });
    expect(externalServer({})).toBeUndefined();
  });
});

test('a DATABASE_URL the tools cannot use fails in one line that names it and says what to check', async () => {
  const { openServer } = await import('../support/private-server');
  // As the demo opens it: with the server settings it runs under.
  const refused = openServer(
    { waitTimeout: 6 },
    { DATABASE_URL: 'mysql://nobody:wrong@127.0.0.1:1/app' }
  );
  await expect(refused).rejects.toMatchObject({
    name: 'PrerequisiteError',
    message: expect.stringMatching(
      /^Cannot use DATABASE_URL \(127\.0\.0\.1:1\): ECONNREFUSED\. Check its host, port.*unset DATABASE_URL/
    ),
  });
});
