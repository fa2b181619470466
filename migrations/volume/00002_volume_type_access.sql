-- volume_type_access lists the projects that may use a private volume type
-- (Cinder's os-volume-type-access).

-- +goose Up
CREATE TABLE volume_type_access (
    volume_type_id text NOT NULL REFERENCES volume_types (id) ON DELETE CASCADE,
    project_id     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (volume_type_id, project_id)
);
CREATE INDEX volume_type_access_project_idx ON volume_type_access (project_id);

-- +goose Down
DROP TABLE volume_type_access;
