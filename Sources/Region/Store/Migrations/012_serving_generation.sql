-- The generation a rack has put in service, as it reports it after each swap: what it serves,
-- not merely what the region published for it. A lifecycle power cycle waits for this (a
-- machine must boot the purpose and token its new tables render); the racks page shows it.
ALTER TABLE rack_controllers
    ADD COLUMN serving_generation bigint,
    ADD COLUMN serving_reported_at timestamptz;
