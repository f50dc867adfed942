import { PreflightError } from './checks';

const USAGE = 'Usage: npm run preflight -- [--stage sandbox] [--region eu-west-1]';

/** `--stage prod`, `--stage=prod`, `--region eu-west-1`; defaults: sandbox, the SDK's region. */
export function parseArgs(argv: readonly string[]): { stage: string; region?: string } {
  const found: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag !== '--stage' && flag !== '--region') {
      throw new PreflightError(`Unknown option ${argv[i]}. ${USAGE}`);
    }
    const value = inline ?? argv[++i];
    if (!value || value.startsWith('--')) {
      throw new PreflightError(`${flag} needs a value. ${USAGE}`);
    }
    found[flag.slice(2)] = value;
  }
  return { stage: found.stage ?? 'sandbox', region: found.region };
}
