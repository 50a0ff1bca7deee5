-- SIP event subscriptions (RFC 6665) with their whole dialog, so that
-- after a restart refreshes are accepted and NOTIFYs go on in-dialog.
-- NOTIFY CSeqs and body versions are not written per NOTIFY: the server
-- reserves ranges ahead (cseq_reserved, version_reserved) and, after a
-- restart, continues from the reserved high-water marks, so a CSeq or a
-- version can never repeat or go back.
CREATE TABLE subscriptions (
	id text PRIMARY KEY,
	package text NOT NULL,            -- "reg", "presence", ...
	event_id text,                    -- the Event header's id parameter
	resource text NOT NULL,           -- the AOR or presentity watched
	watcher text NOT NULL,            -- who watches (From URI)
	watcher_user text,                -- the authenticated user, if any
	state text NOT NULL,              -- active, pending, terminated
	reason text,
	expires_at timestamptz NOT NULL,
	accept text,                      -- the body type agreed
	callid text NOT NULL,             -- the dialog (RFC 3261 12)
	local_tag text NOT NULL,
	remote_tag text NOT NULL,
	local_uri text NOT NULL,
	remote_uri text NOT NULL,
	remote_target text NOT NULL,      -- the watcher's Contact
	route_set text,                   -- Record-Route, in order
	remote_cseq bigint NOT NULL,      -- last SUBSCRIBE CSeq seen
	cseq_reserved bigint NOT NULL,    -- NOTIFY CSeqs up to this are used
	version_reserved bigint NOT NULL, -- body versions up to this are used
	transport text NOT NULL,          -- "udp" or "tcp"
	received text,                    -- "udp:192.0.2.1:5060": the source
	instance text,                    -- +sip.instance of the watcher
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX subscriptions_resource ON subscriptions (resource, package);
CREATE INDEX subscriptions_expires ON subscriptions (expires_at);
