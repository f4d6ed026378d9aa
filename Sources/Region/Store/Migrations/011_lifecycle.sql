-- Lifecycle (issue 10): the machine reports the end of its commissioning or deployment with a
-- per-boot token; failed states with their reason; lifecycle power requests; the region URL
-- racks render into kernel command lines.

ALTER TABLE machines DROP CONSTRAINT machines_status_known;
ALTER TABLE machines ADD CONSTRAINT machines_status_known CHECK (status IN (
    'new', 'commissioning', 'ready', 'deploying', 'deployed', 'releasing', 'broken',
    'failed_commissioning', 'failed_deployment'));
-- Why the machine is in its state (a failure's reason; empty otherwise), and since when (the
-- lifecycle timeout counts from here).
ALTER TABLE machines ADD COLUMN status_message text NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN status_changed_at timestamptz NOT NULL DEFAULT now();
-- What the commissioning environment found (its report's "facts": CPUs, memory, disks…).
ALTER TABLE machines ADD COLUMN facts jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT machines_facts_object CHECK (jsonb_typeof(facts) = 'object');

-- The token of a machine's current commissioning or deployment boot. The token itself is never
-- stored: it is an HMAC of the nonce under a key derived from the region's power-key, made
-- again when the tables are compiled; only its SHA-256 is kept, to check reports against.
-- A used token stays (used_at set) until the next boot's replaces it, so that a second report
-- is told "already used" rather than "unknown".
CREATE TABLE boot_tokens (
    machine_id bigint PRIMARY KEY CONSTRAINT boot_tokens_machine_fkey REFERENCES machines ON DELETE CASCADE,
    purpose text NOT NULL CONSTRAINT boot_tokens_purpose_known CHECK (purpose IN ('commission', 'deploy')),
    nonce text NOT NULL CONSTRAINT boot_tokens_nonce_syntax CHECK (nonce ~ '^[0-9a-f]{32}$'),
    token_sha256 sha256_hex NOT NULL CONSTRAINT boot_tokens_token_sha256_key UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE TRIGGER boot_tokens_changed AFTER INSERT OR DELETE OR UPDATE ON boot_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();

-- Commission and deploy power the machine on through the same queue.
ALTER TABLE power_requests DROP CONSTRAINT power_requests_source_known;
ALTER TABLE power_requests ADD CONSTRAINT power_requests_source_known CHECK (source IN ('api', 'poll', 'lifecycle'));
-- A lifecycle power cycle waits until the rack's tables are newer than this generation (the one
-- it served when the request was made), so the machine boots what its new state renders; NULL:
-- no wait. (Not forever: PowerRoutes.tablesWaitSeconds.)
ALTER TABLE power_requests ADD COLUMN after_generation bigint;

-- The URL the rack reached the region at when it enrolled (its Host header): the default for
-- the report and enlistment URLs its tables carry.
ALTER TABLE rack_controllers ADD COLUMN region_url text;
CREATE TRIGGER rack_controllers_region_url_changed AFTER UPDATE OF region_url ON rack_controllers
    FOR EACH STATEMENT EXECUTE FUNCTION notify_model_changed();
