-- Registration monitoring: who may watch whose registration state.

-- One table of rules for every event package: presence's rules
-- (RFC 5025's actions) and the reg package's (allow, block), keyed by
-- package, resource (a presentity or address-of-record) and watcher (a
-- user "bob@example.test" or a whole domain "example.test").
ALTER TABLE presence_rules RENAME TO rules;
ALTER TABLE rules RENAME COLUMN presentity TO resource;
ALTER TABLE rules ADD COLUMN package text NOT NULL DEFAULT 'presence';
ALTER TABLE rules ALTER COLUMN package DROP DEFAULT;
ALTER TABLE rules DROP CONSTRAINT presence_rules_pkey;
ALTER TABLE rules ADD PRIMARY KEY (package, resource, watcher);
ALTER TABLE rules DROP CONSTRAINT presence_rules_action_check;
ALTER TABLE rules ADD CONSTRAINT rules_action CHECK (
	(package = 'presence' AND action IN ('allow', 'block', 'polite-block',
		'confirm')) OR
	(package = 'reg' AND action IN ('allow', 'block')));

-- A user's role: a monitor (an application server, a monitoring console)
-- may watch the registrations of every address-of-record of its domain.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user'
	CHECK (role IN ('user', 'monitor'));
