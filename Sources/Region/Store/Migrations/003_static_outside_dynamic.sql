-- A static address inside a dynamic range would be handed to two machines: the rack leases
-- from its pools without knowing which addresses machines were given. This crosses two tables,
-- so triggers check it; both take the same per-subnet advisory lock, and each query in a
-- volatile function sees what committed before it (READ COMMITTED), so two transactions racing
-- (one adding the range, one the address) are checked one after the other.

CREATE FUNCTION lock_subnet_addresses(subnet bigint) RETURNS void LANGUAGE sql AS $$
    -- Key space 1 of the two-key advisory locks: the subnet's addresses.
    SELECT pg_advisory_xact_lock(1, (subnet % 2147483647)::integer)
$$;

CREATE FUNCTION check_static_outside_dynamic() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    clash record;
BEGIN
    IF NEW.ip IS NULL OR NEW.subnet_id IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM lock_subnet_addresses(NEW.subnet_id);
    SELECT start_ip, end_ip INTO clash FROM ip_ranges
        WHERE subnet_id = NEW.subnet_id AND type = 'dynamic' AND NEW.ip BETWEEN start_ip AND end_ip
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'static address % is inside dynamic range %-%', host(NEW.ip), host(clash.start_ip), host(clash.end_ip)
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'interfaces_ip_outside_dynamic_ranges',
                  TABLE = 'interfaces', COLUMN = 'ip',
                  DETAIL = format('Key (ip)=(%s) is inside dynamic range %s-%s.', host(NEW.ip), host(clash.start_ip), host(clash.end_ip));
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER interfaces_ip_outside_dynamic_ranges AFTER INSERT OR UPDATE OF ip, subnet_id ON interfaces
    FOR EACH ROW EXECUTE FUNCTION check_static_outside_dynamic();

CREATE FUNCTION check_dynamic_range_free() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    taken record;
BEGIN
    IF NEW.type <> 'dynamic' THEN
        RETURN NEW;
    END IF;
    PERFORM lock_subnet_addresses(NEW.subnet_id);
    SELECT ip INTO taken FROM interfaces
        WHERE subnet_id = NEW.subnet_id AND ip BETWEEN NEW.start_ip AND NEW.end_ip
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'dynamic range %-% holds static address %', host(NEW.start_ip), host(NEW.end_ip), host(taken.ip)
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'ip_ranges_dynamic_excludes_static',
                  TABLE = 'ip_ranges',
                  DETAIL = format('Static address %s is inside %s-%s.', host(taken.ip), host(NEW.start_ip), host(NEW.end_ip));
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER ip_ranges_dynamic_excludes_static AFTER INSERT OR UPDATE ON ip_ranges
    FOR EACH ROW EXECUTE FUNCTION check_dynamic_range_free();
