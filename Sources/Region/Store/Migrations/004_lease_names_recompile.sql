-- Named leases are published in the racks' zones: a lease report that changes a host name (or
-- adds or removes a named lease) wakes the compiler like any model change. Reports that change
-- nothing the zones show compile to the same fingerprint and publish nothing.
CREATE TRIGGER leases_changed AFTER INSERT OR DELETE OR UPDATE OF hostname, state ON leases
    FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
