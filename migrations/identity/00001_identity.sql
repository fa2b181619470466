-- identity holds Keystone's data: domains, projects, users, groups, roles,
-- role assignments, the service catalog, application credentials and token
-- revocation records. Foreign keys cascade where Keystone deletes the
-- dependents of a deleted entity (a domain's contents, group memberships,
-- the assignments of a deleted actor, target or role, the application
-- credentials of a deleted user or project, a service's endpoints).

-- +goose Up
CREATE TABLE domains (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    extra       jsonb,
    CONSTRAINT domains_name_key UNIQUE (name)
);

-- A project's parent is not cascaded: Keystone refuses to delete a project
-- that still has children.
CREATE TABLE projects (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    domain_id   text NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    parent_id   text REFERENCES projects (id),
    enabled     boolean NOT NULL DEFAULT true,
    is_domain   boolean NOT NULL DEFAULT false,
    tags        text[] NOT NULL DEFAULT '{}',
    CONSTRAINT projects_domain_id_name_key UNIQUE (domain_id, name),
    CONSTRAINT projects_parent_check CHECK (parent_id <> id)
);
CREATE INDEX projects_parent_id_idx ON projects (parent_id);

CREATE TABLE users (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    domain_id           text NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    default_project_id  text REFERENCES projects (id) ON DELETE SET NULL,
    password_hash       text NOT NULL DEFAULT '',
    enabled             boolean NOT NULL DEFAULT true,
    extra               jsonb,
    password_expires_at timestamptz,
    failed_logins       integer NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_domain_id_name_key UNIQUE (domain_id, name)
);
CREATE INDEX users_default_project_id_idx ON users (default_project_id);

CREATE TABLE groups (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    domain_id   text NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    CONSTRAINT groups_domain_id_name_key UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
    group_id text NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_id_idx ON group_members (user_id);

-- Global roles (domain_id NULL) have unique names; domain-specific roles
-- are unique within their domain.
CREATE TABLE roles (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    domain_id   text REFERENCES domains (id) ON DELETE CASCADE,
    CONSTRAINT roles_domain_id_name_key UNIQUE (domain_id, name)
);
CREATE UNIQUE INDEX roles_global_name_key ON roles (name) WHERE domain_id IS NULL;

CREATE TABLE implied_roles (
    prior_role_id   text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    implied_role_id text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id),
    CONSTRAINT implied_roles_self_check CHECK (prior_role_id <> implied_role_id)
);
CREATE INDEX implied_roles_implied_role_id_idx ON implied_roles (implied_role_id);

-- An assignment's actor is a user or a group and its target a project, a
-- domain or the system; one nullable column per kind lets each carry a
-- cascading foreign key. actor_id and target_id are Keystone's view of the
-- row ("system" as the system's target) and key it.
CREATE TABLE assignments (
    type       text NOT NULL,
    user_id    text REFERENCES users (id) ON DELETE CASCADE,
    group_id   text REFERENCES groups (id) ON DELETE CASCADE,
    project_id text REFERENCES projects (id) ON DELETE CASCADE,
    domain_id  text REFERENCES domains (id) ON DELETE CASCADE,
    role_id    text NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    inherited  boolean NOT NULL DEFAULT false,
    actor_id   text NOT NULL GENERATED ALWAYS AS (coalesce(user_id, group_id)) STORED,
    target_id  text NOT NULL GENERATED ALWAYS AS (coalesce(project_id, domain_id, 'system')) STORED,
    CONSTRAINT assignments_pkey PRIMARY KEY (type, actor_id, target_id, role_id, inherited),
    CONSTRAINT assignments_type_check CHECK (type IN
        ('UserProject', 'GroupProject', 'UserDomain', 'GroupDomain', 'UserSystem', 'GroupSystem')),
    CONSTRAINT assignments_actor_check CHECK (
        (user_id IS NOT NULL) = (type LIKE 'User%') AND (group_id IS NOT NULL) = (type LIKE 'Group%')),
    CONSTRAINT assignments_target_check CHECK (
        (project_id IS NOT NULL) = (type LIKE '%Project') AND (domain_id IS NOT NULL) = (type LIKE '%Domain'))
);
CREATE INDEX assignments_user_id_idx ON assignments (user_id);
CREATE INDEX assignments_group_id_idx ON assignments (group_id);
CREATE INDEX assignments_project_id_idx ON assignments (project_id);
CREATE INDEX assignments_domain_id_idx ON assignments (domain_id);
CREATE INDEX assignments_role_id_idx ON assignments (role_id);

-- Deleting a region deletes its child regions (as Keystone does) but not
-- while an endpoint still names it.
CREATE TABLE regions (
    id               text PRIMARY KEY,
    description      text NOT NULL DEFAULT '',
    parent_region_id text REFERENCES regions (id) ON DELETE CASCADE,
    CONSTRAINT regions_parent_check CHECK (parent_region_id <> id)
);
CREATE INDEX regions_parent_region_id_idx ON regions (parent_region_id);

CREATE TABLE services (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    name        text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true
);

CREATE TABLE endpoints (
    id         text PRIMARY KEY,
    service_id text NOT NULL REFERENCES services (id) ON DELETE CASCADE,
    interface  text NOT NULL CHECK (interface IN ('public', 'internal', 'admin')),
    region_id  text REFERENCES regions (id),
    url        text NOT NULL,
    enabled    boolean NOT NULL DEFAULT true
);
CREATE INDEX endpoints_service_id_idx ON endpoints (service_id);
CREATE INDEX endpoints_region_id_idx ON endpoints (region_id);

CREATE TABLE application_credentials (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    secret_hash  text NOT NULL,
    expires_at   timestamptz,
    unrestricted boolean NOT NULL DEFAULT false,
    role_ids     text[] NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT application_credentials_user_id_name_key UNIQUE (user_id, name)
);
CREATE INDEX application_credentials_project_id_idx ON application_credentials (project_id);

-- Revocation records have no foreign keys: they must outlive what they
-- name, until the tokens they revoke have expired.
CREATE TABLE revocation_records (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL DEFAULT '',
    audit_id      text NOT NULL DEFAULT '',
    user_id       text NOT NULL DEFAULT '',
    project_id    text NOT NULL DEFAULT '',
    domain_id     text NOT NULL DEFAULT '',
    app_cred_id   text NOT NULL DEFAULT '',
    role_id       text NOT NULL DEFAULT '',
    issued_before timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX revocation_records_expires_at_idx ON revocation_records (expires_at);

-- +goose Down
DROP TABLE revocation_records;
DROP TABLE application_credentials;
DROP TABLE endpoints;
DROP TABLE services;
DROP TABLE regions;
DROP TABLE assignments;
DROP TABLE implied_roles;
DROP TABLE roles;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
DROP TABLE projects;
DROP TABLE domains;
