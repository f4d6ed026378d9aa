-- The compiler keeps the interfaces and the DNS records between passes. A notification cannot
-- tell it whether a commit is already inside its snapshot (one may commit between the drain and
-- the snapshot), so every statement that changes one of those tables also advances its group's
-- sequence. Sequences advance at once, not at commit: a commit the snapshot sees has always
-- moved its counter before, and the compiler reads the counters after taking the snapshot. A
-- counter that moved (or a rolled-back statement that moved it) means read that part again.
-- A transaction still open at the snapshot has moved its counter too; its notification, after
-- its commit, makes the compiler read the part again (CompilerModelCache). The sequences must
-- keep CACHE 1: a backend's cached values would not show in another's reads.
CREATE SEQUENCE model_interfaces_changes;
CREATE SEQUENCE model_records_changes;

CREATE OR REPLACE FUNCTION notify_model_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME IN ('interfaces', 'machines', 'boot_tokens') THEN
        PERFORM nextval('model_interfaces_changes');
    ELSIF TG_TABLE_NAME IN ('dns_records', 'domains') THEN
        PERFORM nextval('model_records_changes');
    END IF;
    PERFORM pg_notify('rackplane_model_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
