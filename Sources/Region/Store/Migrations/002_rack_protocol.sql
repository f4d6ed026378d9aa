-- The rack side of docs/rack-region-protocol.md: leases reported by racks, kept per (rack,
-- address) with the lease journal's sequence, so a retried batch changes nothing.

-- Nothing wrote to the first version of this table.
DROP TABLE leases;

CREATE TABLE leases (
    rack_id bigint NOT NULL CONSTRAINT leases_rack_fkey REFERENCES rack_controllers ON DELETE CASCADE,
    ip host_address NOT NULL,
    -- The rack's lease-journal sequence: rises with every record, never repeats.
    sequence bigint NOT NULL CONSTRAINT leases_sequence_positive CHECK (sequence > 0),
    mac macaddr NOT NULL,
    hostname text,
    -- DHCP option 61 as hex.
    client_id text CONSTRAINT leases_client_id_hex CHECK (client_id ~ '^([0-9a-fA-F]{2})*$'),
    state text NOT NULL CONSTRAINT leases_state_syntax CHECK (state ~ '^[a-z][a-z_-]{0,31}$'),
    expires_at timestamptz NOT NULL,
    reported_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT leases_pkey PRIMARY KEY (rack_id, ip)
);

-- The highest journal sequence the region holds from each rack (`leases_acked` at enrolment).
ALTER TABLE rack_controllers ADD COLUMN leases_acked bigint NOT NULL DEFAULT 0;
