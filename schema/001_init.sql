-- 001: users, server secrets and registrar bindings.
-- Times are timestamptz; an expiry is an absolute time.

CREATE TABLE IF NOT EXISTS schema_migrations (
	version    int PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- Digest credentials: HA1 values only, never a password.
CREATE TABLE users (
	username   text NOT NULL,
	domain     text NOT NULL,
	ha1_md5    text NOT NULL,
	ha1_sha256 text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (username, domain)
);

-- Secrets shared by every node (the digest nonce key): created once.
CREATE TABLE server_secrets (
	name  text PRIMARY KEY,
	value bytea NOT NULL
);

-- Registrar bindings (RFC 3261 10.3, RFC 5626, RFC 3327), one per
-- contact of an address-of-record; q and reg_id are NULL when absent.
CREATE TABLE bindings (
	aor           text NOT NULL,
	key           text NOT NULL,
	id            text NOT NULL,
	uri           text NOT NULL,
	params        text,
	dname         text,
	expires_at    timestamptz NOT NULL,
	registered_at timestamptz NOT NULL,
	callid        text NOT NULL,
	cseq          bigint NOT NULL,
	q             int,
	instance      text,
	reg_id        int,
	path          text,
	user_agent    text,
	received      text,
	updated_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (aor, key)
);

CREATE INDEX bindings_expires_at ON bindings (expires_at);

-- Tell running servers (LISTEN herald_users) that a user changed; the
-- payload is username@domain, the listener reads the row itself.
CREATE FUNCTION herald_users_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'INSERT' THEN
		PERFORM pg_notify('herald_users',
			OLD.username || '@' || OLD.domain);
	END IF;
	IF TG_OP <> 'DELETE' THEN
		PERFORM pg_notify('herald_users',
			NEW.username || '@' || NEW.domain);
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER users_notify
	AFTER INSERT OR UPDATE OR DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION herald_users_notify();
