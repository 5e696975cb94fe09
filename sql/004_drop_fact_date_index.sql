-- The fact table is partitioned by date_key, one partition per day: a date
-- filter is served by partition pruning, so an index on date_key only cost
-- every load an index build per day (and disk). Dropping the parent's index
-- drops its copy on every partition.
DROP INDEX IF EXISTS idx_fact_date;
