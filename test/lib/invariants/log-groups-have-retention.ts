import { resourcesOf } from '../synthesize';
import { Invariant } from './invariant';

export const invariant: Invariant = {
  name: 'every log group the stack creates has a retention',
  check: ({ template }) =>
    resourcesOf(template, 'AWS::Logs::LogGroup')
      .filter(([, group]) => group.Properties.RetentionInDays === undefined)
      .map(([id]) => `${id} keeps its logs forever: give it the stage's logRetention`),
};
