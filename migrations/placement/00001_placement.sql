-- placement holds what compute hosts offer and what consumers (servers,
-- migrations) hold of it: one resource provider per compute host, its
-- inventory per resource class, the aggregates and traits it belongs to or
-- has, and allocations of consumers against providers.
--
-- Claims serialise on the provider row: every change to a provider's
-- allocations or inventory takes its row with SELECT ... FOR UPDATE (several
-- providers in uuid order, after the consumer rows, also in uuid order) and
-- bumps its generation, so two claims can never both take the last unit.

-- +goose Up
CREATE TABLE resource_providers (
    uuid       uuid        PRIMARY KEY,
    name       text        NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200),
    generation bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Placement's defaults: reserved 0, min_unit 1, max_unit 2^31-1, step_size
-- 1, allocation_ratio 1.0. Capacity is (total - reserved) * allocation_ratio.
CREATE TABLE inventories (
    provider_uuid    uuid             NOT NULL REFERENCES resource_providers (uuid) ON DELETE CASCADE,
    resource_class   text             NOT NULL CHECK (resource_class ~ '^[A-Z0-9_]+$'),
    total            bigint           NOT NULL CHECK (total >= 1),
    reserved         bigint           NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    min_unit         bigint           NOT NULL DEFAULT 1 CHECK (min_unit >= 1),
    max_unit         bigint           NOT NULL DEFAULT 2147483647 CHECK (max_unit >= 1),
    step_size        bigint           NOT NULL DEFAULT 1 CHECK (step_size >= 1),
    allocation_ratio double precision NOT NULL DEFAULT 1.0 CHECK (allocation_ratio > 0),
    PRIMARY KEY (provider_uuid, resource_class),
    CHECK (min_unit <= max_unit)
);

CREATE TABLE provider_aggregates (
    provider_uuid  uuid NOT NULL REFERENCES resource_providers (uuid) ON DELETE CASCADE,
    aggregate_uuid uuid NOT NULL,
    PRIMARY KEY (provider_uuid, aggregate_uuid)
);
CREATE INDEX provider_aggregates_aggregate ON provider_aggregates (aggregate_uuid);

CREATE TABLE provider_traits (
    provider_uuid uuid NOT NULL REFERENCES resource_providers (uuid) ON DELETE CASCADE,
    trait         text NOT NULL CHECK (trait ~ '^[A-Z0-9_]+$'),
    PRIMARY KEY (provider_uuid, trait)
);

-- consumers are what holds allocations (a server, or a migration holding a
-- resize's source resources); generation counts their allocation changes.
CREATE TABLE consumers (
    uuid       uuid        PRIMARY KEY,
    project_id text        NOT NULL,
    user_id    text        NOT NULL,
    generation bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consumers_project_user ON consumers (project_id, user_id);

-- A provider with allocations cannot be deleted (RESTRICT); a consumer's
-- allocations go with it.
CREATE TABLE allocations (
    consumer_uuid  uuid        NOT NULL REFERENCES consumers (uuid) ON DELETE CASCADE,
    provider_uuid  uuid        NOT NULL REFERENCES resource_providers (uuid) ON DELETE RESTRICT,
    resource_class text        NOT NULL,
    used           bigint      NOT NULL CHECK (used >= 1),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_uuid, provider_uuid, resource_class)
);
CREATE INDEX allocations_provider ON allocations (provider_uuid, resource_class);

-- +goose Down
DROP TABLE allocations;
DROP TABLE consumers;
DROP TABLE provider_traits;
DROP TABLE provider_aggregates;
DROP TABLE inventories;
DROP TABLE resource_providers;
