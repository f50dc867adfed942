import { SchemaModule } from './lib/schema-module';
import { USERS_SCHEMA } from './lib/users-schema';

/**
 * The app schema, module by module, applied in this order by `migrate()` (the deploy-time
 * migration and `npm run db:migrate`). A fork appends its own module (README "Fork it"); a
 * module's steps are idempotent, so the whole list is applied on every deploy.
 */
export const SCHEMA_MODULES: readonly SchemaModule[] = [USERS_SCHEMA];
