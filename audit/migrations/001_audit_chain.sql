-- mem0-gov audit chain, schema version 001.
-- Applied by the OWNER role (MEM0_GOV_PG_ADMIN_URL, or `mem0-gov audit migrate`). The service's
-- role `mem0gov_writer` may only INSERT and SELECT; triggers reject UPDATE, DELETE and TRUNCATE
-- for everyone (a superuser can disable them: that is what `verify` and checkpoints are for).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mem0gov_writer') THEN
    CREATE ROLE mem0gov_writer LOGIN;
  END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS audit;

-- One row per decision. The hashed object is every column except prev_hash and hash
-- (audit/README.md "Canonicalization"). Types are chosen so values round-trip exactly:
-- ts at millisecond precision, latency_ms as float8 (shortest round-trip output).
CREATE TABLE audit.events (
  chain_id        text        NOT NULL,
  seq             bigint      NOT NULL CHECK (seq >= 1),
  event_id        text        NOT NULL,
  ts              timestamptz NOT NULL,
  decision        text        NOT NULL CHECK (decision IN ('allow','deny','invalid_request','unauthenticated','rate_limited','error')),
  reasons         text[]      NOT NULL,
  actor_sub       text,
  roles           text[]      NOT NULL,
  tenant          text,
  agent           text,
  session         text,
  action          text,
  route           text,
  method          text        NOT NULL,
  path            text        NOT NULL,
  entity_ids      text[]      NOT NULL,
  memory_id       text,
  source_ip       text,
  request_id      text        NOT NULL,
  policy_revision text,
  break_glass     boolean     NOT NULL,
  phi             boolean     NOT NULL,
  latency_ms      double precision NOT NULL,
  body_digest     text,
  status          integer     NOT NULL,
  prev_hash       text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (chain_id, seq)
);
-- Replay from the spool is idempotent on event_id (INSERT … ON CONFLICT (event_id) DO NOTHING).
CREATE UNIQUE INDEX events_event_id ON audit.events (event_id);
CREATE INDEX events_ts ON audit.events (ts);
CREATE INDEX events_tenant_ts ON audit.events (tenant, ts);
CREATE INDEX events_actor_ts ON audit.events (actor_sub, ts);
CREATE INDEX events_memory ON audit.events (memory_id) WHERE memory_id IS NOT NULL;

-- Ed25519 signatures over RFC 8785 canonical {"chain_id","hash","seq"}.
CREATE TABLE audit.checkpoints (
  chain_id  text        NOT NULL,
  seq       bigint      NOT NULL,
  hash      text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  signature text        NOT NULL,
  key_id    text        NOT NULL,
  ts        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, seq, key_id)
);

CREATE FUNCTION audit.reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit tables are append-only: % on %.% rejected', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON audit.events
  FOR EACH ROW EXECUTE FUNCTION audit.reject_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
  FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change();
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE OR DELETE ON audit.checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit.reject_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON audit.checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change();

-- Least privilege: the writer may read and append, nothing else.
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO mem0gov_writer;
GRANT SELECT, INSERT ON audit.events, audit.checkpoints TO mem0gov_writer;
