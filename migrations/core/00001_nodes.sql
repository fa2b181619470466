-- nodes records every kumod host: what it runs and how to reach its
-- hypervisor. Each kumod upserts its own row at start and refreshes
-- updated_at while it runs.

-- +goose Up
CREATE TABLE nodes (
    name        text PRIMARY KEY,
    roles       text[] NOT NULL DEFAULT '{}',
    virt_type   text NOT NULL,
    libvirt_uri text,
    version     text,
    started_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE nodes;
