-- The rest of Nova's server API: descriptions, locks, tags and
-- reservations on instances; the events of instance actions; server
-- groups; and the compute services' admin state.

-- +goose Up
ALTER TABLE instances
    ADD COLUMN description    text,
    ADD COLUMN hostname       text,
    ADD COLUMN locked         boolean NOT NULL DEFAULT false,
    ADD COLUMN locked_by      text,
    ADD COLUMN locked_reason  text,
    -- tags live on the row so a listing needs no second query.
    ADD COLUMN tags           text[] NOT NULL DEFAULT '{}',
    ADD COLUMN reservation_id text NOT NULL DEFAULT '',
    ADD COLUMN launch_index   integer NOT NULL DEFAULT 0;
CREATE INDEX instances_tags_idx ON instances USING gin (tags);
CREATE INDEX instances_updated_idx ON instances (updated_at);
CREATE INDEX instances_reservation_idx ON instances (reservation_id);

ALTER TABLE instance_actions ADD COLUMN updated_at timestamptz;

-- instance_action_events are the steps a compute host ran for an action.
CREATE TABLE instance_action_events (
    id          bigserial PRIMARY KEY,
    action_id   bigint NOT NULL REFERENCES instance_actions (id) ON DELETE CASCADE,
    event       text NOT NULL,
    start_time  timestamptz NOT NULL DEFAULT now(),
    finish_time timestamptz,
    result      text,
    traceback   text,
    host        text,
    details     text
);
CREATE INDEX instance_action_events_action_idx ON instance_action_events (action_id);

-- server_groups are Nova's os-server-groups; a member is an instance.
CREATE TABLE server_groups (
    uuid       uuid PRIMARY KEY,
    name       text NOT NULL,
    project_id text NOT NULL,
    user_id    text NOT NULL,
    policy     text NOT NULL,
    rules      jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX server_groups_project_idx ON server_groups (project_id);

CREATE TABLE server_group_members (
    group_uuid    uuid NOT NULL REFERENCES server_groups (uuid) ON DELETE CASCADE,
    instance_uuid uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    PRIMARY KEY (group_uuid, instance_uuid)
);
CREATE INDEX server_group_members_instance_idx ON server_group_members (instance_uuid);

-- compute_services are Nova's os-services: one row per (host, binary), holding
-- the admin state; liveness comes from the heartbeat bucket.
CREATE TABLE compute_services (
    id              serial PRIMARY KEY,
    uuid            uuid NOT NULL UNIQUE,
    host            text NOT NULL,
    binary_name     text NOT NULL,
    disabled        boolean NOT NULL DEFAULT false,
    disabled_reason text,
    forced_down     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz,
    UNIQUE (host, binary_name)
);

-- +goose Down
DROP TABLE compute_services;
DROP TABLE server_group_members;
DROP TABLE server_groups;
DROP TABLE instance_action_events;
ALTER TABLE instance_actions DROP COLUMN updated_at;
DROP INDEX instances_reservation_idx;
DROP INDEX instances_updated_idx;
DROP INDEX instances_tags_idx;
ALTER TABLE instances
    DROP COLUMN description, DROP COLUMN hostname, DROP COLUMN locked, DROP COLUMN locked_by,
    DROP COLUMN locked_reason, DROP COLUMN tags, DROP COLUMN reservation_id, DROP COLUMN launch_index;
