/**
 * A Node.js built-in module that loads when first used instead of when a bundled package
 * `require()`s it: the Lambda bundles alias a few built-ins to these (lib/lambda-bundling.ts)
 * because a package of theirs requires one at its top for a feature the functions never use, and
 * loading a built-in is CPU on every cold start (the bench's bundles table).
 *
 * Reading any property loads the real module (process.getBuiltinModule, which the bundler leaves
 * alone, so the alias does not catch it) and returns the real property: nothing changes for a
 * caller that uses the module. The exception is `views`: object properties that a package
 * destructures at its top (`const { constants } = http2`), returned as views that load the module
 * when one of their own properties is read.
 */
export function lazyBuiltin<T extends object>(id: string, views: readonly (keyof T)[] = []): T {
  let real: T | undefined;
  const load = (): T => (real ??= process.getBuiltinModule(id) as T);
  const lazyViews = new Map(
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
    get: (_target, key) => lazyViews.get(key as keyof T) ?? Reflect.get(load(), key),
  });
}

/** Traps that answer every question about the target from `real()`. */
function forwardingTo(real: () => object): ProxyHandler<object> {
  return {
    get: (_target, key) => Reflect.get(real(), key),
    has: (_target, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    // Configurable, so that the proxy invariants hold for an empty target.
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
  };
}
