-- Up Migration

-- One row per patch that reached deployment (testing onwards): what compliance is judged against.
CREATE TABLE patch_deployments (
  patch_id             text PRIMARY KEY,
  title                text NOT NULL,
  priority             integer NOT NULL CHECK (priority BETWEEN 1 AND 4),
  emergency            boolean NOT NULL,
  opened_at            timestamptz NOT NULL,
  recommended_deadline timestamptz NOT NULL,
  maximum_deadline     timestamptz NOT NULL,
  started_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz,
  outcome              text
);

-- Where each targeted host stands in one patch. The key (patch_id, asset_id) is the idempotency
-- key of the per-host pipeline: a retried activity resumes from `stage`, it never starts over.
CREATE TABLE deployment_hosts (
  patch_id           text NOT NULL REFERENCES patch_deployments (patch_id),
  asset_id           text NOT NULL,
  ring               text NOT NULL CHECK (ring IN ('lab', 'pilot', 'production')),
  -- production wave index (0-based); null for lab and pilot
  wave               integer,
  -- order inside the ring/wave (the strategy's order)
  position           integer NOT NULL,
  redundancy_group   text,
  connector          text NOT NULL,
  -- {name: fixedVersion} this patch installs on the host
  packages           jsonb NOT NULL,
  -- pending | in-progress | rebooting | installed | failed | rolled-back | unreachable | skipped | excepted | deferred
  status             text NOT NULL DEFAULT 'pending',
  -- the pipeline's resume point inside an attempt: new | prepared | changed | rebooted | done
  stage              text NOT NULL DEFAULT 'new',
  reason             text,
  -- the workflow's attempts (1, then one per straggler retry); activity retries reuse the number
  attempts           integer NOT NULL DEFAULT 0,
  -- {name: version} before this patch first changed the host: what a rollback restores
  previous_versions  jsonb,
  -- this patch's versions are on the host now (set on install, cleared by a rollback)
  changed            boolean NOT NULL DEFAULT false,
  started_at         timestamptz,
  finished_at        timestamptz,
  -- when a rebooting host is expected back (simulated connector)
  back_at            timestamptz,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (patch_id, asset_id)
);
CREATE INDEX deployment_hosts_order ON deployment_hosts (patch_id, ring, wave, position);
CREATE INDEX deployment_hosts_asset ON deployment_hosts (asset_id);

-- Every step of every attempt, append-only: the evidence behind a host's status. A second
-- successful `install` row for one host and attempt would be a double install.
CREATE TABLE deployment_records (
  id        bigserial PRIMARY KEY,
  patch_id  text NOT NULL,
  asset_id  text NOT NULL,
  attempt   integer NOT NULL,
  -- precheck | backup | pre-install | install | reboot | await | post-check | rollback | test | verify
  step      text NOT NULL,
  ok        boolean NOT NULL,
  detail    text,
  -- [{name, from, to}] for install and rollback
  changes   jsonb,
  at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deployment_records_host ON deployment_records (patch_id, asset_id, id);

-- An approver's exception: the host stays unpatched under a compensating control until expiry.
CREATE TABLE host_exceptions (
  id                   text PRIMARY KEY,
  patch_id             text NOT NULL,
  asset_id             text NOT NULL,
  compensating_control text NOT NULL,
  expires_at           timestamptz NOT NULL,
  approved_by          text NOT NULL,
  at                   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX host_exceptions_host ON host_exceptions (patch_id, asset_id);

-- An owner's deferral of a scheduled patch on one host, at the latest to the recommended deadline.
CREATE TABLE host_deferrals (
  id           text PRIMARY KEY,
  patch_id     text NOT NULL,
  asset_id     text NOT NULL,
  until        timestamptz NOT NULL,
  reason       text NOT NULL,
  requested_by text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX host_deferrals_host ON host_deferrals (patch_id, asset_id);

-- SLA breaches: a host still non-compliant, and not excepted, at the maximum deadline.
CREATE TABLE sla_breaches (
  patch_id  text NOT NULL,
  asset_id  text NOT NULL,
  reason    text NOT NULL,
  at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (patch_id, asset_id)
);

-- Down Migration
DROP TABLE sla_breaches;
DROP TABLE host_deferrals;
DROP TABLE host_exceptions;
DROP TABLE deployment_records;
DROP TABLE deployment_hosts;
DROP TABLE patch_deployments;
