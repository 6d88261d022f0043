-- Up Migration

-- One row per distinct installed package (name, version, source package, architecture). Assets
-- point at a content-addressed package set, so a fleet built from a few images stores each
-- image's package list once, and the applicability prefilter searches sets, not hosts.
CREATE TABLE packages (
  id       bigserial PRIMARY KEY,
  name     text NOT NULL,
  version  text NOT NULL,
  source   text NOT NULL DEFAULT '',
  arch     text NOT NULL DEFAULT '',
  -- a language ecosystem (Maven, npm, ...) when the package is not the OS's own
  ecosystem text NOT NULL DEFAULT '',
  UNIQUE (name, version, source, arch, ecosystem)
);
CREATE INDEX packages_source ON packages (source) WHERE source <> '';

CREATE TABLE package_sets (
  id          bigserial PRIMARY KEY,
  digest      bytea NOT NULL UNIQUE,
  package_ids bigint[] NOT NULL,
  -- every binary and source package name in the set: the index-backed prefilter
  names       text[] NOT NULL
);
-- A large pending list (64 MB) makes bulk imports cheap; autovacuum merges it later.
CREATE INDEX package_sets_names ON package_sets USING gin (names) WITH (gin_pending_list_limit = 65536);

CREATE TABLE assets (
  id                    text PRIMARY KEY,
  hostname              text NOT NULL,
  environment           text NOT NULL CHECK (environment IN ('lab', 'pilot', 'production')),
  os_name               text NOT NULL,
  os_version            text NOT NULL,
  criticality           text NOT NULL CHECK (criticality IN ('low', 'medium', 'high', 'critical')),
  exposure              text NOT NULL CHECK (exposure IN ('internet', 'internal', 'isolated')),
  role                  text,
  redundancy_group      text,
  owner                 text,
  timezone              text NOT NULL DEFAULT 'UTC',
  maintenance_windows   jsonb NOT NULL DEFAULT '[]',
  compensating_controls text[] NOT NULL DEFAULT '{}',
  connector             text NOT NULL DEFAULT 'simulated' CHECK (connector IN ('simulated', 'agent')),
  simulation            jsonb,
  package_set_id        bigint NOT NULL REFERENCES package_sets (id),
  package_count         integer NOT NULL,
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assets_package_set ON assets (package_set_id);
CREATE INDEX assets_environment ON assets (environment);
CREATE INDEX assets_redundancy_group ON assets (redundancy_group);

-- OSV records (one per advisory id), with what the matcher needs pulled out of `record`.
CREATE TABLE advisories (
  id          text PRIMARY KEY,
  modified    timestamptz NOT NULL,
  published   timestamptz,
  withdrawn   timestamptz,
  summary     text,
  aliases     text[] NOT NULL DEFAULT '{}',
  upstream    text[] NOT NULL DEFAULT '{}',
  cves        text[] NOT NULL DEFAULT '{}',
  package_names text[] NOT NULL DEFAULT '{}',
  record      jsonb NOT NULL,
  imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX advisories_cves ON advisories USING gin (cves);
CREATE INDEX advisories_aliases ON advisories USING gin (aliases);

-- CVE JSON 5 records.
CREATE TABLE cves (
  id           text PRIMARY KEY,
  state        text NOT NULL,
  date_updated timestamptz NOT NULL,
  published    timestamptz,
  description  text,
  cwes         text[] NOT NULL DEFAULT '{}',
  -- every CVSS metric found: [{version, baseScore, vector, source: 'cna'|'adp:<name>'}]
  cvss         jsonb NOT NULL DEFAULT '[]',
  record       jsonb NOT NULL,
  imported_at  timestamptz NOT NULL DEFAULT now()
);

-- The CISA Known Exploited Vulnerabilities catalog, one row per CVE.
CREATE TABLE kev (
  cve_id              text PRIMARY KEY,
  vendor_project      text,
  product             text,
  vulnerability_name  text,
  date_added          date NOT NULL,
  due_date            date,
  ransomware          text,
  short_description   text,
  required_action     text,
  catalog_version     text NOT NULL,
  imported_at         timestamptz NOT NULL DEFAULT now()
);

-- The priority policy: one current document, every version kept for the audit.
CREATE TABLE policy_versions (
  version    serial PRIMARY KEY,
  document   jsonb NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- What a patch's assessment found: one row per affected asset and package.
CREATE TABLE patch_targets (
  patch_id          text NOT NULL,
  asset_id          text NOT NULL,
  environment       text NOT NULL,
  advisory_id       text NOT NULL,
  package           text NOT NULL,
  installed_version text NOT NULL,
  fixed_version     text,
  PRIMARY KEY (patch_id, asset_id, advisory_id, package)
);

-- Down Migration
DROP TABLE patch_targets;
DROP TABLE policy_versions;
DROP TABLE kev;
DROP TABLE cves;
DROP TABLE advisories;
DROP TABLE assets;
DROP TABLE package_sets;
DROP TABLE packages;
