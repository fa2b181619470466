-- network holds Neutron's data: networks with their VXLAN segment, subnets
-- and the addresses IPAM handed out, ports, security groups and rules,
-- routers and floating IPs. Lists (allocation pools, DNS servers, routes,
-- address pairs, tags) are jsonb or text[] on the row that owns them.
-- Addresses are text in their canonical form (Go's netip), so that
-- equality is string equality.

-- +goose Up
CREATE TABLE networks (
    id                    uuid PRIMARY KEY,
    project_id            text NOT NULL,
    name                  text NOT NULL DEFAULT '',
    description           text NOT NULL DEFAULT '',
    admin_state_up        boolean NOT NULL DEFAULT true,
    shared                boolean NOT NULL DEFAULT false,
    external              boolean NOT NULL DEFAULT false,
    mtu                   integer NOT NULL,
    network_type          text NOT NULL,
    physical_network      text,
    segmentation_id       integer,
    port_security_enabled boolean NOT NULL DEFAULT true,
    status                text NOT NULL DEFAULT 'ACTIVE',
    tags                  text[] NOT NULL DEFAULT '{}',
    revision_number       integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT networks_type_check CHECK (network_type IN ('vxlan', 'flat', 'local')),
    CONSTRAINT networks_vni_check CHECK (network_type <> 'vxlan' OR segmentation_id BETWEEN 1 AND 16777215)
);
-- One VNI per VXLAN network: the allocator picks the lowest free one under
-- an advisory lock, and this index catches anything that slips past it.
CREATE UNIQUE INDEX networks_vni_key ON networks (segmentation_id) WHERE network_type = 'vxlan';
-- One flat network per physical network, as Neutron's ML2 flat driver.
CREATE UNIQUE INDEX networks_flat_key ON networks (physical_network) WHERE network_type = 'flat';
CREATE INDEX networks_project_idx ON networks (project_id);

CREATE TABLE subnets (
    id                uuid PRIMARY KEY,
    network_id        uuid NOT NULL REFERENCES networks (id),
    project_id        text NOT NULL,
    name              text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    ip_version        integer NOT NULL,
    cidr              text NOT NULL,
    gateway_ip        text,
    allocation_pools  jsonb NOT NULL DEFAULT '[]',
    dns_nameservers   jsonb NOT NULL DEFAULT '[]',
    host_routes       jsonb NOT NULL DEFAULT '[]',
    enable_dhcp       boolean NOT NULL DEFAULT true,
    ipv6_ra_mode      text,
    ipv6_address_mode text,
    tags              text[] NOT NULL DEFAULT '{}',
    revision_number   integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subnets_ip_version_check CHECK (ip_version IN (4, 6))
);
CREATE INDEX subnets_network_idx ON subnets (network_id);

CREATE TABLE ports (
    id                    uuid PRIMARY KEY,
    network_id            uuid NOT NULL REFERENCES networks (id),
    project_id            text NOT NULL,
    name                  text NOT NULL DEFAULT '',
    description           text NOT NULL DEFAULT '',
    mac_address           text NOT NULL UNIQUE,
    admin_state_up        boolean NOT NULL DEFAULT true,
    status                text NOT NULL DEFAULT 'DOWN',
    device_owner          text NOT NULL DEFAULT '',
    device_id             text NOT NULL DEFAULT '',
    binding_host_id       text NOT NULL DEFAULT '',
    binding_vnic_type     text NOT NULL DEFAULT 'normal',
    binding_profile       jsonb NOT NULL DEFAULT '{}',
    port_security_enabled boolean NOT NULL DEFAULT true,
    allowed_address_pairs jsonb NOT NULL DEFAULT '[]',
    security_groups       text[] NOT NULL DEFAULT '{}',
    tags                  text[] NOT NULL DEFAULT '{}',
    revision_number       integer NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ports_network_idx ON ports (network_id);
CREATE INDEX ports_device_idx ON ports (device_id);

-- ip_allocations is IPAM: an address of a subnet belongs to at most one
-- port. The primary key makes a double allocation impossible.
CREATE TABLE ip_allocations (
    subnet_id  uuid NOT NULL REFERENCES subnets (id),
    ip_address text NOT NULL,
    port_id    uuid NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    network_id uuid NOT NULL,
    PRIMARY KEY (subnet_id, ip_address)
);
CREATE INDEX ip_allocations_port_idx ON ip_allocations (port_id);

CREATE TABLE security_groups (
    id              uuid PRIMARY KEY,
    project_id      text NOT NULL,
    name            text NOT NULL DEFAULT '',
    description     text NOT NULL DEFAULT '',
    stateful        boolean NOT NULL DEFAULT true,
    tags            text[] NOT NULL DEFAULT '{}',
    revision_number integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_groups_project_idx ON security_groups (project_id);
-- A project has one default group, created on first use.
CREATE UNIQUE INDEX security_groups_default_key ON security_groups (project_id) WHERE name = 'default';

CREATE TABLE security_group_rules (
    id                uuid PRIMARY KEY,
    security_group_id uuid NOT NULL REFERENCES security_groups (id) ON DELETE CASCADE,
    project_id        text NOT NULL,
    description       text NOT NULL DEFAULT '',
    direction         text NOT NULL,
    ethertype         text NOT NULL,
    protocol          text,
    port_range_min    integer,
    port_range_max    integer,
    remote_ip_prefix  text,
    remote_group_id   uuid REFERENCES security_groups (id) ON DELETE CASCADE,
    -- Rules carry no tags in Neutron; the column keeps the standard
    -- attributes uniform.
    tags              text[] NOT NULL DEFAULT '{}',
    -- charged is true for rules created through the API, which count
    -- against the project's quota; the rules a group is born with do not.
    charged           boolean NOT NULL DEFAULT false,
    revision_number   integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT security_group_rules_direction_check CHECK (direction IN ('ingress', 'egress')),
    CONSTRAINT security_group_rules_ethertype_check CHECK (ethertype IN ('IPv4', 'IPv6'))
);
CREATE INDEX security_group_rules_group_idx ON security_group_rules (security_group_id);

CREATE TABLE routers (
    id                uuid PRIMARY KEY,
    project_id        text NOT NULL,
    name              text NOT NULL DEFAULT '',
    description       text NOT NULL DEFAULT '',
    admin_state_up    boolean NOT NULL DEFAULT true,
    status            text NOT NULL DEFAULT 'ACTIVE',
    gw_network_id     uuid REFERENCES networks (id),
    gw_port_id        uuid REFERENCES ports (id),
    enable_snat       boolean NOT NULL DEFAULT true,
    routes            jsonb NOT NULL DEFAULT '[]',
    tags              text[] NOT NULL DEFAULT '{}',
    revision_number   integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE floating_ips (
    id                  uuid PRIMARY KEY,
    project_id          text NOT NULL,
    description         text NOT NULL DEFAULT '',
    floating_network_id uuid NOT NULL REFERENCES networks (id),
    floating_port_id    uuid NOT NULL REFERENCES ports (id),
    floating_ip_address text NOT NULL,
    port_id             uuid REFERENCES ports (id),
    fixed_ip_address    text,
    router_id           uuid REFERENCES routers (id),
    status              text NOT NULL DEFAULT 'DOWN',
    tags                text[] NOT NULL DEFAULT '{}',
    revision_number     integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- A fixed address of a port has at most one floating IP.
CREATE UNIQUE INDEX floating_ips_fixed_key ON floating_ips (port_id, fixed_ip_address) WHERE port_id IS NOT NULL;

-- +goose Down
DROP TABLE floating_ips;
DROP TABLE routers;
DROP TABLE security_group_rules;
DROP TABLE security_groups;
DROP TABLE ip_allocations;
DROP TABLE ports;
DROP TABLE subnets;
DROP TABLE networks;
