/*
 * register: one op is an authenticated registration (RFC 3261 10.2,
 * 22.4): REGISTER without credentials, 401 with the server's challenges,
 * REGISTER with a digest response (MD5, qop=auth) for the same Call-ID,
 * 200. Ops take users u1..uN (--users) round-robin, so a run over N ops
 * leaves N distinct bindings; every op has its own Call-ID. The users
 * must exist with password --password (tests/bench/register-setup.sh).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "auth/auth.h"
#include "bench.h"

static uint32_t next_user;

/* Copy pl (or "sip:" domain) into buf as a C string: 0 or ENOSPC. */
static int cstr(char *buf, size_t n, const char *prefix,
	const struct hr_pl *pl)
{
	struct bench_out o = { buf, 0, n - 1, false };

	bench_out_puts(&o, prefix);
	bench_out_putpl(&o, pl);
	if (o.full)
		return ENOSPC;
	buf[o.len] = '\0';
	return 0;
}

/* Shared with the subscribe and fanout scenarios (bench.h). */
int bench_put_auth(struct bench_out *out, const struct bench_op *op,
	const char *user, const char *method, const char *uri,
	const struct hr_digest *chal)
{
	return bench_put_auth_nc(out, op, user, method, uri, chal, 1);
}

int bench_put_auth_nc(struct bench_out *out, const struct bench_op *op,
	const char *user, const char *method, const char *uri,
	const struct hr_digest *chal, uint32_t nc)
{
	const struct bench_cfg *cfg = bench_cfg(op->b);
	char ha1[HR_DIGEST_HEX_MAX], resp[HR_DIGEST_HEX_MAX];
	char realm[256], cnonce[48], ncs[9];
	struct bench_out co = { cnonce, 0, sizeof(cnonce) - 1, false };
	struct hr_pl pmethod = hr_pl_str(method);
	struct hr_digest cred;
	int err;

	err = cstr(realm, sizeof(realm), "", &chal->realm);
	if (err)
		return err;
	bench_put_opid(&co, op);
	cnonce[co.len] = '\0';
	snprintf(ncs, sizeof(ncs), "%08x", nc);

	memset(&cred, 0, sizeof(cred));
	cred.nonce = chal->nonce;
	cred.uri = hr_pl_str(uri);
	cred.qop = HR_PL("auth");
	cred.nc = hr_pl_str(ncs);
	cred.cnonce = hr_pl_str(cnonce);
	err = hr_digest_ha1(ha1, sizeof(ha1), HR_DIGEST_MD5, user, realm,
		cfg->password);
	if (!err)
		err = hr_digest_response(resp, sizeof(resp), HR_DIGEST_MD5,
			ha1, &cred, &pmethod);
	if (err)
		return err;

	bench_out_lit(out, "Authorization: Digest username=\"");
	bench_out_puts(out, user);
	bench_out_lit(out, "\", realm=\"");
	bench_out_puts(out, realm);
	bench_out_lit(out, "\", nonce=\"");
	bench_out_putpl(out, &chal->nonce);
	bench_out_lit(out, "\", uri=\"");
	bench_out_puts(out, uri);
	bench_out_lit(out, "\", response=\"");
	bench_out_puts(out, resp);
	bench_out_lit(out, "\", algorithm=MD5, cnonce=\"");
	bench_out_puts(out, cnonce);
	if (hr_pl_isset(&chal->opaque)) {
		bench_out_lit(out, "\", opaque=\"");
		bench_out_putpl(out, &chal->opaque);
	}
	bench_out_lit(out, "\", qop=auth, nc=");
	bench_out_puts(out, ncs);
	bench_out_lit(out, "\r\n");
	return 0;
}

/* Shared with reg-fanout and soak (bench.h). */
int bench_put_register(struct bench_out *out, struct bench_op *op,
	const struct bench_reg *r, const struct hr_digest *chal)
{
	const char *domain = bench_cfg(op->b)->domain;
	char user[16], aor[300], uri[300];
	int err;

	bench_name_k(user, sizeof(user), 'u', r->user);
	if (bench_sip_uri(aor, sizeof(aor), user, domain) ||
	    bench_sip_uri(uri, sizeof(uri), NULL, domain))
		return ENOSPC;
	bench_put_reqline(out, op, "REGISTER", uri);
	bench_put_from_to(out, op, aor);
	if (r->callid) {
		bench_out_printf(out, "Call-ID: %s\r\n", r->callid);
	} else if (r->callseq) {
		bench_out_lit(out, "Call-ID: r");
		bench_out_putu(out, r->callseq);
		bench_out_lit(out, "-");
		bench_put_opid(out, op);
		bench_out_lit(out, "@herald-bench\r\n");
	} else {
		bench_put_callid(out, op);
	}
	bench_put_cseq(out, r->cseq, "REGISTER");
	if (r->contact)
		bench_out_printf(out, "Contact: <%s>\r\n", r->contact);
	else
		bench_put_contact(out, op, user, r->tp_param);
	if (r->remove)
		bench_out_lit(out, "Expires: 0\r\n");
	else
		bench_out_lit(out, "Expires: 3600\r\n");
	if (chal) {
		/* the digest uri is exactly the Request-URI */
		err = bench_put_auth_nc(out, op, user, "REGISTER", uri, chal,
			r->nc ? r->nc : 1);
		if (err)
			return err;
	}
	bench_out_lit(out, "User-Agent: herald-bench\r\n");
	bench_put_end(out, NULL, NULL, 0);
	return 0;
}

enum bench_act bench_reg_challenged(struct bench_op *op,
	struct bench_reg *r, const struct bench_msg *resp,
	struct bench_out *out)
{
	struct hr_digest chal;

	if (resp->scode != 401 || r->cseq != 1 ||
	    !bench_find_md5(resp, &chal))
		return BENCH_FAIL;
	r->cseq = 2;
	if (bench_put_register(out, op, r, &chal))
		return BENCH_FAIL;
	return BENCH_SEND;
}

bool bench_find_md5(const struct bench_msg *resp, struct hr_digest *chal)
{
	struct hr_pl name, val;
	enum hr_digest_alg alg;
	size_t cur = 0;

	while (bench_msg_hdr_next(resp, &cur, &name, &val)) {
		if (hr_pl_strcasecmp(&name, "WWW-Authenticate"))
			continue;
		if (hr_digest_decode(chal, &val) ||
		    hr_pl_strcasecmp(&chal->scheme, "Digest"))
			continue;
		if (hr_digest_alg_decode(&chal->algorithm, &alg) == 0 &&
		    alg == HR_DIGEST_MD5 && hr_pl_isset(&chal->nonce))
			return true;
	}
	return false;
}

/* Shared with redirect (bench.h). */
enum bench_act bench_reg_first(struct bench_op *op, struct bench_reg *r,
	struct bench_out *out)
{
	r->cseq = 1;
	if (bench_put_register(out, op, r, NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

/* Shared with register-overload (bench.h). */
enum bench_act bench_reg_start(struct bench_op *op, struct bench_out *out)
{
	struct bench_reg *r = op->priv;

	r->user = next_user % bench_cfg(op->b)->users + 1;
	next_user++;
	return bench_reg_first(op, r, out);
}

enum bench_act bench_reg_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct bench_reg *r = op->priv;

	if (resp->scode == 200)
		return r->cseq == 2 ? BENCH_DONE : BENCH_FAIL;
	return bench_reg_challenged(op, r, resp, out);
}

const struct bench_scen bench_scen_register = {
	.name = "register",
	.help = "REGISTER, 401, REGISTER with digest, expect 200",
	.op_size = sizeof(struct bench_reg),
	.start = bench_reg_start,
	.on_response = bench_reg_response,
};
