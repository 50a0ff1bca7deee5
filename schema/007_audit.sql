-- The admin API's audit log: one row per request that asks for a change
-- (POST, PUT, PATCH, DELETE) made with a valid bearer token, written by
-- the admin once its answer is known, whether it succeeded or not.
-- Requests refused 401 are not written (anyone who reaches the port could
-- fill the table): the admin counts them in /metrics instead.
CREATE TABLE audit_log (
	id bigserial PRIMARY KEY,         -- the order the records came in
	at timestamptz NOT NULL,          -- when the answer was known
	token text NOT NULL,              -- the bearer token's name
	method text NOT NULL,             -- "POST", "PUT", "PATCH", "DELETE"
	path text NOT NULL,               -- "/v1/users/alice@example.test"
	query jsonb,                      -- the query's arguments, or NULL
	body jsonb,                       -- a summary of the request body,
					  -- secrets (a password) redacted,
					  -- or NULL when there was none
	status int NOT NULL,              -- the answer's HTTP status
	detail text                       -- an error's detail, or NULL
);

-- GET /v1/audit?token=… and ?since=…, newest first
CREATE INDEX audit_log_token ON audit_log (token, id);
CREATE INDEX audit_log_at ON audit_log (at);
