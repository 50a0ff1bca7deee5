-- The dialog package's rules (RFC 4235 busy lamps): what a watcher (a
-- user or a whole domain) sees of a line's calls, "identity" (the other
-- party) or "state" (the states only), set over the admin API.
ALTER TABLE rules DROP CONSTRAINT rules_action;
ALTER TABLE rules ADD CONSTRAINT rules_action CHECK (
	(package = 'presence' AND action IN ('allow', 'block', 'polite-block',
		'confirm')) OR
	(package = 'reg' AND action IN ('allow', 'block')) OR
	(package = 'dialog' AND action IN ('identity', 'state')));
