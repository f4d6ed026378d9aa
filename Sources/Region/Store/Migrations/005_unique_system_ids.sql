-- System ids were 8 random hex digits: with 100,000 machines two of them collide more often
-- than not (birthday bound: 32 bits), and the create fails with a conflict the operator did
-- nothing to cause. They now come from a sequence through a bijection of the 32-bit numbers
-- (multiplication by an odd constant modulo 2^32), so they still look random and stay 8 digits
-- but never repeat; the loop only steps over ids given out before this migration.
CREATE SEQUENCE machine_system_id_seq;

CREATE FUNCTION rackplane_next_system_id() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    candidate text;
BEGIN
    LOOP
        candidate := lpad(to_hex(((nextval('machine_system_id_seq') % 4294967296)::numeric * 2654435761 % 4294967296)::bigint), 8, '0');
        EXIT WHEN NOT EXISTS (SELECT 1 FROM machines WHERE system_id = candidate);
    END LOOP;
    RETURN candidate;
END
$$;

ALTER TABLE machines ALTER COLUMN system_id SET DEFAULT rackplane_next_system_id();
