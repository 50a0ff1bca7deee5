/*
 * The web console: index.html, console.css and console.js of
 * admin/console/, compiled into the binary (console/embed.cmake) and
 * served at /, /console.css and /console.js. They are the same for
 * everyone and hold no data, so a GET of them needs no token (http.c
 * asks hr_admin_console_public); the page asks the operator for the
 * token and sends it as a bearer on each API request it makes, never in
 * a URL.
 */
#include <stdlib.h>
#include <string.h>
#include "admin_int.h"
#include "console_int.h"

/*
 * The page may load its own script, style and API and nothing else: no
 * inline script or style, no other origin, no frame around it (CSP
 * Level 3; console.js renders data as text, this is the second wall).
 */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"connect-src 'self'; img-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

/* Each path, its file and media type. */
static const struct page {
	const char *seg;             /* the path's one segment; NULL: "/" */
	const char *file;
	const char *ctype;
} pages[] = {
	{ NULL, "index.html", "text/html; charset=utf-8" },
	{ "console.css", "console.css", "text/css; charset=utf-8" },
	/* RFC 9239 3: text/javascript */
	{ "console.js", "console.js", "text/javascript; charset=utf-8" },
};

static const struct page *page_of(const struct req *r)
{
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		if (!pages[i].seg ? r->nseg == 0 : r->nseg == 1 &&
		    !strcmp(r->seg[0], pages[i].seg))
			return &pages[i];
	}
	return NULL;
}

bool hr_admin_console_public(const struct req *r)
{
	return !strcmp(r->method, MHD_HTTP_METHOD_GET) && page_of(r);
}

static const struct hr_console_file *file_of(const char *name)
{
	for (const struct hr_console_file *f = hr_console_files; f->name; f++) {
		if (!strcmp(f->name, name))
			return f;
	}
	return NULL;
}

/* RFC 9110 13.1.2: If-None-Match names etag (weak comparison: a W/
 * prefix does not matter) or is "*". */
static bool none_match(const char *h, const char *etag)
{
	size_t n = strlen(etag);

	while (h && *h) {
		h += strspn(h, " \t,");
		if (*h == '*')
			return true;
		if (!strncmp(h, "W/", 2))
			h += 2;
		if (!strncmp(h, etag, n) && strchr(" \t,", h[n]))
			return true;
		h = strchr(h, ',');
	}
	return false;
}

static void header(struct reply *rp, unsigned i, const char *name,
	const char *value)
{
	rp->headers[i][0] = name;
	rp->headers[i][1] = value;
}

void hr_admin_console(struct req *r, struct reply *rp)
{
	const struct page *pg = page_of(r);
	const struct hr_console_file *f = pg ? file_of(pg->file) : NULL;

	/* the table and the build list the same files */
	if (!f) {
		hr_admin_problem(rp, 404, "Not Found", NULL);
		return;
	}
	header(rp, 0, "Content-Security-Policy", CSP);
	header(rp, 1, "X-Content-Type-Options", "nosniff");
	header(rp, 2, "Referrer-Policy", "no-referrer");
	/* kept, but asked again each time: a new herald's console is seen
	 * at once, an unchanged one costs a 304 (RFC 9111 5.2.2.4) */
	header(rp, 3, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	header(rp, 4, MHD_HTTP_HEADER_ETAG, f->etag);
	rp->body = malloc(f->len);
	if (!rp->body) {
		hr_admin_problem(rp, 500, "Internal Server Error",
			"out of memory");
		return;
	}
	memcpy(rp->body, f->data, f->len);
	rp->len = f->len;
	rp->ctype = pg->ctype;
	/* a 304 keeps the body: libmicrohttpd sends none after it, and its
	 * Content-Length is then the 200's, as RFC 9110 8.6 wants (one made
	 * from no body would say 0) */
	rp->status = none_match(MHD_lookup_connection_value(r->c,
		MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), f->etag) ?
		304 : 200;
}
