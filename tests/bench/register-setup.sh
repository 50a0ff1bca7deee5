#!/usr/bin/env bash
# tests/bench/register-setup.sh: the users of herald-bench's register
# scenario, in one statement (`herald user add` per user is far too slow).
#   usage: tests/bench/register-setup.sh URL [USERS] [DOMAIN] [PASSWORD]
# adds u1..uUSERS (default 100000) @ DOMAIN (default example.test) with
# PASSWORD (default pw) to the users table of the migrated database at URL;
# existing users are left alone. The per-row notify trigger is skipped
# (session_replication_role), so a running Herald does not see the new
# users: run this before starting it. Prints the number of users added.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 4 ]; then
	sed -n '4s/^# *//p' "$0" >&2
	exit 2
fi
url=$1
users=${2:-100000}
domain=${3:-example.test}
password=${4:-pw}
if ! [[ $users =~ ^[0-9]+$ ]] || [ "$users" -lt 1 ] ||
	[ "$users" -gt 10000000 ]; then
	echo "register-setup.sh: USERS must be 1 to 10000000" >&2
	exit 2
fi

# HA1 = H(user ":" realm ":" password) (RFC 7616 3.4.2); the realm is the
# domain. Values go in as psql variables, quoted by psql (:'name').
psql "$url" -XAtq -v ON_ERROR_STOP=1 -v n="$users" -v dom="$domain" \
	-v pw="$password" <<'SQL'
BEGIN;
SET LOCAL session_replication_role = replica;
WITH added AS (
	INSERT INTO users (username, domain, ha1_md5, ha1_sha256)
	SELECT 'u' || i, :'dom',
		md5('u' || i || ':' || :'dom' || ':' || :'pw'),
		encode(sha256(convert_to('u' || i || ':' || :'dom' || ':' ||
			:'pw', 'UTF8')), 'hex')
	FROM generate_series(1, :n) AS i
	ON CONFLICT DO NOTHING
	RETURNING 1
)
SELECT count(*) FROM added;
COMMIT;
SQL
