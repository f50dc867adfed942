// Loads a bundled handler as the Lambda Node.js runtime does: `import()` for an ES module
// (`.mjs`, whose top-level await Lambda lets finish as part of the init), `require` otherwise.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export async function loadHandler(file) {
  const exports = file.endsWith('.mjs')
    ? await import(pathToFileURL(file).href)
    : createRequire(import.meta.url)(file);
  if (typeof exports.handler !== 'function') {
    throw new Error(`${file} exports no handler function`);
  }
  return exports.handler;
}
