-- block_device_mappings are a server's disks that are volumes (Nova's
-- block_device_mapping table): attached with os-volume_attachments or
-- asked for at create with block_device_mapping_v2 (boot from volume).
-- status tracks an attach or detach in flight (attaching, detaching), so
-- the compute agent can finish or undo it after a crash; attached rows are
-- settled. A row goes away when its volume is detached or its server is
-- deleted.

-- +goose Up
CREATE TABLE block_device_mappings (
    uuid                  uuid PRIMARY KEY,
    instance_uuid         uuid NOT NULL REFERENCES instances (uuid) ON DELETE CASCADE,
    source_type           text NOT NULL,
    destination_type      text NOT NULL,
    boot_index            integer,
    device_name           text NOT NULL,
    volume_id             uuid,
    image_id              text,
    snapshot_id           text,
    volume_size           integer,
    delete_on_termination boolean NOT NULL DEFAULT false,
    attachment_id         uuid,
    tag                   text,
    connection_info       jsonb,
    status                text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX block_device_mappings_device_idx ON block_device_mappings (instance_uuid, device_name);
CREATE UNIQUE INDEX block_device_mappings_volume_idx ON block_device_mappings (instance_uuid, volume_id) WHERE volume_id IS NOT NULL;
CREATE INDEX block_device_mappings_volume_id_idx ON block_device_mappings (volume_id);

-- +goose Down
DROP TABLE block_device_mappings;
