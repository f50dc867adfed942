import { Template } from 'aws-cdk-lib/assertions';

/** A resource as CloudFormation JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** Logical ids a value refers to with Ref / Fn::GetAtt / Fn::Sub, pseudo parameters excluded. */
export function referencedIds(value: Json, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    value.forEach((v) => referencedIds(v, into));
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string' && !inner.startsWith('AWS::')) into.add(inner);
      else if (key === 'Fn::GetAtt')
        into.add(Array.isArray(inner) ? inner[0] : String(inner).split('.')[0]);
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(inner) ? inner[0] : inner;
        for (const [, name] of String(text).matchAll(/\$\{([^}.!]+)/g)) {
          if (!name.startsWith('AWS::')) into.add(name);
        }
        if (Array.isArray(inner)) referencedIds(inner[1], into);
      } else referencedIds(inner, into);
    }
  }
  return into;
}

/**
 * What CloudFormation creates before a resource: its DependsOn and every resource its properties
 * refer to, transitively (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html:
 * a Ref or Fn::GetAtt is an implicit dependency).
 */
export class TemplateGraph {
  readonly resources: Record<string, Json>;
  private readonly direct = new Map<string, Set<string>>();

  constructor(template: Template) {
    this.resources = template.toJSON().Resources;
    for (const [id, resource] of Object.entries(this.resources)) {
      const deps = referencedIds(resource.Properties ?? {});
      const dependsOn = resource.DependsOn ?? [];
      for (const d of Array.isArray(dependsOn) ? dependsOn : [dependsOn]) deps.add(d);
      this.direct.set(id, new Set([...deps].filter((d) => d in this.resources)));
    }
  }

  /** Every resource created before `id`. */
  createdBefore(id: string): Set<string> {
    const seen = new Set<string>();
    const stack = [...(this.direct.get(id) ?? [])];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...(this.direct.get(next) ?? []));
    }
    return seen;
  }

  ofType(type: string): [string, Json][] {
    return Object.entries(this.resources).filter(([, r]) => r.Type === type);
  }
}
