import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { main as bench, publish } from '../../scripts/bench/bench';
import { buildRevisionHandlers } from '../../scripts/bench/revision-bundles';
import { main as dbMigrate } from '../../scripts/db-migrate';
import { main as demo } from '../../scripts/demo/demo';
import { main as drills } from '../../scripts/drills/drills';
import { main as figures } from '../../scripts/figures/figures';
import { Io } from '../../scripts/lib/cli';
import { cleanUpOnSignals, temporaryDirectory } from '../../scripts/lib/cleanup';
import { REPORTS_DIR, reportTarget } from '../../scripts/lib/report';
import { main as load } from '../../scripts/load/load';
import { main as preflight } from '../../scripts/preflight/preflight';
import { main as smoke } from '../../scripts/smoke/smoke';
import { readState } from '../support/state';

const ROOT = path.join(__dirname, '..', '..');

function capture(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (io.stdout += `${text}\n`),
    err: (text: string) => void (io.stderr += `${text}\n`),
  };
  return io;
}

const tools = [
  ['demo', demo],
  ['load', load],
  ['bench', bench],
  ['drills', drills],
  ['smoke', smoke],
  ['preflight', preflight],
  ['db:migrate', dbMigrate],
  ['docs:figures', figures],
] as const;

describe('every npm run tool explains itself', () => {
  test.each(tools)(
    'npm run %s -- --help prints its usage and exits 0, doing nothing',
    async (name, main) => {
      const io = capture();
      expect(await main(['--help'], io)).toBe(0);
      expect(io.stdout).toMatch(new RegExp(`^Usage: npm run ${name}`));
      expect(io.stdout).toMatch(/\n {2}-h, --help +Print this help and exit\./);
      expect(io.stderr).toBe('');
    }
  );

  test.each(tools)(
    'npm run %s with an unknown option prints the usage and exits 2',
    async (name, main) => {
      const io = capture();
      expect(await main(['--bogus'], io)).toBe(2);
      expect(io.stderr).toMatch(
        new RegExp(`^Unknown option --bogus\\.\\n\\nUsage: npm run ${name}`)
      );
      expect(io.stderr).not.toMatch(/failed/i);
      expect(io.stdout).toBe('');
    }
  );

  test('a bad value is a usage error too', async () => {
    const io = capture();
    expect(await bench(['--cold-path-only', '--runs=many'], io)).toBe(2);
    expect(io.stderr).toMatch(/^--runs must be a whole number of 1 or more, got "many"/);
  });

  test('bench --against measures the first-invocation table only, and needs a revision that exists', async () => {
    const io = capture();
    expect(await bench(['--against=HEAD'], io)).toBe(2);
    expect(io.stderr).toMatch(/^--against compares the first-invocation table only/);
    expect(() => buildRevisionHandlers('no-such-revision')).toThrow(
      /^--against: no-such-revision names no commit of .*: give a commit, branch or tag/
    );
  });

  test("bench --against builds a revision's writer and reader from git, and removes them after", () => {
    const built = buildRevisionHandlers('HEAD');
    try {
      expect(built.commit).toMatch(/^[0-9a-f]{7}$/);
      for (const handler of Object.values(built.handlers)) {
        expect(statSync(handler.file).size).toBe(handler.bytes);
        expect(readFileSync(handler.file, 'utf8')).toMatch(/^export {\s*handler\s*};/m);
      }
    } finally {
      built.dispose();
    }
    // <temporary folder>/bundles/writer/index.mjs: the whole temporary folder is gone.
    expect(existsSync(path.resolve(built.handlers.writer.file, '..', '..', '..'))).toBe(false);
  });

  test('db:migrate without DATABASE_URL says what to set', async () => {
    const io = capture();
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      expect(await dbMigrate([], io)).toBe(2);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
    expect(io.stderr).toMatch(/^Set DATABASE_URL to the database to migrate/);
  });

  test('a wrong password on a local db:migrate says to check DATABASE_URL, not a rotation', async () => {
    const { server } = readState();
    const env = {
      DATABASE_URL: `mysql://nobody:wrong@${server.host}:${server.port}/app${server.caFile ? '?tls=true' : ''}`,
      DB_TLS_CA_FILE: server.caFile,
    };
    const failure = dbMigrate([], capture(), env);
    await expect(failure).rejects.toThrow(
      /denied user "nobody": check the user and password in DATABASE_URL/
    );
    await expect(failure).rejects.not.toThrow(/rotation|AWSPENDING/);
  });

  test('spawned as npm runs it: --help exits 0 with the usage on stdout', () => {
    const run = spawnSync(
      process.execPath,
      [require.resolve('tsx/cli'), 'scripts/db-migrate.ts', '--help'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }
    );
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Usage: npm run db:migrate\n/);
  });
});

describe('tools leave the tree as they found it', () => {
  test('runs write to a git-ignored folder unless asked to update the committed reports', () => {
    expect(reportTarget(true).dir).toBe(REPORTS_DIR);
    const scratch = path.relative(ROOT, reportTarget(false).benchJson);
    const ignored = spawnSync('git', ['check-ignore', '-q', scratch], { cwd: ROOT });
    expect(ignored.status).toBe(0);
  });

  describe('bench publishes only what passed', () => {
    let dir: string;
    let readme: string;
    let committedJson: string;
    const before = '# r\n<!-- bench:start -->\nold\n<!-- bench:end -->\n';
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'publish-test-'));
      readme = path.join(dir, 'README.md');
      committedJson = path.join(dir, 'bench.json');
      writeFileSync(readme, before);
      writeFileSync(committedJson, '{}\n');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    test('a failed check: nothing published, exit 1, even with --update-reports', () => {
      const io = capture();
      const code = publish({ benchSeconds: 1 }, ['the load phase missed its goals'], {
        update: true,
        committedJson,
        readme,
        io,
      });
      expect(code).toBe(1);
      expect(io.stderr).toMatch(/Not publishing these figures: the load phase missed its goals/);
      expect(readFileSync(readme, 'utf8')).toBe(before);
      expect(readFileSync(committedJson, 'utf8')).toBe('{}\n');
    });

    test('without --update-reports the committed files stay as they were', () => {
      const io = capture();
      expect(publish({ benchSeconds: 1 }, [], { update: false, committedJson, readme, io })).toBe(
        0
      );
      expect(readFileSync(readme, 'utf8')).toBe(before);
      expect(readFileSync(committedJson, 'utf8')).toBe('{}\n');
      expect(io.stdout).toMatch(/run with --update-reports to publish/);
    });

    test('with --update-reports and every check passed, both are written', () => {
      const io = capture();
      expect(publish({ benchSeconds: 1 }, [], { update: true, committedJson, readme, io })).toBe(0);
      expect(readFileSync(readme, 'utf8')).not.toBe(before);
      expect(JSON.parse(readFileSync(committedJson, 'utf8'))).toEqual({ benchSeconds: 1 });
    });
  });

  test('SIGINT or SIGTERM removes the temporary directories and exits 130 or 143', async () => {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const target = Object.assign(new EventEmitter(), { exit: jest.fn() });
      const { dir } = temporaryDirectory('signal-test-');
      cleanUpOnSignals(target, () => undefined);
      target.emit(signal);
      await new Promise<void>((resolve) => {
        const wait = () => (target.exit.mock.calls.length > 0 ? resolve() : setTimeout(wait, 5));
        wait();
      });
      expect(target.exit).toHaveBeenCalledWith(code);
      expect(existsSync(dir)).toBe(false);
    }
  });
});
