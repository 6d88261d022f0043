-- Up Migration
CREATE TABLE users (
  id          text PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  roles       text[] NOT NULL CHECK (cardinality(roles) > 0),
  -- SHA-256 of the bearer token: tokens are 256-bit random values, so a fast hash is enough
  token_hash  bytea NOT NULL UNIQUE,
  created_by  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE users;
