-- mem0-gov audit chain, schema version 003: monthly partitions, archives, chain status
-- (audit/README.md "Partitions and retention").
--
-- audit.events becomes a table PARTITION BY RANGE (ts), one partition per UTC calendar month,
-- so that a month can leave the database (mem0-gov audit archive: export, verify, then DETACH
-- and DROP its partition) instead of the table growing forever. No row is rewritten: the table
-- as it was becomes one partition covering everything up to the end of the current month
-- (events_legacy, FROM MINVALUE), attached without copying.
--
-- Uniqueness. PostgreSQL only builds unique indexes on a partitioned table that contain the
-- partition key, and an index on (event_id, ts) or (chain_id, seq, ts) would promise nothing. So:
--   * every partition has its own PRIMARY KEY (chain_id, seq) and UNIQUE (event_id);
--   * a row's partition is a function of its own hashed ts, so the same row always lands in the
--     same partition: a spool replay of a row already stored meets that partition's indexes
--     (insertRows skips rows whose (event_id, ts) is stored);
--   * across partitions, the statement-level trigger events_unique_globally checks every
--     inserted batch (COPY or INSERT) against the *other* partitions: per chain and month, the
--     batch's seq range (one index range scan per partition), and each new event_id (one index
--     probe per partition); a duplicate raises unique_violation (23505), as the old global
--     indexes did.

-- ── the partitioned table ───────────────────────────────────────────────────────────────────
ALTER TABLE audit.events RENAME TO events_legacy;
ALTER TABLE audit.events_legacy RENAME CONSTRAINT events_pkey TO events_legacy_pkey;
ALTER INDEX audit.events_event_id RENAME TO events_legacy_event_id;
ALTER INDEX audit.events_ts RENAME TO events_legacy_ts;
ALTER INDEX audit.events_tenant_ts RENAME TO events_legacy_tenant_ts;
ALTER INDEX audit.events_actor_ts RENAME TO events_legacy_actor_ts;
ALTER INDEX audit.events_memory RENAME TO events_legacy_memory;
ALTER INDEX audit.events_ref_event_id RENAME TO events_legacy_ref_event_id;
-- The parent's triggers (below) are cloned onto every partition, this one included.
DROP TRIGGER events_no_update ON audit.events_legacy;
DROP TRIGGER events_no_truncate ON audit.events_legacy;

CREATE TABLE audit.events (LIKE audit.events_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (ts);
GRANT SELECT, INSERT ON audit.events TO mem0gov_writer;

-- Non-unique indexes live on the parent (every partition gets them). What the audit API asks:
-- a time range, by tenant, actor, agent, memory, and the outcome rows that returned a memory.
CREATE INDEX events_ts ON audit.events (ts);
CREATE INDEX events_tenant_ts ON audit.events (tenant, ts);
CREATE INDEX events_actor_ts ON audit.events (actor_sub, ts);
CREATE INDEX events_agent_ts ON audit.events (agent, ts);
CREATE INDEX events_memory ON audit.events (memory_id) WHERE memory_id IS NOT NULL;
CREATE INDEX events_ref_event_id ON audit.events (ref_event_id) WHERE ref_event_id IS NOT NULL;
-- Outcome rows name the memories a list or search returned (or withheld) in `detail`. The memory
-- ids (UUIDs) found in it, by a regular expression: an expression that cannot fail on any stored
-- text (a cast to jsonb would refuse \u0000 and lone surrogate escapes, which JSON allows, and so
-- refuse the row).
CREATE FUNCTION audit.detail_ids(detail text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
  SELECT coalesce(array_agg(DISTINCT lower(m[1])), '{}')
    FROM regexp_matches(detail, '"([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"', 'g') AS m
$$;
CREATE INDEX events_outcome_ids ON audit.events USING gin (audit.detail_ids(detail)) WHERE kind = 'outcome' AND detail IS NOT NULL;

CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON audit.events
  FOR EACH ROW EXECUTE FUNCTION audit.reject_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events
  FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change();

-- ── uniqueness across partitions ────────────────────────────────────────────────────────────
CREATE FUNCTION audit.events_unique_globally() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  dup record;
BEGIN
  -- (chain_id, seq): per chain and month of the batch, the rows of the batch's seq range in the
  -- *other* partitions (run-time pruning skips the batch's own: its primary key covers it) that
  -- share a seq with a row of this month — one index range scan per other partition.
  SELECT e.chain_id, e.seq INTO dup
    FROM (SELECT n.chain_id, date_trunc('month', n.ts AT TIME ZONE 'UTC') AS m, min(n.seq) AS lo, max(n.seq) AS hi
            FROM new_rows n GROUP BY 1, 2) b
    CROSS JOIN LATERAL (
      SELECT x.chain_id, x.seq FROM audit.events x
       WHERE x.chain_id = b.chain_id AND x.seq BETWEEN b.lo AND b.hi
         AND (x.ts < b.m AT TIME ZONE 'UTC' OR x.ts >= (b.m + interval '1 month') AT TIME ZONE 'UTC')) e
    JOIN new_rows n ON n.chain_id = e.chain_id AND n.seq = e.seq
     AND n.ts >= b.m AT TIME ZONE 'UTC' AND n.ts < (b.m + interval '1 month') AT TIME ZONE 'UTC'
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'duplicate key value violates unique constraint "events_chain_seq_global"'
      USING ERRCODE = 'unique_violation', DETAIL = format('Key (chain_id, seq)=(%s, %s) already exists.', dup.chain_id, dup.seq);
  END IF;
  -- event_id: the same id in another month's partition (one partition's own index refuses a
  -- second row there): one index probe per row and other partition.
  SELECT n.event_id INTO dup FROM new_rows n
   WHERE EXISTS (SELECT 1 FROM audit.events e WHERE e.event_id = n.event_id
                    AND (e.ts < date_trunc('month', n.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                         OR e.ts >= (date_trunc('month', n.ts AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'))
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'duplicate key value violates unique constraint "events_event_id_global"'
      USING ERRCODE = 'unique_violation', DETAIL = format('Key (event_id)=(%s) already exists.', dup.event_id);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER events_unique_globally AFTER INSERT ON audit.events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit.events_unique_globally();

-- ── partitions ──────────────────────────────────────────────────────────────────────────────
-- One partition's own keys and TRUNCATE guard (row triggers and plain indexes come from the parent).
CREATE FUNCTION audit.partition_keys(part regclass) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  rel text := (SELECT relname FROM pg_class WHERE oid = part);
BEGIN
  EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (chain_id, seq)', part, rel || '_pkey');
  EXECUTE format('CREATE UNIQUE INDEX %I ON %s (event_id)', rel || '_event_id', part);
  EXECUTE format('CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change()', part);
END
$$;

-- Rows no month partition takes (a month not created yet, or already archived: a row replayed
-- from a spool long after its month left) land here; it is never dropped.
CREATE TABLE audit.events_default (LIKE audit.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
SELECT audit.partition_keys('audit.events_default');
ALTER TABLE audit.events ATTACH PARTITION audit.events_default DEFAULT;

-- The table as it was: one partition up to the end of the current month (attached in place,
-- the CHECK constraint saves the scan ATTACH would otherwise make), or gone when empty.
DO $$
DECLARE
  upper timestamptz;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM audit.events_legacy) THEN
    DROP TABLE audit.events_legacy;
    RETURN;
  END IF;
  SELECT (date_trunc('month', greatest(max(ts), now()) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    INTO upper FROM audit.events_legacy;
  EXECUTE format('ALTER TABLE audit.events_legacy ADD CONSTRAINT events_legacy_bound CHECK (ts < %L)', upper);
  EXECUTE format('ALTER TABLE audit.events ATTACH PARTITION audit.events_legacy FOR VALUES FROM (MINVALUE) TO (%L)', upper);
  EXECUTE 'CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON audit.events_legacy FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change()';
END
$$;

-- Monthly partitions with their bounds (what archive and the retention gauge read).
CREATE VIEW audit.partitions AS
  SELECT c.relname::text AS name,
         CASE WHEN b.expr = 'DEFAULT' THEN NULL
              WHEN b.expr LIKE 'FOR VALUES FROM (MINVALUE)%' THEN '-infinity'::timestamptz
              ELSE (regexp_match(b.expr, 'FROM \(''([^'']+)''\)'))[1]::timestamptz END AS lower_bound,
         CASE WHEN b.expr = 'DEFAULT' THEN NULL
              ELSE (regexp_match(b.expr, 'TO \(''([^'']+)''\)'))[1]::timestamptz END AS upper_bound
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS expr) b
   WHERE i.inhparent = 'audit.events'::regclass;
GRANT SELECT ON audit.partitions TO mem0gov_writer;

-- The partition of the UTC month of `m`, created (table with its keys, CHECK of its bounds, then
-- ATTACH: SHARE UPDATE EXCLUSIVE on the parent, inserts go on) unless it exists, another partition
-- covers part of the month (events_legacy), or rows of that month wait in the default partition.
-- Returns its name, or NULL when it left the month alone. The owner's (an archive drill or a test
-- may create a past month); the writer role reaches it only through ensure_partitions.
CREATE FUNCTION audit.create_month_partition(m date) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET DateStyle = 'ISO, YMD' SET TimeZone = 'UTC' AS $$
DECLARE
  first date := date_trunc('month', m)::date;
  lo timestamptz := first::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (first + interval '1 month')::timestamp AT TIME ZONE 'UTC';
  rel text := 'events_p' || to_char(first, 'YYYY_MM');
BEGIN
  IF to_regclass('audit.' || rel) IS NOT NULL THEN RETURN NULL; END IF;
  IF EXISTS (SELECT 1 FROM audit.partitions p WHERE p.upper_bound IS NOT NULL AND p.lower_bound < hi AND p.upper_bound > lo) THEN RETURN NULL; END IF;
  IF EXISTS (SELECT 1 FROM audit.events_default WHERE ts >= lo AND ts < hi) THEN RETURN NULL; END IF;
  EXECUTE format('CREATE TABLE audit.%I (LIKE audit.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', rel);
  EXECUTE format('ALTER TABLE audit.%I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L)', rel, rel || '_bound', lo, hi);
  PERFORM audit.partition_keys(format('audit.%I', rel)::regclass);
  EXECUTE format('ALTER TABLE audit.events ATTACH PARTITION audit.%I FOR VALUES FROM (%L) TO (%L)', rel, lo, hi);
  RETURN rel;
END
$$;
REVOKE ALL ON FUNCTION audit.create_month_partition(date) FROM PUBLIC;

-- This month's partition and the next `months_ahead` ones (create_month_partition). SECURITY
-- DEFINER: the writer role may call it (the service does, with every verification round) without
-- any right to create tables itself. A lock that cannot be had within 2 s skips the month until
-- the next call.
CREATE FUNCTION audit.ensure_partitions(months_ahead integer DEFAULT 3) RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  rel text;
BEGIN
  PERFORM set_config('lock_timeout', '2s', true);
  FOR i IN 0..greatest(months_ahead, 0) LOOP
    BEGIN
      rel := audit.create_month_partition((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date);
      IF rel IS NOT NULL THEN RETURN NEXT rel; END IF;
    EXCEPTION WHEN lock_not_available THEN
      RAISE NOTICE 'audit.ensure_partitions: month % skipped (lock not available)', i;
    END;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION audit.ensure_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit.ensure_partitions(integer) TO mem0gov_writer;
SELECT audit.ensure_partitions(3);


-- ── archives ────────────────────────────────────────────────────────────────────────────────
-- One row per chain per `audit archive`: the chain's rows up to `seq` left the database after
-- being exported and verified. `signature` (Ed25519, the checkpoint key) covers the RFC 8785 JSON
-- of {"before","chain_id","hash","seq","type":"archive"}: verify starts the remaining chain after
-- the latest boundary it can check, with prev_hash = hash.
CREATE TABLE audit.archives (
  chain_id        text        NOT NULL,
  seq             bigint      NOT NULL CHECK (seq >= 1),
  hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  before          timestamptz NOT NULL,
  first_seq       bigint      NOT NULL,
  rows            bigint      NOT NULL,
  manifest_sha256 text        NOT NULL,
  key_id          text        NOT NULL,
  signature       text        NOT NULL,
  archived_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, seq)
);
CREATE TRIGGER archives_no_update BEFORE UPDATE OR DELETE ON audit.archives
  FOR EACH ROW EXECUTE FUNCTION audit.reject_change();
CREATE TRIGGER archives_no_truncate BEFORE TRUNCATE ON audit.archives
  FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change();
GRANT SELECT ON audit.archives TO mem0gov_writer;

-- ── installation ────────────────────────────────────────────────────────────────────────────
-- A random id per audit database: what a verifier's local marks (MEM0_GOV_AUDIT_VERIFY_STATE) are
-- keyed by, so a re-created database at the same address never inherits another one's marks.
CREATE TABLE audit.installation (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit.installation DEFAULT VALUES;
GRANT SELECT ON audit.installation TO mem0gov_writer;

-- ── chain status ────────────────────────────────────────────────────────────────────────────
-- The latest verification of each chain (the service's verifier loop, `audit verify`): what the
-- audit API's chain badges show. A status, not evidence: updated in place, no hash.
CREATE TABLE audit.chain_status (
  chain_id        text        PRIMARY KEY,
  verified_at     timestamptz NOT NULL,
  verifier        text        NOT NULL,
  from_seq        bigint,
  head_seq        bigint,
  checkpoint_seq  bigint,
  checkpoint_hash text,
  ok              boolean     NOT NULL,
  problem         jsonb
);
GRANT SELECT, INSERT, UPDATE ON audit.chain_status TO mem0gov_writer;
