-- Presence (RFC 3856, RFC 3903): publications and the rules that say who
-- may see a presentity.

-- One row per live publication (RFC 3903): its entity-tag changes with
-- every refresh or modification (the row is replaced); the document is
-- kept as published, and composed with the presentity's others.
CREATE TABLE publications (
	etag text PRIMARY KEY,
	presentity text NOT NULL,         -- "alice@example.test"
	event text NOT NULL,              -- "presence"
	ctype text NOT NULL,              -- "application/pidf+xml"
	body text NOT NULL,
	expires_at timestamptz NOT NULL,
	published_at bigint NOT NULL,     -- order among the presentity's
					  -- publications (newest wins)
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX publications_presentity ON publications (presentity, event);

-- Authorization rules per presentity (RFC 5025's actions), keyed by a
-- watcher ("bob@example.test") or a whole domain ("example.test").
CREATE TABLE presence_rules (
	presentity text NOT NULL,
	watcher text NOT NULL,
	action text NOT NULL CHECK (action IN ('allow', 'block',
		'polite-block', 'confirm')),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (presentity, watcher)
);
