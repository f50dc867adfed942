import { reservedConnections } from '../../../lib/connection-budget';
import { instanceLoads } from '../template-facts';
import { Invariant } from './invariant';

/**
 * Each DB instance's max_connections holds everything that may connect to it at once, with the
 * operators' reserve left free: on the primary the proxy's pool, the functions that connect
 * directly (the migration among them), and rotation; on each replica the reader, which connects
 * to replicas directly even behind the proxy. A replica uses the primary's parameter group, so
 * its pinned max_connections is the primary's
 * (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.html).
 */
export const invariant: Invariant = {
  name: "every DB instance's max_connections holds everything that may connect to it, and the operators' reserve",
  check: ({ template }) =>
    instanceLoads(template).flatMap((load) => {
      if (load.maxConnections === undefined) {
        return [
          `${load.id} pins no max_connections: give it the primary's parameter group, or the budget means nothing there`,
        ];
      }
      const unbounded = load.directFunctions
        .filter(([, concurrency]) => concurrency === undefined)
        .map(
          ([id]) =>
            `${id} connects to ${load.id} with no reserved concurrency: its connections are unbounded`
        );
      // The operators' reserve does not depend on how many functions there are.
      const { operators } = reservedConnections(0);
      const needed = load.peak + operators;
      const overflow =
        needed > load.maxConnections
          ? [
              `${load.id}: proxy pool ${load.proxyPool} + direct functions ` +
                `${load.directFunctions.map(([id, n]) => `${id}=${n}`).join(', ') || 'none'} + rotation ` +
                `${load.rotations} + init preparations ${load.initPreparations} + operators ` +
                `${operators} = ${needed} > max_connections ` +
                `${load.maxConnections}: lower the functions' share in connectionBudget()`,
            ]
          : [];
      return [...unbounded, ...overflow];
    }),
};
