-- requested_networks keeps what a server create asked for ("networks" and
-- "security_groups"), so the agent that builds the instance can allocate
-- its ports; network_info caches the instance's ports as the network
-- service last described them, as Nova's instance_info_caches does, so the
-- server view's addresses need no call to the network service.

-- +goose Up
ALTER TABLE instances ADD COLUMN requested_networks jsonb;
ALTER TABLE instances ADD COLUMN network_info jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE instances DROP COLUMN network_info;
ALTER TABLE instances DROP COLUMN requested_networks;
