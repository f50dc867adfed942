// A minimal stand-in for the Lambda Node.js runtime, run as a child process. It loads one bundled
// handler once, when the parent says so (the parent may first move it into a CPU share, so that
// init runs there), and keeps its module scope for as long as the process lives, like an
// execution environment. Then it runs the invocations the parent sends over IPC, one at a time.
// Init and each invocation are timed here, so IPC is not counted.
import { loadHandler } from './load-handler.mjs';

process.once('message', async () => {
  const started = performance.now();
  const handler = await loadHandler(process.argv[2]); // init, top-level await included
  const initMs = performance.now() - started;
  process.on('message', async ({ id, event, remainingMs }) => {
    const deadline = Date.now() + remainingMs;
    const context = { getRemainingTimeInMillis: () => deadline - Date.now() };
    const start = performance.now();
    try {
      const result = await handler(event, context);
      process.send({ id, ms: performance.now() - start, result });
    } catch (error) {
      const { name, message } = error;
      process.send({ id, ms: performance.now() - start, error: { name, message } });
    }
  });
  process.send({ initMs });
});
process.send({ spawned: true });
