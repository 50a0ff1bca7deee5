/* Header names: long and compact forms, any case (RFC 3261 7.3.3). */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "sip_int.h"

struct hdr_name {
	const char *name;
	char compact;
	bool list;   /* comma-separated list of elements (RFC 3261 7.3.1) */
};

static const struct hdr_name tab[HR_HDR__N] = {
	[HR_HDR_ACCEPT] = { "Accept", 0, true },
	[HR_HDR_ACCEPT_ENCODING] = { "Accept-Encoding", 0, true },
	[HR_HDR_ACCEPT_LANGUAGE] = { "Accept-Language", 0, true },
	[HR_HDR_ALLOW] = { "Allow", 0, true },
	[HR_HDR_ALLOW_EVENTS] = { "Allow-Events", 'u', true },
	[HR_HDR_AUTHORIZATION] = { "Authorization", 0, false },
	[HR_HDR_CALL_ID] = { "Call-ID", 'i', false },
	[HR_HDR_CONTACT] = { "Contact", 'm', true },
	[HR_HDR_CONTENT_ENCODING] = { "Content-Encoding", 'e', true },
	[HR_HDR_CONTENT_LENGTH] = { "Content-Length", 'l', false },
	[HR_HDR_CONTENT_TYPE] = { "Content-Type", 'c', false },
	[HR_HDR_CSEQ] = { "CSeq", 0, false },
	[HR_HDR_DATE] = { "Date", 0, false },
	[HR_HDR_EVENT] = { "Event", 'o', false },
	[HR_HDR_EXPIRES] = { "Expires", 0, false },
	[HR_HDR_FROM] = { "From", 'f', false },
	[HR_HDR_MAX_FORWARDS] = { "Max-Forwards", 0, false },
	[HR_HDR_MIN_EXPIRES] = { "Min-Expires", 0, false },
	[HR_HDR_PATH] = { "Path", 0, true },
	[HR_HDR_PROXY_AUTHENTICATE] = { "Proxy-Authenticate", 0, false },
	[HR_HDR_PROXY_AUTHORIZATION] = { "Proxy-Authorization", 0, false },
	[HR_HDR_PROXY_REQUIRE] = { "Proxy-Require", 0, true },
	[HR_HDR_RECORD_ROUTE] = { "Record-Route", 0, true },
	[HR_HDR_REQUIRE] = { "Require", 0, true },
	[HR_HDR_RETRY_AFTER] = { "Retry-After", 0, false },
	[HR_HDR_ROUTE] = { "Route", 0, true },
	[HR_HDR_SERVER] = { "Server", 0, false },
	[HR_HDR_SIP_ETAG] = { "SIP-ETag", 0, false },
	[HR_HDR_SIP_IF_MATCH] = { "SIP-If-Match", 0, false },
	[HR_HDR_SUBJECT] = { "Subject", 's', false },
	[HR_HDR_SUBSCRIPTION_STATE] = { "Subscription-State", 0, false },
	[HR_HDR_SUPPORTED] = { "Supported", 'k', true },
	[HR_HDR_TIMESTAMP] = { "Timestamp", 0, false },
	[HR_HDR_TO] = { "To", 't', false },
	[HR_HDR_UNSUPPORTED] = { "Unsupported", 0, true },
	[HR_HDR_USER_AGENT] = { "User-Agent", 0, false },
	[HR_HDR_VIA] = { "Via", 'v', true },
	[HR_HDR_WARNING] = { "Warning", 0, true },
	[HR_HDR_WWW_AUTHENTICATE] = { "WWW-Authenticate", 0, false },
};

/* Buckets by length and first letter keep the lookup to one or two
 * strncasecmp calls. */
static enum hr_hdr_id by_len[32][26][4];
static char lower[HR_HDR__N][32];  /* names lowercased, NUL-padded */
static char fold[HR_HDR__N][32];   /* 0x20 where the name has a letter */
static enum hr_hdr_id compact[26];
static bool ready;

static void build(void)
{
	for (int id = 1; id < HR_HDR__N; id++) {
		const char *n = tab[id].name;
		size_t len = strlen(n);
		int c = tolower((unsigned char)n[0]) - 'a';

		for (size_t i = 0; i < len; i++) {
			lower[id][i] = (char)tolower((unsigned char)n[i]);
			fold[id][i] = isalpha((unsigned char)n[i]) ? 0x20 : 0;
		}
		if (tab[id].compact)
			compact[tab[id].compact - 'a'] = (enum hr_hdr_id)id;
		for (int k = 0; k < 4; k++) {
			if (!by_len[len][c][k]) {
				by_len[len][c][k] = (enum hr_hdr_id)id;
				break;
			}
		}
	}
	ready = true;
}

/* Run at load so the table is built before any thread reads it. */
__attribute__((constructor)) static void hdr_init(void)
{
	build();
}

/*
 * Compare a name with a lowercased known name, eight bytes at a time:
 * OR-ing 0x20 at the letter positions only lowercases letters, and
 * nothing but a letter becomes a letter that way; other positions
 * ('-') must match exactly.
 */
static bool eq_lower(const char *low, const char *fm, const char *p,
	size_t n)
{
	uint64_t a, b, m;

	while (n >= 8) {
		memcpy(&a, low, 8);
		memcpy(&b, p, 8);
		memcpy(&m, fm, 8);
		if ((b | m) != a)
			return false;
		low += 8;
		fm += 8;
		p += 8;
		n -= 8;
	}
	for (size_t i = 0; i < n; i++) {
		if ((p[i] | fm[i]) != low[i])
			return false;
	}
	return true;
}

enum hr_hdr_id hr_hdr_id(const struct hr_pl *name)
{
	int c;

	if (!ready || name->len == 0 || name->len >= 32)
		return HR_HDR_OTHER;
	c = hr_lower[(unsigned char)name->p[0]];
	if (c < 'a' || c > 'z')
		return HR_HDR_OTHER;
	if (name->len == 1)
		return compact[c - 'a'];
	for (int k = 0; k < 4; k++) {
		enum hr_hdr_id id = by_len[name->len][c - 'a'][k];

		if (!id)
			break;
		if (eq_lower(lower[id], fold[id], name->p, name->len))
			return id;
	}
	return HR_HDR_OTHER;
}

const char *hr_hdr_name(enum hr_hdr_id id)
{
	if (id <= HR_HDR_OTHER || id >= HR_HDR__N)
		return NULL;
	return tab[id].name;
}

bool hr_hdr_is_list(enum hr_hdr_id id)
{
	if (id <= HR_HDR_OTHER || id >= HR_HDR__N)
		return false;
	return tab[id].list;
}
