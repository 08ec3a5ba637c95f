/** The fleet database (Postgres sync mode): FleetDb for daemons, initFleet for operators, the schema's names. */
export { FleetDb, type FleetDbOptions } from './fleet-db.js';
export { initFleet, type InitFleetOptions } from './roles.js';
export { PG_MIGRATIONS } from './migrations.js';
export { CHANGES_CHANNEL, ENTITY_TABLES, ROLES, isEntityTable } from './tables.js';
export type { Sql } from './connection.js';
export type { Listener } from './listen.js';
export type * from './types.js';
