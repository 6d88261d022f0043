-- Up Migration

-- Bearer tokens with a lifecycle: a user may hold several, each expires, each can be revoked, and
-- a disabled user's tokens all stop working (docs/security.md, "Secrets: tokens, keys, logs").
ALTER TABLE users
  ADD COLUMN disabled_at timestamptz,
  ADD COLUMN disabled_by text,
  ADD CONSTRAINT users_disabled_by_whom CHECK ((disabled_at IS NULL) = (disabled_by IS NULL));

CREATE TABLE tokens (
  id          text PRIMARY KEY,
  user_id     text NOT NULL REFERENCES users (id),
  -- SHA-256 of the bearer token: tokens are 256-bit random values, so a fast hash is enough
  token_hash  bytea NOT NULL UNIQUE,
  label       text,
  -- installed by the API's start from PATCHFLOW_ADMIN_TOKEN or <dataDir>/admin-token (or adopted
  -- there after a rotation); a new one installed that way revokes the earlier ones
  bootstrap   boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL,
  -- null: never (only the bootstrap admin's token installed at start)
  expires_at  timestamptz,
  revoked_at  timestamptz,
  revoked_by  text,
  CONSTRAINT tokens_revoked_by_whom CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX tokens_user_id ON tokens (user_id);

-- Existing tokens move over. The bootstrap admin's keeps no expiry (it is re-asserted at every
-- start from the environment or the data directory, and rotated by revocation); every other one
-- expires 90 days after this migration (the default `access.tokenLifetime`: no policy stored before
-- it has that section), so that no token issued before expiries existed lives for ever.
INSERT INTO tokens (id, user_id, token_hash, label, bootstrap, created_at, created_by, expires_at)
SELECT 't_' || substr(md5(random()::text || clock_timestamp()::text || u.id), 1, 16),
       u.id,
       u.token_hash,
       CASE WHEN u.id = 'admin' THEN 'bootstrap' ELSE 'migrated' END,
       u.id = 'admin',
       u.created_at,
       coalesce(u.created_by, 'bootstrap'),
       CASE WHEN u.id = 'admin' THEN NULL ELSE now() + interval '90 days' END
  FROM users u;

ALTER TABLE users DROP COLUMN token_hash;

-- Down Migration
ALTER TABLE users ADD COLUMN token_hash bytea UNIQUE;
-- one token per user again: the newest that still works (a user without one keeps a random hash)
UPDATE users u SET token_hash = coalesce(
  (SELECT t.token_hash FROM tokens t
    WHERE t.user_id = u.id AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
    ORDER BY t.created_at DESC LIMIT 1),
  decode(md5(random()::text || u.id) || md5(u.id || random()::text), 'hex'));
ALTER TABLE users ALTER COLUMN token_hash SET NOT NULL;
DROP TABLE tokens;
ALTER TABLE users DROP CONSTRAINT users_disabled_by_whom, DROP COLUMN disabled_at, DROP COLUMN disabled_by;
