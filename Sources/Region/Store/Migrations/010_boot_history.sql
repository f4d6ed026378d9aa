-- What machines fetched while booting, as their racks report it: the ACK that named a boot
-- file, each TFTP transfer, each image HTTP response. The machine is found when the step
-- arrives (by MAC, else by the address: a static interface, else the lease holding it) and
-- kept with the row, so a later lease on the same address cannot move old history.
CREATE TABLE boot_steps (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    rack_id bigint CONSTRAINT boot_steps_rack_fkey REFERENCES rack_controllers ON DELETE SET NULL,
    machine_id bigint CONSTRAINT boot_steps_machine_fkey REFERENCES machines ON DELETE CASCADE,
    stage text NOT NULL CONSTRAINT boot_steps_stage_known CHECK (stage IN ('dhcp', 'tftp', 'http')),
    address inet NOT NULL,
    mac macaddr,
    name text NOT NULL,
    status int,
    outcome text NOT NULL,
    bytes bigint NOT NULL CONSTRAINT boot_steps_bytes_nonnegative CHECK (bytes >= 0)
);
CREATE INDEX boot_steps_machine_at ON boot_steps (machine_id, at DESC, id DESC);
-- Steps no machine claimed (unknown MACs enlisting, strangers), newest first, and pruning.
CREATE INDEX boot_steps_at ON boot_steps (at);
-- A step without a MAC finds its machine through the lease on its address, from any rack.
CREATE INDEX leases_ip ON leases (ip);
