/**
 * Modules that load when first used instead of when a bundled package `require()`s them: the
 * Lambda bundles alias a few modules to these (lib/lambda-bundling.ts) because a package of
 * theirs requires one at its top for a feature the functions never use, or a large table they
 * rarely read, and loading it is CPU on every cold start (test/lambda/bundle.test.ts checks they
 * stay unloaded).
 *
 * Every operation on the stand-in (reading, writing or deleting a property, listing its keys,
 * its prototype) loads the real module and acts on it: nothing changes for a caller that uses
 * the module, or patches it. A stand-in is an object: it cannot stand for a module that exports a
 * function or a primitive. Freezing the stand-in is not supported (the real module is not frozen
 * either).
 */
export function lazyModule<T extends object>(load: () => T): T {
  let real: T | undefined;
  return new Proxy<T>({} as T, forwardingTo(() => (real ??= load())) as ProxyHandler<T>);
}

/**
 * A Node.js built-in, loaded on first use with process.getBuiltinModule (which the bundler leaves
 * alone, so the alias does not catch it). `views`: object properties that a package destructures
 * at its top (`const { constants } = http2`), returned as stand-ins of their own.
 */
export function lazyBuiltin<T extends object>(id: string, views: readonly ObjectKey<T>[] = []): T {
  let real: T | undefined;
  const load = (): T => (real ??= process.getBuiltinModule(id) as T);
  const lazyViews = new Map<PropertyKey, object>(
    views.map((key) => [
      key,
      new Proxy(
        {},
        forwardingTo(() => load()[key] as object)
      ),
    ])
  );
  return new Proxy<T>({} as T, {
    ...(forwardingTo(load) as ProxyHandler<T>),
    get: (_target, key) => lazyViews.get(key) ?? Reflect.get(load(), key),
  });
}

/** Keys of T whose values are plain objects (not functions): what may be a view. */
type ObjectKey<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => unknown
    ? never
    : T[K] extends object
      ? K
      : never;
}[keyof T];

/** Traps that answer every question about, and make every change to, `real()`. */
function forwardingTo(real: () => object): ProxyHandler<object> {
  return {
    get: (_target, key) => Reflect.get(real(), key),
    set: (_target, key, value) => Reflect.set(real(), key, value),
    has: (_target, key) => Reflect.has(real(), key),
    deleteProperty: (_target, key) => Reflect.deleteProperty(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    // Reported configurable, and defined configurable, so that the proxy's invariants hold for
    // its empty target.
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_target, key, descriptor) =>
      Reflect.defineProperty(real(), key, { ...descriptor, configurable: true }),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  };
}
