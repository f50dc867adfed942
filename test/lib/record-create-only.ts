/**
 * Records, for every configuration, the create-only property values of each resource (those
 * whose change makes CloudFormation replace the resource): test/lib/deployed-create-only.json,
 * read by invariants/deployed-create-only-kept.ts. Run it on the commit whose stack is deployed:
 *
 *   node_modules/.bin/tsx test/lib/record-create-only.ts "main at <commit> (<date>)"
 *
 * Which properties are create-only comes from the CloudFormation resource provider schemas
 * (`createOnlyProperties`), as bundled by cfn-lint (python3 -m pip install cfn-lint).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIGURATIONS, synthesizeConfiguration } from './configurations';
import { createOnlyValues } from './create-only';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

function createOnlyProperties(types: string[]): {
  version: string;
  byType: Record<string, string[]>;
} {
  const script = `
import json, sys, cfnlint.version
from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER as m
out = {}
for t in json.load(sys.stdin):
    props = m.get_resource_schema('us-east-1', t).schema.get('createOnlyProperties', [])
    out[t] = sorted(p[len('/properties/'):] for p in props if p.startswith('/properties/'))
print(json.dumps({'version': cfnlint.version.__version__, 'byType': out}))
`;
  const run = spawnSync('python3', ['-c', script], {
    input: JSON.stringify(types),
    encoding: 'utf8',
  });
  if (run.status !== 0) {
    throw new Error(`cfn-lint's schemas could not be read (is cfn-lint installed?): ${run.stderr}`);
  }
  return JSON.parse(run.stdout);
}

const templates = CONFIGURATIONS.map((configuration) => ({
  resources: synthesizeConfiguration(configuration).template.toJSON().Resources as Resources,
}));
const types = [...new Set(templates.flatMap((t) => Object.values(t.resources).map((r) => r.Type)))];
const { version, byType } = createOnlyProperties(types.sort());
// Each resource's create-only values: once where every configuration that has it agrees (most),
// per stage where a stage's configurations agree (names carry the stage), else per
// configuration. Which configuration has which resource is in deployed-logical-ids.json.
type Values = Record<string, unknown>;
// Empty where a resource sets none: a configuration whose resource sets none must not fall back
// to another's values.
const valuesIn = CONFIGURATIONS.map((configuration, i) => ({
  configuration,
  values: Object.entries(templates[i].resources).map(
    ([id, { Type, Properties = {} }]): [string, Values] => [
      id,
      createOnlyValues(Properties, byType[Type] ?? []),
    ]
  ),
}));
const distinct = (within: typeof valuesIn) => {
  const seen = new Map<string, Set<string>>();
  for (const { values } of within) {
    for (const [id, v] of values) seen.set(id, (seen.get(id) ?? new Set()).add(JSON.stringify(v)));
  }
  return seen;
};
const everywhere = distinct(valuesIn);
const stages = [...new Set(CONFIGURATIONS.map((c) => c.stage))];
const byStage = new Map(
  stages.map((stage) => [stage, distinct(valuesIn.filter((c) => c.configuration.stage === stage))])
);
const resources: Record<string, Values> = {};
const perStage: Record<string, Record<string, Values>> = {};
const perConfiguration: Record<string, Record<string, Values>> = {};
for (const { configuration, values } of valuesIn) {
  const inStage = byStage.get(configuration.stage)!;
  for (const [id, v] of values) {
    if (everywhere.get(id)!.size === 1) {
      if (Object.keys(v).length > 0) resources[id] = v;
    } else if (inStage.get(id)!.size === 1) (perStage[configuration.stage] ??= {})[id] = v;
    else (perConfiguration[configuration.label] ??= {})[id] = v;
  }
}
const file = path.join(__dirname, 'deployed-create-only.json');
fs.writeFileSync(
  file,
  JSON.stringify(
    {
      recordedFrom: process.argv[2] ?? 'the working tree',
      createOnly: {
        source: `CloudFormation resource provider schemas (us-east-1) as bundled by cfn-lint ${version}: createOnlyProperties`,
        byType: Object.fromEntries(Object.entries(byType).filter(([, props]) => props.length > 0)),
      },
      resources,
      perStage,
      perConfiguration,
    },
    null,
    2
  )
);
console.log(`wrote ${file}`);
