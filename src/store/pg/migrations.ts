/**
 * The fleet database's schema: append-only, numbered migrations (like ../migrations.ts), applied by
 * ./migrate.ts as bkg_owner. Never edit or reorder an entry that has shipped, nor the helpers below
 * that build shipped SQL (test/store/pg/migrations.test.ts pins their text): add a new one.
 *
 * Every table has row-level security ENABLEd and FORCEd (so its owner is held to it too):
 * - a policy TO bkg_fleet that sees and writes every row (replication, hosts, the fleet audit);
 * - namespace-scoped tables also a policy TO bkg_daemon comparing their namespace column with the
 *   transaction's `bkg.namespace` setting: no setting, no rows. Global tables have no such policy.
 */
import type { Migration } from '../migrations.js';

export type { Migration } from '../migrations.js';

/** The namespace a daemon's transaction is scoped to (`SET LOCAL bkg.namespace`); '' (reset) counts as none. */
const NS = "nullif(current_setting('bkg.namespace', true), '')";

/** RLS on `table`: enabled and forced, the fleet's policy, the namespace policy when `nsCol`, and the grants. */
export function secure(table: string, nsCol: string | null, grants: { fleet: string; daemon: string }): string {
  return `
    ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY ${table}_fleet ON ${table} TO bkg_fleet USING (true) WITH CHECK (true);${nsCol === null ? '' : `
    CREATE POLICY ${table}_namespace ON ${table} TO bkg_daemon USING (${nsCol} = ${NS}) WITH CHECK (${nsCol} = ${NS});`}
    GRANT ${grants.fleet} ON ${table} TO bkg_fleet;
    GRANT ${grants.daemon} ON ${table} TO bkg_daemon;`;
}

const DML = 'SELECT, INSERT, UPDATE, DELETE';

/** A replicated table: the local row whole as JSON, stamped with the host and change that last wrote it. */
function entityTable(name: string, nsCol: 'pk' | 'namespace_id' | null): string {
  return `
    CREATE TABLE ${name} (
      pk           text PRIMARY KEY,
      namespace_id text,
      host         text   NOT NULL,
      seq          bigint NOT NULL,
      row          jsonb  NOT NULL
    );
    CREATE INDEX ${name}_namespace ON ${name} (namespace_id);${secure(name, nsCol, { fleet: DML, daemon: nsCol === null ? 'SELECT' : DML })}`;
}

export const PG_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'fleet: replicated tables, the change log, every host\'s audit chain, the host registry',
    sql: [
      entityTable('projects', null),
      entityTable('namespaces', 'pk'),
      entityTable('sandboxes', 'namespace_id'),
      entityTable('api_keys', 'namespace_id'),
      entityTable('policies', 'namespace_id'),
      entityTable('rate_limits', null),
      entityTable('models', null),
      entityTable('trusted_keys', null),
      entityTable('llm_access_requests', 'namespace_id'),
      entityTable('llm_access_tokens', 'namespace_id'),
      `
    -- The replication log: append-only; pushes take pg_advisory_xact_lock so seqs commit in order.
    CREATE TABLE changes (
      seq          bigserial PRIMARY KEY,
      id           uuid NOT NULL UNIQUE,
      host         text NOT NULL,
      tbl          text NOT NULL,
      pk           text NOT NULL,
      op           text NOT NULL CHECK (op IN ('upsert', 'delete')),
      namespace_id text,
      row          jsonb,
      at           timestamptz NOT NULL DEFAULT now(),
      CHECK ((op = 'upsert') = (row IS NOT NULL))
    );${secure('changes', null, { fleet: 'SELECT, INSERT', daemon: 'SELECT' })}
    GRANT USAGE ON SEQUENCE changes_seq_seq TO bkg_fleet;

    -- Each host's audit chain as that host hashed it (../audit-chain.ts): append-only.
    CREATE TABLE audit_events (
      host      text   NOT NULL,
      seq       bigint NOT NULL CHECK (seq >= 1),
      at        text   NOT NULL,
      actor     text   NOT NULL,
      namespace text,
      action    text   NOT NULL,
      target    text,
      outcome   text   NOT NULL,
      details   text,
      prev_hash text   NOT NULL,
      hash      text   NOT NULL,
      PRIMARY KEY (host, seq)
    );
    CREATE INDEX audit_events_at ON audit_events (at);
    CREATE INDEX audit_events_namespace ON audit_events (namespace, at);${secure('audit_events', 'namespace', { fleet: 'SELECT, INSERT', daemon: 'SELECT' })}

    CREATE TABLE hosts (
      id           text PRIMARY KEY,
      name         text NOT NULL,
      peer_url     text,
      version      text NOT NULL,
      started_at   timestamptz NOT NULL,
      heartbeat_at timestamptz NOT NULL,
      load         jsonb NOT NULL DEFAULT '{}'
    );${secure('hosts', null, { fleet: DML, daemon: 'SELECT' })}`,
    ].join('\n'),
  },
  {
    version: 2,
    name: 'fleet: secrets (ciphertext under the master key the hosts share)',
    sql: entityTable('secrets', 'namespace_id'),
  },
];
