// The Lambda runtime stand-in for the CPU bench, run as a child process. Unlike
// test/support/lambda-runtime.mjs it waits for the parent's "load" before it loads the bundle,
// so the parent can first move it into a CPU share (cgroup) and module init runs inside it,
// and it times init and each invocation itself, so IPC is not counted.
import { loadHandler } from '../../test/support/load-handler.mjs';

process.once('message', async () => {
  const started = performance.now();
  const handler = await loadHandler(process.argv[2]); // init, top-level await included
  const initMs = performance.now() - started;
  process.on('message', async ({ id, event }) => {
    const context = { getRemainingTimeInMillis: () => 10_000 };
    const start = performance.now();
    try {
      const result = await handler(event, context);
      process.send({ id, ms: performance.now() - start, result });
    } catch (error) {
      process.send({ id, ms: performance.now() - start, error: `${error.name}: ${error.message}` });
    }
  });
  process.send({ initMs });
});
process.send({ spawned: true });
