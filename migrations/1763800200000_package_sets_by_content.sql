-- Up Migration

-- Package sets are now addressed by a digest of the asset's package list as given, and the
-- applicability prefilter scans the sets' package ids (`&&`) instead of a GIN index on names:
-- the index cost more at import (millions of entries to maintain) than it saved at match time,
-- where a sequential scan of the distinct sets stays far inside the 2 s target.
DROP INDEX package_sets_names;
ALTER TABLE package_sets DROP COLUMN names;

-- Down Migration
ALTER TABLE package_sets ADD COLUMN names text[] NOT NULL DEFAULT '{}';
UPDATE package_sets s SET names = ARRAY(
  SELECT DISTINCT n FROM unnest(s.package_ids) AS pid JOIN packages p ON p.id = pid,
         unnest(ARRAY[p.name, NULLIF(p.source, '')]) AS n WHERE n IS NOT NULL);
CREATE INDEX package_sets_names ON package_sets USING gin (names) WITH (gin_pending_list_limit = 65536);
