-- migrations are Nova's migration records: one row per resize (and, later,
-- cold or live migration) of an instance, with the flavor it had and the
-- flavor it moves to, so that a revert can restore the old one. While a
-- resize is unconfirmed, placement holds the old flavor's resources under
-- the migration's uuid.

-- +goose Up
CREATE TABLE migrations (
    id                   bigserial PRIMARY KEY,
    uuid                 uuid NOT NULL UNIQUE,
    instance_uuid        uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    migration_type       text NOT NULL,
    status               text NOT NULL,
    source_compute       text NOT NULL DEFAULT '',
    dest_compute         text NOT NULL DEFAULT '',
    source_node          text NOT NULL DEFAULT '',
    dest_node            text NOT NULL DEFAULT '',
    dest_host            text NOT NULL DEFAULT '',
    old_instance_type_id bigint,
    new_instance_type_id bigint,
    old_flavor           jsonb NOT NULL,
    new_flavor           jsonb NOT NULL,
    -- old_vm_state is what a revert or a failure returns the instance to.
    old_vm_state         text NOT NULL,
    project_id           text NOT NULL,
    user_id              text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz,
    CONSTRAINT migrations_type_check CHECK (migration_type IN ('resize', 'migration', 'live-migration', 'evacuation'))
);
CREATE INDEX migrations_instance_idx ON migrations (instance_uuid, created_at);
CREATE INDEX migrations_status_idx ON migrations (status);

-- +goose Down
DROP TABLE migrations;
