-- Deleting a rack sets its boot steps' rack_id to NULL (ON DELETE SET NULL). Without an index
-- PostgreSQL finds those rows by reading the whole boot history, which holds the rack row's
-- lock for as long as that takes on a fleet with years of boots.
CREATE INDEX boot_steps_rack ON boot_steps (rack_id) WHERE rack_id IS NOT NULL;
