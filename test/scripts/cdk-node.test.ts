import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

// `npx cdk synth` and `npx cdk deploy` run with the deployer's AWS credentials: on the user's own
// node, never on a binary an npm package put in node_modules/.bin (the Lambda runtime's Node for
// the tests is scripts/lambda-node.mjs's business alone). Checked on the installed tree.
const ROOT = path.join(__dirname, '..', '..');

/** The `node` a user's shell finds: the first on PATH outside this project. */
function usersNode(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'node');
    if (dir && !path.resolve(dir).startsWith(path.resolve(ROOT)) && existsSync(candidate)) {
      return realpathSync(candidate);
    }
  }
  throw new Error('no node on PATH outside the project');
}

describe('the CDK CLI runs on the node in the user PATH', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cdk-node-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('no installed package puts a node into node_modules/.bin', () => {
    expect(existsSync(path.join(ROOT, 'node_modules', '.bin', 'node'))).toBe(false);
  });

  test('npx cdk --version runs on it', () => {
    // Every node process started below records which binary runs which script.
    const probe = path.join(dir, 'probe.cjs');
    const log = path.join(dir, 'nodes.log');
    writeFileSync(
      probe,
      `require('node:fs').appendFileSync(${JSON.stringify(log)}, ` +
        "process.execPath + '\\t' + (process.argv[1] || '') + '\\n');\n"
    );
    const run = spawnSync('npx', ['--no-install', 'cdk', '--version'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env,
        NODE_OPTIONS: `--require ${probe}`,
        CDK_DISABLE_CLI_TELEMETRY: 'true',
      },
    });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const cdkRuns = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('\t'))
      .filter(([, script]) => /aws-cdk|[/\\]cdk$/.test(script));
    expect(cdkRuns.length).toBeGreaterThan(0);
    for (const [execPath] of cdkRuns) expect(realpathSync(execPath)).toBe(usersNode());
  });
});
