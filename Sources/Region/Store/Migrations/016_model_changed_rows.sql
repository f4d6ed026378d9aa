-- A statement trigger runs once per statement, whether it changed rows or not. An UPDATE that
-- matched nothing (the lifecycle timeout check's, every 30 s) told every compiler the machines
-- had changed and moved their change counter: at 100k machines, a pass re-reading them all for
-- nothing, which a write arriving meanwhile waited for. With the statement's rows as a
-- transition table, the model's triggers notify only when a row changed. A trigger with a
-- transition table takes one event and no column list: three per table, on the tables whose
-- trigger had no column list (rack_controllers' and leases' keep theirs).
CREATE FUNCTION model_changed(changed_table text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF changed_table IN ('interfaces', 'machines', 'boot_tokens') THEN
        PERFORM nextval('model_interfaces_changes');
    ELSIF changed_table IN ('dns_records', 'domains') THEN
        PERFORM nextval('model_records_changes');
    END IF;
    PERFORM pg_notify('rackplane_model_changed', changed_table);
END
$$;

CREATE OR REPLACE FUNCTION notify_model_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM model_changed(TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- `changed_rows`: the rows the statement inserted, updated (new versions) or deleted.
CREATE FUNCTION notify_model_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows) THEN
        PERFORM model_changed(TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

DO $$
DECLARE
    model_table text;
BEGIN
    FOREACH model_table IN ARRAY ARRAY['fabrics', 'vlans', 'subnets', 'ip_ranges', 'machines', 'interfaces',
                                       'domains', 'dns_records', 'boot_resources', 'boot_tokens'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', model_table || '_changed', model_table);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION notify_model_rows_changed()', model_table || '_inserted', model_table);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION notify_model_rows_changed()', model_table || '_updated', model_table);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION notify_model_rows_changed()', model_table || '_deleted', model_table);
    END LOOP;
END
$$;
