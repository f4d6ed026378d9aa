-- Power (issue 10): qmp joins the power types; the parameters are kept encrypted (AES-256-GCM,
-- the key in the region's state directory) with only a redacted copy in power_parameters; power
-- requests queue for the rack that serves the machine; each machine's last known power state.

ALTER TABLE machines DROP CONSTRAINT machines_power_type_known;
ALTER TABLE machines ADD CONSTRAINT machines_power_type_known
    CHECK (power_type IN ('manual', 'ipmi', 'redfish', 'webhook', 'qmp'));
-- version byte, 12-byte nonce, ciphertext, 16-byte tag (PowerVault). NULL: no parameters.
ALTER TABLE machines ADD COLUMN power_parameters_sealed bytea;

-- Not in machines: a polled state changing must not wake the table compiler.
CREATE TABLE machine_power (
    machine_id bigint PRIMARY KEY CONSTRAINT machine_power_machine_fkey REFERENCES machines ON DELETE CASCADE,
    state text NOT NULL CONSTRAINT machine_power_state_known CHECK (state IN ('on', 'off', 'unknown', 'error')),
    message text NOT NULL DEFAULT '',
    checked_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE power_requests (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine_id bigint NOT NULL CONSTRAINT power_requests_machine_fkey REFERENCES machines ON DELETE CASCADE,
    rack_id bigint NOT NULL CONSTRAINT power_requests_rack_fkey REFERENCES rack_controllers ON DELETE CASCADE,
    action text NOT NULL CONSTRAINT power_requests_action_known CHECK (action IN ('on', 'off', 'cycle', 'soft-off', 'query')),
    boot_pxe boolean NOT NULL DEFAULT false,
    -- api: an operator asked (always an event); poll: the periodic check (an event on change).
    source text NOT NULL DEFAULT 'api' CONSTRAINT power_requests_source_known CHECK (source IN ('api', 'poll')),
    actor text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CONSTRAINT power_requests_status_known CHECK (status IN ('pending', 'sent', 'done', 'failed')),
    state text,
    error text,
    message text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX power_requests_open ON power_requests (rack_id, id) WHERE status IN ('pending', 'sent');
CREATE INDEX power_requests_machine ON power_requests (machine_id, id);
