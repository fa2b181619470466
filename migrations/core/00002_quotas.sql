-- quota_limits holds the per-project overrides an admin sets; a resource
-- without a row gets the default its service registers at start, so
-- deleting a project's rows puts it back on the defaults. -1 is unlimited.
--
-- quota_usages holds what each project has in use and reserved per
-- resource. Its rows are the locks that serialise quota checks: every
-- change takes the row with SELECT ... FOR UPDATE inside the caller's
-- transaction, resources in sorted order so two callers cannot deadlock.
--
-- quota_reservations holds the open two-phase reservations of long
-- operations, one row per resource; the rows sharing an id are one
-- reservation, committed, rolled back or expired together.

-- +goose Up
CREATE TABLE quota_limits (
    project_id text   NOT NULL,
    resource   text   NOT NULL,
    hard_limit bigint NOT NULL CHECK (hard_limit >= -1),
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE quota_usages (
    project_id text        NOT NULL,
    resource   text        NOT NULL,
    in_use     bigint      NOT NULL DEFAULT 0 CHECK (in_use >= 0),
    reserved   bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, resource)
);

CREATE TABLE quota_reservations (
    id         uuid        NOT NULL,
    project_id text        NOT NULL,
    resource   text        NOT NULL,
    delta      bigint      NOT NULL CHECK (delta > 0),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (id, resource)
);

-- The periodic sweep looks for what has expired.
CREATE INDEX quota_reservations_expires_at ON quota_reservations (expires_at);

-- +goose Down
DROP TABLE quota_reservations;
DROP TABLE quota_usages;
DROP TABLE quota_limits;
