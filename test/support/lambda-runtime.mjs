// A minimal stand-in for the Lambda Node.js runtime, run as a child process: it loads one
// bundled handler once (module scope lives as long as the process, like an execution
// environment) and runs the invocations the parent sends over IPC, one at a time.
import { loadHandler } from './load-handler.mjs';

loadHandler(process.argv[2]).then((handler) => {
  process.on('message', async ({ id, event, remainingMs }) => {
    const deadline = Date.now() + remainingMs;
    const context = { getRemainingTimeInMillis: () => deadline - Date.now() };
    try {
      process.send({ id, result: await handler(event, context) });
    } catch (error) {
      process.send({ id, error: { name: error.name, message: error.message } });
    }
  });
  process.send({ ready: true });
});
