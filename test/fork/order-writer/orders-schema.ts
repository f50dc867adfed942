import { SchemaModule } from '../../../lambda/lib/schema-module';

/**
 * A fork's schema module: the `orders` table. In a fork it sits in lambda/lib/ and is appended
 * to SCHEMA_MODULES (lambda/schema-modules.ts); every step is idempotent.
 */
export const ORDERS_SCHEMA: SchemaModule = {
  name: 'orders',
  steps: (schema) => [
    {
      sql: `CREATE TABLE IF NOT EXISTS ${schema}orders (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
      item VARCHAR(200) NOT NULL,
      quantity INT NOT NULL,
      created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      KEY orders_email (email)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    },
  ],
};
