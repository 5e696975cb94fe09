-- A schema for fact partitions under construction. The batch loader builds
-- each day's new partition here on side connections (parallel COPY streams
-- and index builds, outside its transaction), then moves it into public and
-- attaches it inside its one transaction. Nothing here is ever queried; a
-- crashed load's leftovers are dropped by the next load.
CREATE SCHEMA IF NOT EXISTS pv_staging;
