/**
 * Append-only, numbered schema migrations. Never edit or reorder an entry that has shipped:
 * add a new one. Each runs once, in a transaction, recorded in schema_migrations.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit log',
    sql: `
      CREATE TABLE audit_events (
        seq        INTEGER PRIMARY KEY,
        at         TEXT    NOT NULL,
        actor      TEXT    NOT NULL,
        namespace  TEXT,
        action     TEXT    NOT NULL,
        target     TEXT,
        outcome    TEXT    NOT NULL,
        details    TEXT,
        prev_hash  TEXT    NOT NULL,
        hash       TEXT    NOT NULL
      );`,
  },
  {
    version: 2,
    name: 'daemon state: projects, namespaces, sandboxes, executions, api keys, policies',
    sql: `
      CREATE TABLE projects (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      );

      CREATE TABLE namespaces (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        project_id TEXT REFERENCES projects(id),
        created_at TEXT NOT NULL
      );
      CREATE INDEX namespaces_project ON namespaces(project_id);

      CREATE TABLE sandboxes (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL,
        namespace_id     TEXT NOT NULL REFERENCES namespaces(id),
        project_id       TEXT REFERENCES projects(id),
        runtime          TEXT NOT NULL,
        limits_json      TEXT NOT NULL,
        network          TEXT NOT NULL,
        env_json         TEXT NOT NULL,
        workspace        TEXT,
        status           TEXT NOT NULL CHECK (status IN ('created', 'running', 'stopped', 'failed')),
        pid              INTEGER,
        helper_pid       INTEGER,
        started_at       TEXT,
        expires_at       TEXT,
        idle_expires_at  TEXT,
        last_activity_at TEXT,
        created_at       TEXT NOT NULL,
        UNIQUE (namespace_id, name)
      );
      CREATE INDEX sandboxes_status ON sandboxes(status);
      CREATE INDEX sandboxes_project ON sandboxes(project_id);

      CREATE TABLE executions (
        id          TEXT PRIMARY KEY,
        sandbox_id  TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
        cmd_json    TEXT NOT NULL,
        exit_code   INTEGER,
        signal      TEXT,
        timed_out   INTEGER NOT NULL DEFAULT 0 CHECK (timed_out IN (0, 1)),
        oom_killed  INTEGER NOT NULL DEFAULT 0 CHECK (oom_killed IN (0, 1)),
        duration_ms INTEGER,
        started_at  TEXT NOT NULL,
        actor       TEXT NOT NULL
      );
      CREATE INDEX executions_sandbox ON executions(sandbox_id, started_at);

      -- A key scoped to a sandbox is deleted with it (ON DELETE CASCADE): never widened to its namespace.
      CREATE TABLE api_keys (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        role         TEXT NOT NULL CHECK (role IN ('admin', 'namespace', 'readonly')),
        namespace_id TEXT REFERENCES namespaces(id),
        lookup_hash  TEXT NOT NULL UNIQUE,
        ciphertext   BLOB NOT NULL,
        iv           BLOB NOT NULL,
        tag          BLOB NOT NULL,
        prefix       TEXT NOT NULL,
        suffix       TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        revoked_at   TEXT,
        last_used_at TEXT,
        sandbox_id   TEXT REFERENCES sandboxes(id) ON DELETE CASCADE,
        CHECK (role <> 'admin' OR (namespace_id IS NULL AND sandbox_id IS NULL)),
        CHECK (role <> 'namespace' OR namespace_id IS NOT NULL),
        CHECK (sandbox_id IS NULL OR namespace_id IS NOT NULL)
      );
      CREATE INDEX api_keys_namespace ON api_keys(namespace_id);
      CREATE INDEX api_keys_sandbox ON api_keys(sandbox_id);

      CREATE TABLE policies (
        id           INTEGER PRIMARY KEY,
        role         TEXT NOT NULL UNIQUE CHECK (role IN ('admin', 'namespace', 'readonly')),
        rate_per_sec REAL NOT NULL CHECK (rate_per_sec > 0),
        burst        INTEGER NOT NULL CHECK (burst >= 1)
      );`,
  },
  {
    version: 3,
    name: 'sandbox supervision: helper start time and scratch descriptor',
    sql: `
      ALTER TABLE sandboxes ADD COLUMN helper_start_time TEXT;
      ALTER TABLE sandboxes ADD COLUMN scratch_fd INTEGER;`,
  },
  {
    version: 4,
    name: 'llm model registry: models, trusted signing keys, download jobs',
    sql: `
      CREATE TABLE models (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL,
        sha256       TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
        size_bytes   INTEGER NOT NULL CHECK (size_bytes >= 0),
        source       TEXT NOT NULL,
        signed_by    TEXT,
        created_at   TEXT NOT NULL,
        last_used_at TEXT
      );

      CREATE TABLE trusted_keys (
        fingerprint TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        public_key  TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL
      );

      CREATE TABLE download_jobs (
        id          TEXT PRIMARY KEY,
        model_id    TEXT,
        source      TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'downloading', 'verifying', 'done', 'failed')),
        bytes_done  INTEGER NOT NULL DEFAULT 0,
        bytes_total INTEGER,
        error       TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
      CREATE INDEX download_jobs_status ON download_jobs(status);`,
  },
  {
    version: 5,
    name: 'model-access requests and keys',
    sql: `
      CREATE TABLE llm_access_requests (
        id             TEXT PRIMARY KEY,
        model_id       TEXT NOT NULL,
        cave_namespace TEXT NOT NULL,
        requested_by   TEXT NOT NULL,
        status         TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
        created_at     TEXT NOT NULL,
        decided_at     TEXT,
        decided_by     TEXT,
        token_id       TEXT
      );
      CREATE TABLE llm_access_tokens (
        jti        TEXT PRIMARY KEY,
        request_id TEXT NOT NULL REFERENCES llm_access_requests(id),
        model_id   TEXT NOT NULL,
        cave_ns    TEXT NOT NULL,
        scopes     TEXT NOT NULL,
        rpm        INTEGER NOT NULL CHECK (rpm >= 1),
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX llm_access_tokens_model ON llm_access_tokens(model_id);`,
  },
  {
    version: 6,
    name: 'namespace policies and quotas; per-role rate limits move to rate_limits; sandbox privileges',
    sql: `
      ALTER TABLE policies RENAME TO rate_limits;

      -- One row per namespace with a policy of its own (others get the built-in defaults).
      -- NULL in a max_* column: no cap. Lists are JSON arrays.
      CREATE TABLE policies (
        namespace_id            TEXT PRIMARY KEY REFERENCES namespaces(id) ON DELETE CASCADE,
        networks_json           TEXT NOT NULL,
        workspace_roots_json    TEXT NOT NULL,
        allow_nested_namespaces INTEGER NOT NULL CHECK (allow_nested_namespaces IN (0, 1)),
        allow_custom_seccomp    INTEGER NOT NULL CHECK (allow_custom_seccomp IN (0, 1)),
        max_memory_mb           INTEGER CHECK (max_memory_mb >= 0),
        max_cpus                REAL    CHECK (max_cpus > 0),
        max_pids                INTEGER CHECK (max_pids >= 0),
        max_disk_mb             INTEGER CHECK (max_disk_mb >= 0),
        max_sandboxes           INTEGER CHECK (max_sandboxes >= 0),
        max_running             INTEGER CHECK (max_running >= 0),
        max_total_memory_mb     INTEGER CHECK (max_total_memory_mb >= 0),
        max_total_pids          INTEGER CHECK (max_total_pids >= 0),
        updated_at              TEXT NOT NULL,
        updated_by              TEXT NOT NULL
      );

      ALTER TABLE sandboxes ADD COLUMN allow_nested_namespaces INTEGER NOT NULL DEFAULT 0 CHECK (allow_nested_namespaces IN (0, 1));
      ALTER TABLE sandboxes ADD COLUMN seccomp_json TEXT;
      CREATE INDEX sandboxes_namespace_status ON sandboxes(namespace_id, status);`,
  },
  {
    version: 7,
    name: 'fleet sync: the host of each sandbox and key, the outbox, the sync cursor and row versions',
    sql: `
      -- '' until the daemon fills in its host id (it does at every start); replicated rows carry their host.
      ALTER TABLE sandboxes ADD COLUMN host TEXT NOT NULL DEFAULT '';
      ALTER TABLE api_keys ADD COLUMN origin_host TEXT NOT NULL DEFAULT '';
      CREATE INDEX sandboxes_host_status ON sandboxes(host, status);

      -- Local changes to replicated tables, written by triggers in the same transaction, pushed in order.
      CREATE TABLE sync_outbox (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        change_id    TEXT NOT NULL UNIQUE,
        tbl          TEXT NOT NULL,
        pk           TEXT NOT NULL,
        op           TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        namespace_id TEXT,
        row          TEXT,
        at           TEXT NOT NULL
      );
      CREATE INDEX sync_outbox_row ON sync_outbox(tbl, pk);

      -- host_id, the pull cursor, the audit push cursor, the last successful sync.
      CREATE TABLE sync_state (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      -- The fleet change (Postgres seq) that last wrote each replicated row here: an older change never overwrites a newer one.
      CREATE TABLE sync_rows (
        tbl TEXT NOT NULL,
        pk  TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (tbl, pk)
      );`,
  },
  {
    version: 8,
    name: 'sealed secrets: per namespace, encrypted under the master key; the secrets each sandbox is given',
    sql: `
      -- ciphertext: AES-256-GCM under a subkey of the master key (iv || tag || data), bound to
      -- (namespace_id, name) as additional data. Never a plaintext column.
      CREATE TABLE secrets (
        namespace_id TEXT NOT NULL REFERENCES namespaces(id),
        name         TEXT NOT NULL,
        ciphertext   BLOB NOT NULL,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        updated_by   TEXT NOT NULL,
        PRIMARY KEY (namespace_id, name)
      );

      -- [{name, env?, file?}]: which secrets a sandbox gets and how (names only).
      ALTER TABLE sandboxes ADD COLUMN secrets_json TEXT NOT NULL DEFAULT '[]';`,
  },
  {
    version: 9,
    name: 'snapshots: a sandbox\'s saved writable layer, per namespace, kept when the sandbox is deleted',
    sql: `
      -- the files live in $BKG_HOME/snapshots/<id>; sandbox_id is not a reference: the origin may go
      CREATE TABLE snapshots (
        id           TEXT PRIMARY KEY,
        namespace_id TEXT NOT NULL REFERENCES namespaces(id),
        sandbox_id   TEXT NOT NULL,
        sandbox_name TEXT NOT NULL,
        tag          TEXT,
        size_bytes   INTEGER NOT NULL,
        created_at   TEXT NOT NULL,
        created_by   TEXT NOT NULL
      );
      CREATE UNIQUE INDEX snapshots_tag ON snapshots (namespace_id, sandbox_name, tag) WHERE tag IS NOT NULL;`,
  },
  {
    version: 10,
    name: 'P2P plugin: this host\'s libp2p identity (encrypted), its trusted peers, and the signatures of pulled models',
    sql: `
      -- one row: the node's Ed25519 private key (libp2p protobuf), AES-256-GCM under a subkey of
      -- the master key (iv || tag || data), bound to peer_id as additional data
      CREATE TABLE p2p_identity (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        peer_id    TEXT NOT NULL,
        ciphertext BLOB NOT NULL,
        created_at TEXT NOT NULL
      );

      -- the peers this node trusts: only they may open its protocols
      CREATE TABLE peers (
        peer_id    TEXT PRIMARY KEY,
        addrs_json TEXT NOT NULL DEFAULT '[]',
        name       TEXT,
        added_at   TEXT NOT NULL,
        added_by   TEXT NOT NULL,
        penalties  INTEGER NOT NULL DEFAULT 0,
        last_seen_at TEXT
      );

      -- the detached Ed25519 signature a model was verified with, so peers can verify it again
      CREATE TABLE model_signatures (
        sha256    TEXT PRIMARY KEY,
        signature BLOB NOT NULL
      );`,
  },
  {
    version: 11,
    name: 'sandboxes found by name through an index',
    sql: `
      -- a sandbox named in a request (start, exec, ...) was found by reading every row (about 0.5 ms
      -- per request with 1,000 sandboxes, growing with them); (namespace_id, name) cannot serve an
      -- admin's lookup across every namespace
      CREATE INDEX sandboxes_name ON sandboxes(name);`,
  },
];
