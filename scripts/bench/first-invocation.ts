import * as path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { AppDatabase } from '../../test/support/app-database';
import { BuiltHandler } from '../../test/support/bundle';
import { EndpointTls, SecretsEndpoint } from '../../test/support/secrets-endpoint';
import { SimulatedEnvironment } from '../../test/support/simulated-environment';
import { PREPARE_AT_INIT_ENV } from '../../lambda/lib/init-preparation';
import { CpuShare, CpuShareSupport } from '../lib/cpu-share';
import { Progress } from '../lib/progress';
import { median, ratio, round } from '../lib/stats';
import type { RevisionHandlers } from './revision-bundles';

/** Memory sizes of the first-invocation table (the CPU share is memory / 1769 MB). */
export const FIRST_INVOCATION_SIZES = [128, 256, 512, 1024] as const;

/**
 * Where init runs, and when the first request comes. 'full vCPU': unthrottled, as Lambda runs an
 * on-demand function's init (an AWS Serverless Land guide says so; not verified here), the
 * request right after. 'share': on the memory size's share, the request right after: an
 * on-demand init without that allowance, the worst case. A first invocation right after an init
 * on the share may wait out the rest of the 100 ms quota period that the init used up, or not,
 * depending on where in its period the init ended; rows of this model mix both.
 * 'share, first request later': init on the share, as a provisioned-concurrency environment
 * initialises (the same guide), and the first request FIRST_REQUEST_LATER_MS later, with a fresh
 * quota. 'share, TLS session expired': the same, but the server forgets its TLS sessions first
 * (FLUSH SSL), as when a provisioned environment waits longer than the session lifetime for its
 * first request: the code is compiled, the handshake is full.
 */
export type FirstInvocationInit =
  'full vCPU' | 'share' | 'share, first request later' | 'share, TLS session expired';

/** How much later a provisioned environment's first request comes here: three quota periods. */
export const FIRST_REQUEST_LATER_MS = 300;

export interface FirstInvocationRow {
  readonly memoryMb: number;
  readonly handler: 'writer' | 'reader';
  readonly initOn: FirstInvocationInit;
  /** Whether the init ran the data path (shipped) or only read the secret (DB_PREPARE_AT_INIT=false). */
  readonly prepared: boolean;
  /**
   * Set on the rows of the revision given to --against: its own build, with its own init (then
   * `prepared` is false, whatever that revision's init does).
   */
  readonly revision?: string;
  /** Medians over the runs. */
  readonly initMs: number;
  readonly firstInvocationMs: number;
  /** Median of the warm invocations of the same environments. */
  readonly warmMs: number;
  /** firstInvocationMs / warmMs. */
  readonly firstVsWarm: number;
  /** initMs + firstInvocationMs (median of the sums). */
  readonly coldMs: number;
  /** coldMs / the same row's coldMs without the preparation (the same run). */
  readonly coldVsUnprepared: number;
  /**
   * CPU time of init + first invocation (user + system, all threads; median of the sums): what
   * a CPU share stretches into wall time, without the share's 100 ms periods and the machine's
   * noise. (Absent in reports from before it was measured.)
   */
  readonly coldCpuMs?: number;
  /** coldCpuMs / the same row's without the preparation. */
  readonly coldCpuVsUnprepared?: number;
  /** With --against: coldMs / the revision's coldMs, same init model. */
  readonly coldVsRevision?: number;
  /** With --against: coldCpuMs / the revision's coldCpuMs, same init model. */
  readonly coldCpuVsRevision?: number;
}

export interface FirstInvocationResult {
  /** ISO-8601: the table may be measured apart from the rest of the bench (--first-invocation-only). */
  readonly measuredAt: string;
  readonly runs: number;
  readonly warmInvocations: number;
  /** FIRST_REQUEST_LATER_MS of the run (absent in reports from before that model). */
  readonly firstRequestLaterMs?: number;
  /**
   * The revision measured beside today's build (--against), the commit it named, and whether its
   * package-lock.json differed from the one whose packages built it.
   */
  readonly against?: {
    readonly revision: string;
    readonly commit: string;
    readonly otherLockfile?: boolean;
  };
  readonly rows: FirstInvocationRow[];
}

export interface FirstInvocationSetup {
  readonly db: AppDatabase;
  readonly handlers: Record<'writer' | 'reader', BuiltHandler>;
  readonly endpointTls?: EndpointTls;
  readonly caFile?: string;
  /** Another revision's writer and reader, measured as a third build (bench --against). */
  readonly against?: Pick<RevisionHandlers, 'revision' | 'commit' | 'otherLockfile' | 'handlers'>;
}

const EVENTS = {
  writer: { email: 'first-invocation@example.com', name: 'bench' },
  reader: { email: 'first-invocation@example.com' },
} as const;

/**
 * Per memory size, function, init model, with and without the init preparation: fresh
 * environments (`runs` each, taking turns so machine noise lands on all alike), each timed on its
 * first invocation and then on `warmInvocations` more, in the same environment. The ratio
 * first / warm is the issue's measure; the cold path (init + first) is compared with the same
 * build without the preparation, which is how the functions ran before it, and, with
 * `setup.against`, with another revision's build as it shipped.
 */
export async function measureFirstInvocation(
  setup: FirstInvocationSetup,
  support: CpuShareSupport,
  { runs = 3, warmInvocations = 20, sizes = FIRST_INVOCATION_SIZES as readonly number[] } = {},
  progress = new Progress('bench first invocation')
): Promise<FirstInvocationResult> {
  const endpoints = await Promise.all(
    (['writer', 'reader'] as const).map(async (role) => {
      const endpoint = await SecretsEndpoint.start(`arn:aws:secretsmanager:us-east-1:1:${role}`, {
        tls: setup.endpointTls,
      });
      endpoint.set('AWSCURRENT', setup.db.secret(role));
      return [role, endpoint] as const;
    })
  );
  const secrets = Object.fromEntries(endpoints) as Record<'writer' | 'reader', SecretsEndpoint>;
  const rows: FirstInvocationRow[] = [];
  try {
    for (const memoryMb of sizes) {
      const share = CpuShare.create(support, memoryMb);
      try {
        for (const handler of ['writer', 'reader'] as const) {
          const inits: FirstInvocationInit[] = [
            'full vCPU',
            'share',
            'share, first request later',
            'share, TLS session expired',
          ];
          const builds = [
            { prepared: true },
            { prepared: false },
            ...(setup.against ? [{ prepared: false, revision: setup.against.revision }] : []),
          ];
          const cases = inits.flatMap((initOn) => builds.map((build) => ({ initOn, ...build })));
          const samples = cases.map(() => ({
            init: [] as number[],
            first: [] as number[],
            warm: [] as number[],
            sum: [] as number[],
            cpu: [] as number[],
          }));
          for (let r = 0; r < runs; r++) {
            for (const [c, { initOn, prepared, revision }] of cases.entries()) {
              progress.update(
                `first invocation at ${memoryMb} MB: ${handler}, init on the ${initOn}, ` +
                  `${revision ? `as at ${revision}` : prepared ? 'prepared' : 'not prepared'}, ` +
                  `run ${r + 1} of ${runs}`
              );
              const env = await SimulatedEnvironment.start(
                handler,
                (revision ? setup.against!.handlers : setup.handlers)[handler].file,
                {
                  ...secrets[handler].env(),
                  AWS_LAMBDA_FUNCTION_NAME: `bench-${handler}`,
                  NODE_PATH: path.join(__dirname, '..', '..', 'node_modules'),
                  ...(setup.caFile ? { DB_TLS_CA_FILE: setup.caFile } : {}),
                  ...(prepared || revision ? {} : { [PREPARE_AT_INIT_ENV]: 'false' }),
                },
                { cpuShare: share, initOnFullCpu: initOn === 'full vCPU', quiet: true }
              );
              try {
                if (initOn === 'share, TLS session expired') {
                  await setup.db.admin.query('FLUSH SSL'); // MySQL: ALTER INSTANCE RELOAD TLS
                }
                if (
                  initOn === 'share, first request later' ||
                  initOn === 'share, TLS session expired'
                ) {
                  await setTimeout(FIRST_REQUEST_LATER_MS);
                }
                const first = await env.invokeOk(EVENTS[handler]);
                const warm: number[] = [];
                for (let i = 0; i < warmInvocations; i++) {
                  warm.push((await env.invokeOk(EVENTS[handler])).ms);
                }
                samples[c].init.push(env.initMs);
                samples[c].first.push(first.ms);
                samples[c].warm.push(median(warm));
                samples[c].sum.push(env.initMs + first.ms);
                samples[c].cpu.push(env.initCpuMs + first.cpuMs);
              } finally {
                await env.stop();
              }
            }
          }
          for (const [c, { initOn, prepared, revision }] of cases.entries()) {
            const s = samples[c];
            const sameInit = (build: { prepared: boolean; revision?: string }) =>
              samples[
                cases.findIndex(
                  (o) =>
                    o.initOn === initOn &&
                    o.prepared === build.prepared &&
                    o.revision === build.revision
                )
              ];
            const unprepared = sameInit({ prepared: false });
            const baseline = setup.against
              ? sameInit({ prepared: false, revision: setup.against.revision })
              : undefined;
            rows.push({
              memoryMb,
              handler,
              initOn,
              prepared,
              ...(revision ? { revision } : {}),
              initMs: round(median(s.init), 1),
              firstInvocationMs: round(median(s.first), 1),
              warmMs: round(median(s.warm), 2),
              firstVsWarm: round(ratio(median(s.first), median(s.warm))),
              coldMs: round(median(s.sum), 1),
              coldVsUnprepared: round(ratio(median(s.sum), median(unprepared.sum))),
              coldCpuMs: round(median(s.cpu), 1),
              coldCpuVsUnprepared: round(ratio(median(s.cpu), median(unprepared.cpu)), 3),
              ...(baseline
                ? {
                    coldVsRevision: round(ratio(median(s.sum), median(baseline.sum))),
                    coldCpuVsRevision: round(ratio(median(s.cpu), median(baseline.cpu)), 3),
                  }
                : {}),
            });
          }
        }
      } finally {
        await share.dispose();
      }
    }
  } finally {
    await Promise.all(Object.values(secrets).map((s) => s.stop()));
  }
  progress.done('first invocations measured');
  return {
    measuredAt: new Date().toISOString(),
    runs,
    warmInvocations,
    firstRequestLaterMs: FIRST_REQUEST_LATER_MS,
    ...(setup.against
      ? {
          against: {
            revision: setup.against.revision,
            commit: setup.against.commit,
            otherLockfile: setup.against.otherLockfile,
          },
        }
      : {}),
    rows,
  };
}
