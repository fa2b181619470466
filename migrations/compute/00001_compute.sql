-- compute holds Nova's API data: flavors with their extra specs and the
-- projects a private flavor is shared with, and users' key pairs. Servers
-- and their tasks come in later migrations.

-- +goose Up
CREATE TABLE flavors (
    -- id is internal (a stable tiebreak for pagination); flavorid is the ID
    -- clients see.
    id           bigserial PRIMARY KEY,
    flavorid     text NOT NULL UNIQUE,
    name         text NOT NULL UNIQUE,
    memory_mb    integer NOT NULL,
    vcpus        integer NOT NULL,
    root_gb      integer NOT NULL DEFAULT 0,
    ephemeral_gb integer NOT NULL DEFAULT 0,
    swap         integer NOT NULL DEFAULT 0,
    rxtx_factor  double precision NOT NULL DEFAULT 1.0,
    vcpu_weight  integer,
    disabled     boolean NOT NULL DEFAULT false,
    is_public    boolean NOT NULL DEFAULT true,
    description  text,
    extra_specs  jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz,
    CONSTRAINT flavors_sizes_check CHECK (memory_mb > 0 AND vcpus > 0 AND root_gb >= 0
        AND ephemeral_gb >= 0 AND swap >= 0 AND rxtx_factor > 0)
);

CREATE TABLE flavor_projects (
    flavor_id  bigint NOT NULL REFERENCES flavors (id) ON DELETE CASCADE,
    project_id text NOT NULL,
    PRIMARY KEY (flavor_id, project_id)
);
CREATE INDEX flavor_projects_project_idx ON flavor_projects (project_id);

-- key_pairs belong to a user, as in Nova; project_id records the project
-- the user was scoped to when the key was created.
CREATE TABLE key_pairs (
    id          bigserial PRIMARY KEY,
    user_id     text NOT NULL,
    project_id  text NOT NULL,
    name        text NOT NULL,
    type        text NOT NULL DEFAULT 'ssh',
    public_key  text NOT NULL,
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz,
    CONSTRAINT key_pairs_user_name_key UNIQUE (user_id, name),
    CONSTRAINT key_pairs_type_check CHECK (type IN ('ssh', 'x509'))
);

-- +goose Down
DROP TABLE key_pairs;
DROP TABLE flavor_projects;
DROP TABLE flavors;
