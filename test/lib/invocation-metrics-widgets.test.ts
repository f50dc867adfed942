import { METRIC, METRICS_NAMESPACE } from '../../lambda/lib/metrics';
import { DATA_FUNCTIONS } from '../../lib/declared-functions';
import { dataFunctionsOf } from './declared';
import { resourcesOf, synthesize } from './synthesize';

describe('dashboard shows the per-invocation metrics the functions write', () => {
  // GIVEN the sandbox stack
  const { template } = synthesize('sandbox');
  const [, dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0];
  const body = JSON.stringify(dashboard.Properties.DashboardBody);
  const functionIds = dataFunctionsOf(template).map(([id]) => id);

  test('each metric is graphed in the functions’ namespace', () => {
    expect(body).toContain(METRICS_NAMESPACE);
    for (const name of Object.values(METRIC)) {
      // THEN once per declared function
      expect(body.match(new RegExp(`\\\\"${name}\\\\"`, 'g'))?.length).toBeGreaterThanOrEqual(
        DATA_FUNCTIONS.length
      );
    }
  });

  test('the metrics are filtered by each function’s name, the dimension the functions write', () => {
    for (const id of functionIds) {
      expect(body).toContain(`"FunctionName\\",\\"",{"Ref":"${id}"}`);
    }
  });
});
