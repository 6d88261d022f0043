-- Up Migration

-- Every mutation through the API (every non-GET call by an authenticated user, refused ones
-- included), written after the response. Append-only: PostgreSQL itself refuses UPDATE, DELETE
-- and TRUNCATE on it, whoever asks, so the application cannot rewrite its own trail.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor_id    text NOT NULL,
  actor_name  text NOT NULL,
  method      text NOT NULL,
  path        text NOT NULL,
  status      integer NOT NULL,
  -- the request body as sent; bodies over 64 KiB are stored as {"truncated": true, "bytes": N}
  body        jsonb
);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id);
CREATE INDEX audit_log_path ON audit_log (path text_pattern_ops);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'audit records can only be added (INSERT)';
END;
$$;

-- Statement-level, so even an UPDATE or DELETE that matches no row is refused.
CREATE TRIGGER audit_log_no_update_or_delete
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- TRUNCATE fires no row triggers; only a statement-level trigger can refuse it.
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- Down Migration
DROP TABLE audit_log;
DROP FUNCTION audit_log_refuse_change();
