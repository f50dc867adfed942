import {
  CloudFormationClient,
  ListStackResourcesCommand,
  StackResourceSummary,
} from '@aws-sdk/client-cloudformation';

/**
 * The stack's live resources of one type (every page; none deleted): empty for a stack not yet
 * deployed, which is what an update check compares against.
 */
export async function stackResources(
  cloudFormation: CloudFormationClient,
  stackName: string,
  resourceType: string
): Promise<StackResourceSummary[]> {
  const found: StackResourceSummary[] = [];
  try {
    let NextToken: string | undefined;
    do {
      const page = await cloudFormation.send(
        new ListStackResourcesCommand({ StackName: stackName, NextToken })
      );
      found.push(...(page.StackResourceSummaries ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/.test(String(error))) {
      return [];
    }
    throw error;
  }
  return found.filter(
    (r) =>
      r.ResourceType === resourceType &&
      r.PhysicalResourceId &&
      r.ResourceStatus !== 'DELETE_COMPLETE'
  );
}
