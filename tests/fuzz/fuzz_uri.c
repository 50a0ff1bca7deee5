/*
 * Fuzz the URI parser: slices stay inside the input, and a decoded URI
 * prints, decodes again and prints back to the same bytes, equal to itself
 * and to its print (hr_uri_eq).
 */
#include <errno.h>
#include <string.h>
#include "fuzz.h"

static void unescape(const struct hr_pl *pl)
{
	char out[256];
	size_t n = 0;
	int err;

	err = hr_uri_unescape(pl, out, sizeof(out), &n);
	FUZZ_CHECK(err == 0 || err == ENOSPC || err == EBADMSG);
	if (!err)
		FUZZ_CHECK(n <= pl->len && n <= sizeof(out));
}

/* RFC 3261 25.1, RFC 3986 2: no URI holds these, escaped or not */
static void no_delims(const struct hr_pl *raw)
{
	size_t i;

	for (i = 0; i < raw->len; i++)
		FUZZ_CHECK(!strchr("<>\" \t\r\n", raw->p[i]) && raw->p[i]);
}

void fuzz_one(const uint8_t *data, size_t size)
{
	struct hr_pl pl = { (const char *)data, size };
	struct hr_uri uri, uri2;
	struct hr_buf pr, pr2;
	struct hr_pl v;

	memset(&uri, 0, sizeof(uri));
	if (hr_uri_decode(&uri, &pl))
		return;
	fuzz_uri_in(&uri, pl.p, pl.len);
	no_delims(&uri.raw);
	unescape(&uri.user);
	unescape(&uri.password);
	hr_uri_param(&uri, "transport", &v);
	hr_uri_param(&uri, "lr", &v);

	hr_buf_init(&pr, FUZZ_PRINT_CAP);
	hr_buf_init(&pr2, FUZZ_PRINT_CAP);
	FUZZ_CHECK(hr_uri_print(&pr, &uri) == 0);
	pl.p = pr.b;
	pl.len = pr.len;
	memset(&uri2, 0, sizeof(uri2));
	if (hr_uri_decode(&uri2, &pl))
		fuzz_undecodable(&pr, "");
	fuzz_uri_in(&uri2, pl.p, pl.len);
	FUZZ_CHECK(uri2.scheme == uri.scheme);
	FUZZ_CHECK(uri2.port == uri.port);
	FUZZ_CHECK(uri2.ipv6 == uri.ipv6);
	FUZZ_CHECK(hr_uri_eq(&uri, &uri) && hr_uri_eq(&uri2, &uri2));
	FUZZ_CHECK(hr_uri_eq(&uri, &uri2) && hr_uri_eq(&uri2, &uri));
	FUZZ_CHECK(hr_uri_print(&pr2, &uri2) == 0);
	fuzz_same_print(&pr, &pr2);
	hr_buf_reset(&pr2);
	hr_buf_reset(&pr);
}
