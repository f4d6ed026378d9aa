-- The generation a rack has put in service, as it reports it after each swap: what it serves,
-- not merely what the region published for it. A lifecycle power cycle waits for this (a
-- machine must boot the purpose and token its new tables render); the racks page shows it.
ALTER TABLE rack_controllers
    ADD COLUMN serving_generation bigint,
    ADD COLUMN serving_reported_at timestamptz;

-- A lifecycle power cycle's tables: the first generation compiled from a model that held the
-- request (and so the machine's new purpose and boot token, written in the same transaction).
-- The cycle goes to the rack once it serves that generation. From here on `after_generation`
-- (migration 011) only marks a cycle as one that waits; its value, the generation published
-- when the cycle was queued, is kept for the record: a compile racing the action can publish
-- a newer generation without the machine's new state, so "newer than it" was not enough.
ALTER TABLE power_requests ADD COLUMN ready_generation bigint;
