-- volume holds Cinder's data: volume types with their extra specs, volumes
-- with their metadata, attachments of volumes to instances, and snapshots.
-- The volume data itself lives in the volume backend (the driver of the
-- volume's host), named by the volume's or snapshot's ID.

-- +goose Up
CREATE TABLE volume_types (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text,
    is_public   boolean NOT NULL DEFAULT true,
    extra_specs jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX volume_types_name_idx ON volume_types (name);

-- __DEFAULT__ is Cinder's default type, used when a create names none.
INSERT INTO volume_types (id, name, description, is_public)
VALUES ('c4f1c1d2-0f4b-4d6a-9d35-4f1e7d0d0f01', '__DEFAULT__', 'Default Volume Type', true);

CREATE TABLE volumes (
    id                text PRIMARY KEY,
    project_id        text NOT NULL,
    user_id           text NOT NULL DEFAULT '',
    name              text,
    description       text,
    size              integer NOT NULL,
    status            text NOT NULL,
    attach_status     text NOT NULL DEFAULT 'detached',
    volume_type_id    text NOT NULL REFERENCES volume_types (id),
    availability_zone text NOT NULL,
    bootable          boolean NOT NULL DEFAULT false,
    multiattach       boolean NOT NULL DEFAULT false,
    -- host is the backend host whose manager holds the data
    -- (host@backend#pool as Cinder shows it).
    host              text NOT NULL,
    snapshot_id       text,
    source_volid      text,
    image_id          text,
    -- image_metadata is volume_image_metadata: what the volume took from
    -- the image it was created from.
    image_metadata    jsonb NOT NULL DEFAULT '{}',
    metadata          jsonb NOT NULL DEFAULT '{}',
    -- new_size is the size an extend in progress grows the volume to.
    new_size          integer NOT NULL DEFAULT 0,
    -- upload_image_id is the image an upload in progress writes to.
    upload_image_id   text NOT NULL DEFAULT '',
    -- error says why the last operation failed (logged, not shown).
    error             text NOT NULL DEFAULT '',
    launched_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT volumes_size_check CHECK (size > 0)
);
CREATE INDEX volumes_project_idx ON volumes (project_id);
CREATE INDEX volumes_host_status_idx ON volumes (host, status);

CREATE TABLE volume_attachments (
    id              text PRIMARY KEY,
    volume_id       text NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    project_id      text NOT NULL,
    instance_uuid   text NOT NULL,
    attach_status   text NOT NULL,
    attach_mode     text NOT NULL DEFAULT 'rw',
    attached_host   text NOT NULL DEFAULT '',
    mountpoint      text NOT NULL DEFAULT '',
    connector       jsonb,
    connection_info jsonb,
    attach_time     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX volume_attachments_volume_idx ON volume_attachments (volume_id);
CREATE INDEX volume_attachments_instance_idx ON volume_attachments (instance_uuid);

CREATE TABLE snapshots (
    id          text PRIMARY KEY,
    project_id  text NOT NULL,
    user_id     text NOT NULL DEFAULT '',
    volume_id   text NOT NULL REFERENCES volumes (id),
    name        text,
    description text,
    size        integer NOT NULL,
    status      text NOT NULL,
    metadata    jsonb NOT NULL DEFAULT '{}',
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX snapshots_project_idx ON snapshots (project_id);
CREATE INDEX snapshots_volume_idx ON snapshots (volume_id);

-- +goose Down
DROP TABLE snapshots;
DROP TABLE volume_attachments;
DROP TABLE volumes;
DROP TABLE volume_types;
