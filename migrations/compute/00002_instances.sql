-- instances are Nova's servers: the desired state the API writes and the
-- compute agent of the chosen host makes so. Flavor sizes are copied so a
-- later flavor change or deletion does not change a running server.

-- +goose Up
CREATE TABLE instances (
    uuid              uuid PRIMARY KEY,
    name              text NOT NULL,
    project_id        text NOT NULL,
    user_id           text NOT NULL,
    image_ref         text NOT NULL DEFAULT '',
    flavor_id         text NOT NULL,
    flavor_name       text NOT NULL DEFAULT '',
    vcpus             integer NOT NULL,
    memory_mb         integer NOT NULL,
    root_gb           integer NOT NULL DEFAULT 0,
    ephemeral_gb      integer NOT NULL DEFAULT 0,
    swap              integer NOT NULL DEFAULT 0,
    flavor_extra_specs jsonb NOT NULL DEFAULT '{}',
    key_name          text,
    public_key        text,
    user_data         text,
    metadata          jsonb NOT NULL DEFAULT '{}',
    host              text,
    vm_state          text NOT NULL,
    task_state        text,
    power_state       integer NOT NULL DEFAULT 0,
    config_drive      boolean NOT NULL DEFAULT false,
    availability_zone text NOT NULL DEFAULT '',
    fault             jsonb,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz,
    launched_at       timestamptz,
    terminated_at     timestamptz,
    deleted           boolean NOT NULL DEFAULT false,
    deleted_at        timestamptz
);
CREATE INDEX instances_project_idx ON instances (project_id, created_at) WHERE NOT deleted;
CREATE INDEX instances_host_idx ON instances (host) WHERE NOT deleted;

-- instance_actions record what was asked of a server, as Nova's
-- os-instance-actions show them.
CREATE TABLE instance_actions (
    id            bigserial PRIMARY KEY,
    instance_uuid uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    action        text NOT NULL,
    request_id    text NOT NULL DEFAULT '',
    user_id       text NOT NULL,
    project_id    text NOT NULL,
    message       text,
    start_time    timestamptz NOT NULL DEFAULT now(),
    finish_time   timestamptz
);
CREATE INDEX instance_actions_instance_idx ON instance_actions (instance_uuid, start_time);

-- +goose Down
DROP TABLE instance_actions;
DROP TABLE instances;
