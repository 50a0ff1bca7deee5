-- Presence subscriptions in the change log (issue 21): a presentity's
-- watcher information (RFC 3857) lists its watchers on every node. A
-- presence subscription made, ended or changing state is a change of
-- kind 'watcher' (res the presentity, key the subscription's id); its
-- refreshes and CSeq reservations are not. The trigger
-- (subscriptions_change, AFTER INSERT OR DELETE OR UPDATE OF state) is
-- made by a node's join, like the others (server/store/cluster.c).
CREATE OR REPLACE FUNCTION herald_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	-- only what a presentity's watcher list shows, before the lock
	-- (nested: a row of another table has no state to compare)
	IF TG_TABLE_NAME = 'subscriptions' THEN
		IF r.package <> 'presence' THEN
			RETURN NULL;
		END IF;
		IF TG_OP = 'UPDATE' THEN
			IF OLD.state IS NOT DISTINCT FROM NEW.state THEN
				RETURN NULL;
			END IF;
		END IF;
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
	ELSIF TG_TABLE_NAME = 'subscriptions' THEN
		INSERT INTO changes (node, kind, res, key) VALUES (
			NULLIF(current_setting('herald.node', true), ''),
			'watcher', r.resource, r.id);
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
