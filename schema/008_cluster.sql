-- Several Herald nodes on one database (issue 21).
--
-- nodes: one row per node that ran with --node-id. A node renews its
-- lease every few seconds; a node whose lease_until has passed is dead to
-- the others. epoch grows each time a node (re)joins. mark is the last
-- change it has applied: the change log is kept past every live node's
-- mark, so that a node whose connection dropped catches up from there.
CREATE TABLE nodes (
	id          text PRIMARY KEY,
	advertise   text,
	epoch       bigint NOT NULL DEFAULT 1,
	lease_until timestamptz NOT NULL,
	mark        bigint NOT NULL DEFAULT 0,
	started_at  timestamptz NOT NULL DEFAULT now()
);

-- The change log: one row per changed binding, publication or rule, written by
-- the triggers below, whoever the writer is (a node, the CLI, psql), with
-- the writer's node id (the setting herald.node; NULL for others). A
-- node applies the others' changes in id order by reading the row again.
--
-- No gap: every writer takes one advisory lock (the same key) before its
-- first change and holds it until its commit, so ids are taken in commit
-- order and a reader that saw id N never later finds a smaller one. A
-- node joins (inserts its row) under the same lock.
CREATE TABLE changes (
	id   bigserial PRIMARY KEY,
	node text,                        -- who wrote it, or NULL
	kind text NOT NULL,               -- 'binding', 'publication',
					  -- 'rule:<package>'
	res  text NOT NULL,               -- the AOR, the presentity, the
					  -- rule's resource
	key  text NOT NULL,               -- the binding's key, the etag,
					  -- the rule's watcher
	at   timestamptz NOT NULL DEFAULT now()
);

-- 0x6865726c = "herl": the change log's lock
CREATE FUNCTION herald_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	-- the lock first: a node joins under it, so a change committed
	-- after a node has joined is logged, and one before is in what
	-- the node reads at its start
	PERFORM pg_advisory_xact_lock(1751477868);
	-- the nodes gone (an operator removed them): no log
	IF NOT EXISTS (SELECT 1 FROM nodes) THEN
		RETURN NULL;
	END IF;
	IF TG_TABLE_NAME = 'bindings' THEN
		INSERT INTO changes (node, kind, res, key) VALUES (
			NULLIF(current_setting('herald.node', true), ''),
			'binding', r.aor, r.key);
	ELSIF TG_TABLE_NAME = 'rules' THEN
		INSERT INTO changes (node, kind, res, key) VALUES (
			NULLIF(current_setting('herald.node', true), ''),
			'rule:' || r.package, r.resource, r.watcher);
	ELSE
		INSERT INTO changes (node, kind, res, key) VALUES (
			NULLIF(current_setting('herald.node', true), ''),
			'publication', r.presentity, r.etag);
	END IF;
	-- one notification per transaction: the payload is the same
	PERFORM pg_notify('herald_changes', '');
	RETURN NULL;
END
$$;

-- The triggers that call it (bindings_change, publications_change,
-- rules_change) are made by a node's join, in its transaction, and
-- dropped by a single node's start (server/store/cluster.c): a single
-- node pays nothing for the log.

-- RFC 3261 10.3 step 7 across nodes: a binding's update with the same
-- Call-ID and a CSeq not above the stored one is out of order. Each node
-- checks what it holds; this catches two nodes taking one binding's
-- REGISTERs at the same moment (the writer's upsert calls it, store/
-- rows.c, COL_ORDER): the transaction fails with HR409 and the REGISTER
-- gets 400 Out-Of-Order CSeq.
CREATE FUNCTION herald_out_of_order(aor text, key text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'binding % of % out of order (RFC 3261 10.3)', key,
		aor USING ERRCODE = 'HR409';
END
$$;

-- Each subscription has one owner, the node that sends its NOTIFYs: the
-- node whose writer stored it first (herald.node). A node loads only its
-- own; the first node to join takes those of a single node before it.
ALTER TABLE subscriptions ADD COLUMN owner text;
ALTER TABLE subscriptions ALTER COLUMN owner
	SET DEFAULT NULLIF(current_setting('herald.node', true), '');
CREATE INDEX subscriptions_owner ON subscriptions (owner);
