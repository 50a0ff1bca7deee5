/*
 * TLS for tls: and wss: sockets: one server context made from PEM files,
 * made again on SIGHUP (a renewed certificate needs no restart). TLS 1.2
 * and later with OpenSSL's (the system's) cipher defaults; a client
 * certificate is required only when a CA to check it was given.
 */
#include <errno.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "sip_int.h"

#define HR_LOG_MODULE "tls"

struct hr_tls {
	SSL_CTX *ctx;
	char *cert, *key, *client_ca;   /* hr_mem strings */
};

/* OpenSSL's reasons for the last failure, oldest first, in out. */
static const char *ssl_why(char *out, size_t n)
{
	unsigned long e;
	size_t k = 0;

	out[0] = '\0';
	while ((e = ERR_get_error()) && k + 2 < n) {
		char one[256];

		ERR_error_string_n(e, one, sizeof(one));
		k += (size_t)snprintf(out + k, n - k, "%s%s", k ? "; " : "",
			one);
	}
	return out[0] ? out : "unknown error";
}

static SSL_CTX *ctx_make(const struct hr_tls *t)
{
	char why[512];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		goto fail;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* no renegotiation: a peer cannot make us redo handshakes */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		HR_ERROR("--tls-cert %s: %s", t->cert,
			ssl_why(why, sizeof(why)));
		goto out;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
		HR_ERROR("--tls-key %s: %s", t->key, ssl_why(why, sizeof(why)));
		goto out;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		HR_ERROR("--tls-key %s does not match --tls-cert %s", t->key,
			t->cert);
		goto out;
	}
	if (t->client_ca) {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, t->client_ca,
			NULL) != 1 || !(names = SSL_load_client_CA_file(
			t->client_ca))) {
			HR_ERROR("--tls-client-ca %s: %s", t->client_ca,
				ssl_why(why, sizeof(why)));
			goto out;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
			SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	return ctx;
fail:
	HR_ERROR("TLS: %s", ssl_why(why, sizeof(why)));
out:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

static char *dup(const char *s)
{
	struct hr_pl pl = hr_pl_str(s);

	return hr_pl_strdup(&pl);
}

static void tls_destroy(void *data)
{
	struct hr_tls *t = data;

	SSL_CTX_free(t->ctx);
	hr_mem_deref(t->cert);
	hr_mem_deref(t->key);
	hr_mem_deref(t->client_ca);
}

int hr_tls_alloc(struct hr_tls **tp, const char *cert, const char *key,
	const char *client_ca)
{
	struct hr_tls *t;

	if (!cert || !*cert || !key || !*key) {
		HR_ERROR("TLS needs --tls-cert and --tls-key");
		return EINVAL;
	}
	t = hr_mem_zalloc(sizeof(*t), tls_destroy);
	if (!t)
		return ENOMEM;
	t->cert = dup(cert);
	t->key = dup(key);
	t->client_ca = client_ca && *client_ca ? dup(client_ca) :
		NULL;
	if (!t->cert || !t->key || (client_ca && *client_ca &&
	    !t->client_ca)) {
		hr_mem_deref(t);
		return ENOMEM;
	}
	t->ctx = ctx_make(t);
	if (!t->ctx) {
		hr_mem_deref(t);
		return EINVAL;
	}
	*tp = t;
	return 0;
}

int hr_tls_reload(struct hr_tls *t)
{
	SSL_CTX *ctx = ctx_make(t);

	if (!ctx) {
		HR_WARN("TLS files not reloaded: the connections go on with "
			"the ones read before");
		return EINVAL;
	}
	/* open connections hold their own reference to the old one */
	SSL_CTX_free(t->ctx);
	t->ctx = ctx;
	HR_INFO("TLS certificate and key read again from %s and %s",
		t->cert, t->key);
	return 0;
}

SSL *hr_tls_ssl(struct hr_tls *t)
{
	SSL *ssl = SSL_new(t->ctx);

	if (!ssl)
		ERR_clear_error();
	return ssl;
}
