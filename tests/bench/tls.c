/*
 * TLS (RFC 3261 26) for the stream transports: OpenSSL on the
 * connection's own non-blocking socket. The handshake runs before the
 * clock starts, waiting in poll() for what OpenSSL wants (WANT_READ,
 * WANT_WRITE); after it, reads and writes never block and say what they
 * wait for, and tcp.c asks epoll for that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include "stream.h"

/* The newest error OpenSSL queued, for a message. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r;

	r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "no reason given";
}

int bench_tls_ctx(SSL_CTX **ctxp, const struct bench_cfg *cfg)
{
	SSL_CTX *ctx;

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		bench_err("tls: SSL_CTX_new: %s", ssl_reason());
		return ENOMEM;
	}
	/* what Herald accepts; 1.0 and 1.1 are refused there */
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/*
	 * tcp.c writes all it has queued and may move its buffer between
	 * tries (SSL_write must then see the same bytes first, and may see
	 * more); a server that closes without close_notify has closed, as
	 * over TCP.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (cfg->ca) {
		/* OpenSSL says only "system lib" for a file not there */
		if (access(cfg->ca, R_OK) < 0) {
			bench_err("--ca %s: %s", cfg->ca, strerror(errno));
			SSL_CTX_free(ctx);
			return EINVAL;
		}
		if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1) {
			bench_err("--ca %s: %s", cfg->ca, ssl_reason());
			SSL_CTX_free(ctx);
			return EINVAL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	*ctxp = ctx;
	return 0;
}

static bool is_ip(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 ||
		inet_pton(AF_INET6, host, a) == 1;
}

/* SNI for a name (RFC 6066 3: never an address); with --ca, the name
 * or address the certificate must carry (RFC 6125). */
static int set_peer(SSL *ssl, const struct bench_cfg *cfg)
{
	bool ip = is_ip(cfg->host);

	if (!ip && SSL_set_tlsext_host_name(ssl, cfg->host) != 1)
		return EINVAL;
	if (!cfg->ca)
		return 0;
	if (ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			cfg->host) == 1 ? 0 : EINVAL;
	return SSL_set1_host(ssl, cfg->host) == 1 ? 0 : EINVAL;
}

static void handshake_failed(SSL *ssl, const struct bench_cfg *cfg,
	int err)
{
	long v = SSL_get_verify_result(ssl);

	if (v != X509_V_OK)
		bench_err("tls: %s: certificate not accepted: %s", cfg->host,
			X509_verify_cert_error_string(v));
	else if (err)
		bench_err("tls: %s: handshake: %s", cfg->host, strerror(err));
	else
		bench_err("tls: %s: handshake: %s", cfg->host, ssl_reason());
}

int bench_tls_connect(SSL_CTX *ctx, struct stream_conn *c,
	const struct bench_cfg *cfg, uint64_t deadline)
{
	int r, err;

	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    set_peer(c->ssl, cfg)) {
		bench_err("tls: %s: %s", cfg->host, ssl_reason());
		return ENOMEM;
	}
	for (;;) {
		ERR_clear_error();
		r = SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			err = bench_stream_wait(c->fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			err = bench_stream_wait(c->fd, POLLOUT, deadline);
			break;
		case SSL_ERROR_SYSCALL:
			err = errno ? errno : ECONNRESET;
			handshake_failed(c->ssl, cfg, err);
			return err;
		default:
			handshake_failed(c->ssl, cfg, 0);
			return EPROTO;
		}
		if (err) {
			handshake_failed(c->ssl, cfg, err);
			return err;
		}
	}
}

/* What a failed SSL_read_ex or SSL_write_ex of c means: 0 (try again
 * when the socket is ready, *in telling for what) or an errno. */
static int io_error(struct stream_conn *c, const char *what, bool *in)
{
	switch (SSL_get_error(c->ssl, 0)) {
	case SSL_ERROR_WANT_READ:
		*in = true;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*in = false;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return ECONNRESET;      /* close_notify */
	case SSL_ERROR_SYSCALL:
		return errno && errno != EPIPE ? errno : ECONNRESET;
	default:
		bench_err("tls: %s: %s", what, ssl_reason());
		return EPROTO;
	}
}

int bench_tls_read(struct stream_conn *c, char *buf, size_t cap, size_t *n)
{
	bool in = true;
	int err;

	*n = 0;
	c->read_wants_out = false;
	ERR_clear_error();
	if (SSL_read_ex(c->ssl, buf, cap, n) == 1)
		return 0;
	*n = 0;
	err = io_error(c, "read", &in);
	/* TLS 1.3 key updates and the like: a read may need to write */
	c->read_wants_out = !err && !in;
	return err;
}

int bench_tls_write(struct stream_conn *c, const char *p, size_t len,
	size_t *n)
{
	bool in = false;
	int err;

	*n = 0;
	c->write_wants_in = false;
	ERR_clear_error();
	if (SSL_write_ex(c->ssl, p, len, n) == 1)
		return 0;
	*n = 0;
	err = io_error(c, "write", &in);
	c->write_wants_in = !err && in;
	return err;
}
