-- mart.station_latest is rewritten whole at every cycle: each of its rows is updated once per
-- load. At the default fillfactor (100) its pages are full, so an update cannot put the new row
-- version beside the old one and must also add an entry to the primary key's index for it; the
-- upsert of a batch then costs about twice what a heap-only (HOT) update costs. The table holds
-- one row per station (a few thousand), so leaving three fifths of each page free costs little.
-- The setting applies to pages as they are filled from now on.
ALTER TABLE mart.station_latest SET (fillfactor = 40);
