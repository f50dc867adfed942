/**
 * Create-only properties, as CloudFormation's resource provider schemas name them
 * (`createOnlyProperties`): a path below `/properties/`, such as `CidrBlock` or
 * `DnsOptions/PrivateDnsPreference`, where `*` stands for every item of a list. A new value at
 * one makes CloudFormation replace the resource. Shared by record-create-only.ts and
 * invariants/deployed-create-only-kept.ts.
 */
export type CreateOnlyPath = string;

/** The value at `path` in a resource's Properties (undefined where any step is missing). */
export function valueAt(properties: unknown, path: CreateOnlyPath): unknown {
  const [step, ...rest] = path.split('/');
  if (step === undefined || step === '') return properties;
  if (step === '*') {
    return Array.isArray(properties)
      ? properties.map((item) => valueAt(item, rest.join('/')))
      : undefined;
  }
  if (properties === null || typeof properties !== 'object') return undefined;
  return valueAt((properties as Record<string, unknown>)[step], rest.join('/'));
}

/** The create-only values a resource sets, by path (those it leaves unset are left out). */
export function createOnlyValues(
  properties: unknown,
  paths: readonly CreateOnlyPath[]
): Record<CreateOnlyPath, unknown> {
  return Object.fromEntries(
    paths.map((p) => [p, valueAt(properties, p)]).filter(([, value]) => value !== undefined)
  );
}
