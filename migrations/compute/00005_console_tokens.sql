-- console_auth_tokens authorise one remote (serial) console connection, as
-- Nova's table of that name does: the token itself is never stored, only its
-- SHA-256; a token is bound to one instance and its host, expires after a few
-- minutes and is consumed by the connection that uses it, so any compute-api
-- process can validate it.

-- +goose Up
CREATE TABLE console_auth_tokens (
    id              bigserial PRIMARY KEY,
    token_hash      text NOT NULL UNIQUE,
    console_type    text NOT NULL,
    host            text NOT NULL,
    instance_uuid   uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    access_url_base text NOT NULL,
    expires         timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX console_auth_tokens_instance_idx ON console_auth_tokens (instance_uuid);
CREATE INDEX console_auth_tokens_expires_idx ON console_auth_tokens (expires);

-- +goose Down
DROP TABLE console_auth_tokens;
