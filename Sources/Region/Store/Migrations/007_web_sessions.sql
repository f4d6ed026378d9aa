-- The web UI (issue 8): login sessions, and when each rack last spoke to a region.
--
-- A browser logs in with an API token and gets a random session id in a cookie. Only the id's
-- SHA-256 is stored, tied to the token that logged in: revoking the token ends its sessions, and
-- the session acts with the token's role. Every region process on this database shares them.
CREATE TABLE web_sessions (
    session_sha256 sha256_hex PRIMARY KEY,
    token_id bigint NOT NULL CONSTRAINT web_sessions_token_fkey REFERENCES api_tokens ON DELETE CASCADE,
    -- Put in every form and checked on every POST (the cookie alone proves nothing about who
    -- built the form). Not a credential on its own.
    csrf_token text NOT NULL CONSTRAINT web_sessions_csrf_token_syntax CHECK (csrf_token ~ '^[0-9a-f]{64}$'),
    -- One message for the next page (what a POST did), shown once.
    flash text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Enrolment, the announcement stream (and its keepalives), lease reports and table fetches all
-- count as contact. Not watched by rack_controllers_changed (UPDATE OF name only): a keepalive
-- does not wake the compiler.
ALTER TABLE rack_controllers ADD COLUMN last_contact_at timestamptz;
