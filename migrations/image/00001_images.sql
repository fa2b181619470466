-- image holds Glance's data: images with their custom properties and tags,
-- and the projects an image is shared with. The image data itself lives in
-- the image backend, named by the image's ID.

-- +goose Up
CREATE TABLE images (
    id               text PRIMARY KEY,
    name             text,
    owner            text NOT NULL,
    status           text NOT NULL,
    visibility       text NOT NULL,
    protected        boolean NOT NULL DEFAULT false,
    os_hidden        boolean NOT NULL DEFAULT false,
    disk_format      text,
    container_format text,
    min_disk         integer NOT NULL DEFAULT 0,
    min_ram          integer NOT NULL DEFAULT 0,
    size             bigint,
    virtual_size     bigint,
    checksum         text,
    os_hash_algo     text,
    os_hash_value    text,
    -- store names the backend holding the data; '' while there is none.
    store            text NOT NULL DEFAULT '',
    -- charged_size is what the image counts toward image.image_size_total,
    -- released when it is deleted.
    charged_size     bigint NOT NULL DEFAULT 0,
    properties       jsonb NOT NULL DEFAULT '{}',
    tags             text[] NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT images_visibility_check CHECK (visibility IN ('public', 'private', 'shared', 'community')),
    CONSTRAINT images_min_check CHECK (min_disk >= 0 AND min_ram >= 0)
);
CREATE INDEX images_owner_idx ON images (owner);
CREATE INDEX images_visibility_idx ON images (visibility);
CREATE INDEX images_created_at_idx ON images (created_at);
CREATE INDEX images_tags_idx ON images USING gin (tags);

CREATE TABLE image_members (
    image_id   text NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    member     text NOT NULL,
    status     text NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (image_id, member),
    CONSTRAINT image_members_status_check CHECK (status IN ('pending', 'accepted', 'rejected'))
);
CREATE INDEX image_members_member_idx ON image_members (member, status);

-- +goose Down
DROP TABLE image_members;
DROP TABLE images;
