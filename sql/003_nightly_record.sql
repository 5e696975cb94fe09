-- The nightly mode (README "Nightly runs"): the record of applied segments,
-- per-day freshness, and what the attribute rules need to merge a run's
-- choices with the warehouse's.

-- The earliest-event rule of a store's and a device's attributes: the time
-- (Unix seconds of local_time) of the event that set them, and for devices
-- the packed (type, browser, os) value the rule orders ties by. NULL: no
-- event had a value (the Unknown attributes).
ALTER TABLE dim_country ADD COLUMN IF NOT EXISTS attr_time bigint;
ALTER TABLE dim_device ADD COLUMN IF NOT EXISTS attr_time bigint;
ALTER TABLE dim_device ADD COLUMN IF NOT EXISTS attr_code integer;

-- Every segment a run applied, committed with that run's load. The identity
-- (size, footer checksum, record count) says whether a file is still the
-- bytes that were applied. pruned_at: the retention tool removed (or
-- archived) the file; the row stays, so that a rerun needing it fails and
-- names it.
CREATE TABLE IF NOT EXISTS pv_applied_segment (
    name        text        PRIMARY KEY,
    file_bytes  bigint      NOT NULL,
    footer_crc  bigint      NOT NULL,
    records     bigint      NOT NULL,
    source_kind text        NOT NULL,     -- kafka, mongodb, file
    source      text        NOT NULL,     -- topic, db.collection, input file
    run_id      bigint      NOT NULL,     -- the etl_run_ledger row that applied it
    applied_at  timestamptz NOT NULL DEFAULT now(),
    pruned_at   timestamptz
);

-- Its offset ranges per partition, for reconciliation: [start_position,
-- end_position) of consecutive segments of a partition meet exactly.
CREATE TABLE IF NOT EXISTS pv_applied_segment_range (
    segment        text    NOT NULL REFERENCES pv_applied_segment (name) ON DELETE CASCADE,
    partition      integer NOT NULL,
    first_offset   bigint  NOT NULL,
    last_offset    bigint  NOT NULL,
    start_position bigint  NOT NULL,
    end_position   bigint  NOT NULL,
    records        bigint  NOT NULL,
    PRIMARY KEY (segment, partition)
);

-- The days its valid events fall on, with their counts, and whether that
-- day's facts include them. A day is stale while any row of it has
-- loaded = false.
CREATE TABLE IF NOT EXISTS pv_applied_segment_day (
    segment text    NOT NULL REFERENCES pv_applied_segment (name) ON DELETE CASCADE,
    day     date    NOT NULL,
    events  bigint  NOT NULL,
    loaded  boolean NOT NULL,
    PRIMARY KEY (segment, day)
);
CREATE INDEX IF NOT EXISTS pv_applied_segment_day_by_day ON pv_applied_segment_day (day);
CREATE INDEX IF NOT EXISTS pv_applied_segment_day_stale
    ON pv_applied_segment_day (day) WHERE NOT loaded;

-- What each run read and did (segments new / already applied / re-read,
-- bytes, days reloaded, stale days left, reconciliation).
ALTER TABLE etl_run_ledger ADD COLUMN IF NOT EXISTS work jsonb NOT NULL DEFAULT '{}';
