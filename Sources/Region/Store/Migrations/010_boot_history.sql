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

-- A machine that booted before anyone knew it (an unknown MAC enlisting) gets that history when
-- an interface with its MAC appears: the unclaimed ACKs to the MAC, and the unclaimed steps from
-- the address each ACK gave, in the hour after it.
CREATE INDEX boot_steps_unclaimed_mac ON boot_steps (mac) WHERE machine_id IS NULL;
CREATE INDEX boot_steps_unclaimed_address ON boot_steps (address, at) WHERE machine_id IS NULL;

CREATE FUNCTION boot_steps_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- From the MAC's ACKs (one index probe: none, for almost every new interface) to the
    -- steps from their addresses; the ACKs themselves are among those.
    UPDATE boot_steps s SET machine_id = NEW.machine_id
    FROM (SELECT address, at FROM boot_steps
          WHERE machine_id IS NULL AND mac = NEW.mac AND stage = 'dhcp') d
    WHERE s.machine_id IS NULL AND s.address = d.address AND s.at BETWEEN d.at AND d.at + interval '1 hour'
      -- Another stranger's ACK on the same address within the hour is not this machine's.
      AND (s.mac IS NULL OR s.mac = NEW.mac);
    RETURN NULL;
END
$$;

CREATE TRIGGER interfaces_claim_boot_steps AFTER INSERT OR UPDATE OF mac ON interfaces
    FOR EACH ROW EXECUTE FUNCTION boot_steps_claim();
