-- mem0-gov audit chain, schema version 002: row format 2 (audit/README.md "Row formats", "Row kinds").
-- New rows carry row_format = 2, their kind (decision | outcome | admin | config), the event_id of
-- the decision an outcome row answers, and a detail object (RFC 8785 JSON text); all four are in the
-- hashed object of a format-2 row. Rows written before this migration keep NULL in all four
-- columns: format 1, hashed as before (25 keys). Nothing is rewritten: adding nullable columns
-- without a default only changes the catalog.
--
-- The append-only triggers (row-level BEFORE UPDATE OR DELETE, statement-level BEFORE TRUNCATE)
-- cover the new columns as they are. The writer's table-level SELECT, INSERT grant covers every
-- column, including columns added later: nothing to grant.

ALTER TABLE audit.events
  ADD COLUMN row_format   smallint,
  ADD COLUMN kind         text,
  ADD COLUMN ref_event_id text,
  ADD COLUMN detail       text,
  -- NULL = format 1 (before this migration); the writer writes 2. Anything else has no hash rule.
  ADD CONSTRAINT events_row_format CHECK (row_format IS NULL OR row_format = 2),
  -- A format-2 row has a kind (NOT NULL spelled out: a NULL kind would pass the IN test).
  ADD CONSTRAINT events_kind CHECK (row_format IS NULL OR (kind IS NOT NULL AND kind IN ('decision','outcome','admin','config'))),
  -- A format-1 row's hash does not cover these columns, so they must stay empty.
  ADD CONSTRAINT events_format1_plain CHECK (row_format IS NOT NULL OR (kind IS NULL AND ref_event_id IS NULL AND detail IS NULL));

-- Outcome rows are looked up by the decision they answer.
CREATE INDEX events_ref_event_id ON audit.events (ref_event_id) WHERE ref_event_id IS NOT NULL;
