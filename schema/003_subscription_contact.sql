-- The Contact Herald put in a subscription's 200 and puts in its NOTIFYs
-- (RFC 6665 4.1.1: the notifier's remote target), kept so that a restart
-- on other addresses does not change a dialog's target under a watcher.
ALTER TABLE subscriptions ADD COLUMN local_contact text;
