// A minimal stand-in for the Lambda Node.js runtime, run as a child process: it loads one bundled
// handler once (module scope lives as long as the process, like an execution environment), says
// so with its init time, then runs the invocations the parent sends over IPC, one at a time,
// timing each here so that IPC is not counted. With --load-on-message it first says it started
// and loads only when the parent says so, so the parent can move it into a CPU share first and
// init runs there. Each reply also carries the process's CPU time so far (user + system, all
// threads, microsecond resolution: /proc's clock ticks are 10 ms), counted from the start of init.
import { loadHandler } from './load-handler.mjs';

let cpuAtInit;
const cpuMs = () => {
  const { user, system } = process.cpuUsage(cpuAtInit);
  return (user + system) / 1000;
};

async function init() {
  cpuAtInit = process.cpuUsage();
  const started = performance.now();
  const handler = await loadHandler(process.argv[2]); // init, top-level await included
  const initMs = performance.now() - started;
  process.on('message', async ({ id, event, remainingMs }) => {
    const deadline = Date.now() + remainingMs;
    // awsRequestId as Lambda passes it: unique per invocation (the metrics' first invocation).
    const context = {
      awsRequestId: `${process.pid}-${id}`,
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    const start = performance.now();
    try {
      const result = await handler(event, context);
      process.send({ id, ms: performance.now() - start, cpuMs: cpuMs(), result });
    } catch (error) {
      const { name, message } = error;
      process.send({ id, ms: performance.now() - start, cpuMs: cpuMs(), error: { name, message } });
    }
  });
  process.send({ initMs, initCpuMs: cpuMs() });
}

if (process.argv.includes('--load-on-message')) {
  process.once('message', init);
  process.send({ spawned: true });
} else {
  init();
}
