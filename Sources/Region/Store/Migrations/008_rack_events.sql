-- Events racks report (a generation in service, an image cached or refused, the region lost and
-- found again), with the rack's own sequence numbers: a retried report changes nothing.
ALTER TABLE rack_controllers ADD COLUMN events_acked bigint NOT NULL DEFAULT 0;
ALTER TABLE events
    ADD COLUMN rack_id bigint CONSTRAINT events_rack_fkey REFERENCES rack_controllers ON DELETE SET NULL,
    ADD COLUMN rack_sequence bigint,
    ADD CONSTRAINT events_rack_sequence_key UNIQUE (rack_id, rack_sequence);

-- The rack's image cache as it last reported it (the web UI's racks page).
ALTER TABLE rack_controllers
    ADD COLUMN image_files_wanted int,
    ADD COLUMN image_files_ready int,
    ADD COLUMN image_bytes_ready bigint,
    ADD COLUMN images_reported_at timestamptz;
