/*
 * publish-race: many publishers on a few presentities (RFC 3903), each
 * PUBLISH of a presentity in flight with others of it, then a check that
 * Herald honours every entity-tag it gave out and holds exactly the
 * publications the publishers believe live.
 *
 * Publisher j (--presentities P times --devices D of them) is device
 * j % D of user uK, K = j / D + 1, publishing for sip:uK@DOMAIN (only the
 * presentity publishes for itself, so the devices of uK are several
 * publications of one presentity). Each has its own Call-ID per
 * publication ("r<j>.<life>-<run>@herald-bench"), CSeq, entity-tag and
 * kept challenge (its first PUBLISH gets a 401; later ones answer that
 * nonce again with the next nc, as publish does). One op is one PUBLISH
 * of an idle publisher, chosen first in first out; the window is P x D by
 * default (at most that), so every publisher always has one in flight:
 *
 *   nothing live:  initial, a body (one tuple "p<seq>-<run>", open),
 *                  Expires 3600, a new Call-ID  -> 200, SIP-ETag
 *   live:          remove (SIP-If-Match, Expires 0) 6 times in 8,
 *                  refresh (SIP-If-Match, no body) or modify (SIP-If-Match,
 *                  a new body, closed) once each  -> 200
 *
 * Removals win so that a presentity often has no publication left while
 * another device's initial is being stored: the race fixed in 7361be6
 * (the removal's commit let the presentity go from Herald's table, the
 * initial's commit added its publication where no lookup found it again).
 * "races" counts initials sent while every publication of their
 * presentity believed live was being removed.
 *
 * A 200 gives the publisher its entity-tag, or ends its publication (a
 * removal); a 412 to an entity-tag a 200 gave is counted (etags_412) and
 * the publisher starts anew, as a UA would.
 *
 * After the clock, the check: each publisher that believes its
 * publication live refreshes it (SIP-If-Match), which must get 200
 * (etags_checked; a 412 counts in etags_412). Then the herald_publications
 * gauge of Herald's admin API (--admin, token HERALD_ADMIN_TOKEN), less
 * its value before the run, must equal the publications believed live.
 * The teardown removes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "bench.h"
#include "net.h"

#define NIL UINT32_MAX
#define CALLID_MAX 64
#define METRIC "herald_publications"

enum race_step {
	RS_INITIAL = 0,
	RS_REFRESH,
	RS_MODIFY,
	RS_REMOVE,
};

enum race_phase {
	PH_RUN = 0,
	PH_CHECK,
	PH_DOWN,
};

/* One publisher: a device of user uK. */
struct racer {
	struct bench_pub_auth a;
	const struct bench_op *op;      /* running it, while busy */
	uint32_t gen;                   /* of that op */
	uint32_t life;                  /* its publications: the Call-ID */
	uint32_t cseq;
	uint8_t step;                   /* in flight */
	uint8_t etag_len;
	bool busy;
	bool live;                      /* a 200 gave etag; no removal since */
	char etag[BENCH_ETAG_MAX];
};

struct race_op {
	uint32_t j;                     /* the publisher */
	uint64_t seq;                   /* the body's tuple; 0: none */
	bool retried;                   /* this PUBLISH was challenged */
};

static struct {
	struct racer *v;
	uint32_t n, devices;
	uint32_t *idle;                 /* ring of idle publishers */
	uint32_t ihead, nidle;
	uint32_t *nlive;                /* per presentity: believed live */
	uint32_t *nrm;                  /* per presentity: removals sent */
	uint32_t cursor;                /* check, teardown: next publisher */
	enum race_phase phase;
	uint64_t rng;
	uint64_t next_seq;
	uint64_t ok200, sent, races, lost;
	uint64_t steps[4];              /* PUBLISHes sent, by step */
	uint64_t e412_run, e412_check, checked;
	uint64_t challenges, rechallenges, no_etag;
	uint64_t status[7];             /* other final statuses, by class */
	uint64_t failed;                /* the run's failed ops */
	int64_t base, live_herald;
	bool base_ok, herald_ok;
	uint32_t live_expected;
} race;

/* xorshift64: which step a live publisher takes, not cryptography */
static uint64_t rnd(void)
{
	race.rng ^= race.rng << 13;
	race.rng ^= race.rng >> 7;
	race.rng ^= race.rng << 17;
	return race.rng;
}

static uint32_t pres_of(uint32_t j)
{
	return j / race.devices;
}

static void idle_push(uint32_t j)
{
	race.idle[(race.ihead + race.nidle++) % race.n] = j;
}

static uint32_t idle_pop(void)
{
	uint32_t j = race.idle[race.ihead];

	race.ihead = (race.ihead + 1) % race.n;
	race.nidle--;
	return j;
}

static void set_live(uint32_t j, bool live)
{
	struct racer *r = &race.v[j];

	if (r->live == live)
		return;
	r->live = live;
	if (live)
		race.nlive[pres_of(j)]++;
	else
		race.nlive[pres_of(j)]--;
}

/* j's PUBLISH is over: answered, or its op gone (a timeout). */
static void release(uint32_t j)
{
	struct racer *r = &race.v[j];

	if (!r->busy)
		return;
	r->busy = false;
	if (r->step == RS_REMOVE)
		race.nrm[pres_of(j)]--;
	if (race.phase == PH_RUN)
		idle_push(j);
}

/*
 * Publishers whose op ended without telling us (the engine expires a
 * timed-out op): what Herald holds of theirs is unknown, so they start
 * anew and the run fails (the timeouts are failures).
 */
static void reclaim(bool all)
{
	for (uint32_t j = 0; j < race.n; j++) {
		struct racer *r = &race.v[j];

		if (!r->busy || (!all && r->op->busy &&
		    r->op->gen == r->gen))
			continue;
		race.lost++;
		set_live(j, false);
		release(j);
	}
}

static void race_alloc(const struct bench_cfg *cfg)
{
	uint32_t j;

	race.devices = cfg->devices;
	race.n = cfg->presentities * cfg->devices;
	race.v = calloc(race.n, sizeof(*race.v));
	race.idle = calloc(race.n, sizeof(*race.idle));
	race.nlive = calloc(cfg->presentities, sizeof(*race.nlive));
	race.nrm = calloc(cfg->presentities, sizeof(*race.nrm));
	if (!race.v || !race.idle || !race.nlive || !race.nrm)
		abort();
	for (j = 0; j < race.n; j++)
		idle_push(j);
	if (getrandom(&race.rng, sizeof(race.rng), 0) != sizeof(race.rng) ||
	    !race.rng)
		race.rng = 0x9e3779b97f4a7c15ull;
}

/* Herald's gauge now, or false (said why). */
static bool gauge(const struct bench_cfg *cfg, int64_t *val)
{
	int err = bench_net_metric(cfg->admin, getenv("HERALD_ADMIN_TOKEN"),
		METRIC, val);

	if (err)
		bench_err("publish-race: GET /metrics at %s: %s%s", cfg->admin,
			strerror(err), err == EACCES ? " (not a 200: "
			"HERALD_ADMIN_TOKEN?)" : "");
	return !err;
}

/*
 * Before the engine: the publishers, the window (one PUBLISH in flight
 * per publisher at most, so that an idle one is there for every op), and
 * what Herald holds before the run.
 */
static void race_configure(struct bench_cfg *cfg)
{
	race_alloc(cfg);
	if (!cfg->window || cfg->window > race.n)
		cfg->window = race.n;
	if (cfg->admin)
		race.base_ok = gauge(cfg, &race.base);
	else
		bench_err("publish-race: no --admin: Herald's count of "
			"publications is not checked");
}

/* ---- writing and reading one publisher's PUBLISH ---- */

static enum bench_act race_send(struct bench_op *op, struct race_op *o,
	struct bench_out *out)
{
	struct racer *r = &race.v[o->j];
	char callid[CALLID_MAX];
	struct bench_pub_req q = {
		.user = pres_of(o->j) + 1,
		.cseq = ++r->cseq,
		.expires = r->step == RS_REMOVE ? 0 : 3600,
		.seq = o->seq,
		.callid = callid,
	};

	snprintf(callid, sizeof(callid), "r%u.%u-%.*s@herald-bench", o->j,
		r->life, BENCH_RUNID_LEN, bench_runid(op->b));
	if (r->step != RS_INITIAL) {
		q.etag = r->etag;
		q.etag_len = r->etag_len;
	}
	if (r->step == RS_INITIAL)
		q.basic = "open";
	else if (r->step == RS_MODIFY)
		q.basic = "closed";
	race.sent++;
	if (bench_put_publish(out, op, &q, r->a.nonce_len ? &r->a : NULL))
		return BENCH_FAIL;
	return BENCH_SEND;
}

/* Publisher j takes step in op. */
static enum bench_act race_begin(struct bench_op *op, uint32_t j,
	uint8_t step, struct bench_out *out)
{
	struct race_op *o = op->priv;
	struct racer *r = &race.v[j];
	uint32_t k = pres_of(j);

	o->j = j;
	r->busy = true;
	r->op = op;
	r->gen = op->gen;
	r->step = step;
	if (step == RS_INITIAL) {
		r->life++;
		r->cseq = 0;
		if (race.nrm[k] && race.nlive[k] <= race.nrm[k])
			race.races++;
	}
	if (step == RS_INITIAL || step == RS_MODIFY)
		o->seq = ++race.next_seq;
	if (step == RS_REMOVE)
		race.nrm[k]++;
	if (race.phase == PH_RUN)
		race.steps[step]++;
	return race_send(op, o, out);
}

/* A final response other than 401: what the publisher now believes. */
static enum bench_act race_settle(struct race_op *o,
	const struct bench_msg *resp)
{
	struct racer *r = &race.v[o->j];
	enum bench_act act = BENCH_DONE;

	if (resp->scode == 200) {
		race.ok200++;
		if (race.phase == PH_CHECK)
			race.checked++;
		if (r->step == RS_REMOVE) {
			set_live(o->j, false);
		} else if (bench_pub_etag_take(r->etag, &r->etag_len, resp)) {
			set_live(o->j, true);
		} else {
			/* a publication we cannot name again */
			race.no_etag++;
			set_live(o->j, false);
			act = BENCH_FAIL;
		}
	} else if (resp->scode == 412 && r->step != RS_INITIAL) {
		/* an entity-tag a 200 gave, refused: Herald lost it */
		if (race.phase == PH_CHECK) {
			race.e412_check++;
			race.checked++;
		} else {
			race.e412_run++;
		}
		set_live(o->j, false);
	} else {
		race.status[resp->scode / 100 < 7 ? resp->scode / 100 : 0]++;
		if (r->step == RS_INITIAL)
			set_live(o->j, false);
		act = BENCH_FAIL;
	}
	release(o->j);
	return act;
}

static enum bench_act race_response(struct bench_op *op,
	const struct bench_msg *resp, struct bench_out *out)
{
	struct race_op *o = op->priv;
	struct racer *r = &race.v[o->j];

	if (resp->scode != 401)
		return race_settle(o, resp);
	if (r->a.nonce_len)
		race.rechallenges++;
	else
		race.challenges++;
	if (o->retried || !bench_pub_auth_take(&r->a, resp)) {
		race.status[4]++;
		release(o->j);
		return BENCH_FAIL;
	}
	o->retried = true;
	return race_send(op, o, out);
}

/* ---- the run ---- */

static uint8_t pick_step(const struct racer *r)
{
	uint64_t x;

	if (!r->live)
		return RS_INITIAL;
	x = rnd() % 8;
	return x < 6 ? RS_REMOVE : x == 6 ? RS_REFRESH : RS_MODIFY;
}

static enum bench_act race_start(struct bench_op *op, struct bench_out *out)
{
	uint32_t j;

	if (!race.nidle)
		reclaim(false);
	/* never: a window of at most n leaves one idle (race_configure) */
	if (!race.nidle)
		return BENCH_FAIL;
	j = idle_pop();
	return race_begin(op, j, pick_step(&race.v[j]), out);
}

/* ---- after the clock: check, then teardown ---- */

static uint32_t count_live(void)
{
	uint32_t j, n = 0;

	for (j = 0; j < race.n; j++)
		n += race.v[j].live;
	return n;
}

/* The next publisher believed live from the cursor, or NIL. */
static uint32_t next_live(void)
{
	while (race.cursor < race.n && !race.v[race.cursor].live)
		race.cursor++;
	return race.cursor < race.n ? race.cursor++ : NIL;
}

static uint64_t race_check_ops(const struct bench_cfg *cfg)
{
	(void)cfg;
	reclaim(true);          /* no op is in flight after the run */
	race.phase = PH_CHECK;
	race.cursor = 0;
	return count_live();
}

static enum bench_act race_check_start(struct bench_op *op,
	struct bench_out *out)
{
	uint32_t j = next_live();

	return j == NIL ? BENCH_FAIL : race_begin(op, j, RS_REFRESH, out);
}

static uint64_t race_down_ops(const struct bench_cfg *cfg)
{
	(void)cfg;
	reclaim(true);
	race.phase = PH_DOWN;
	race.cursor = 0;
	return count_live();
}

static enum bench_act race_down_start(struct bench_op *op,
	struct bench_out *out)
{
	uint32_t j = next_live();

	return j == NIL ? BENCH_FAIL : race_begin(op, j, RS_REMOVE, out);
}

static const struct bench_scen race_check = {
	.name = "publish-race-check",
	.help = "refresh every publication believed live",
	.op_size = sizeof(struct race_op),
	.start = race_check_start,
	.on_response = race_response,
};

static const struct bench_scen race_down = {
	.name = "publish-race-down",
	.help = "remove every publication believed live",
	.op_size = sizeof(struct race_op),
	.start = race_down_start,
	.on_response = race_response,
};

/* ---- the verdict ---- */

static void race_count(const struct bench *b)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	int64_t now;

	race.live_expected = count_live();
	if (cfg->admin && race.base_ok && gauge(cfg, &now)) {
		race.live_herald = now - race.base;
		race.herald_ok = true;
	}
}

static void race_summary(const struct bench *b, const struct bench_result *r)
{
	const struct bench_cfg *cfg = bench_cfg(b);
	double s = r->secs > 0 ? r->secs : 1;
	char herald[24] = "-";

	race_count(b);
	race.failed = r->failed;
	if (race.herald_ok)
		snprintf(herald, sizeof(herald), "%lld",
			(long long)race.live_herald);
	printf("scenario=publish-race transport=%s duration=%.1fs "
		"presentities=%u publishers=%u publishes=%llu "
		"publishes/s=%.0f races=%llu etags_checked=%llu "
		"etags_412=%llu live_expected=%u live_herald=%s "
		"failures=%llu p50=%.3fms p99=%.3fms\n",
		r->tp, r->secs, cfg->presentities, race.n,
		(unsigned long long)r->ok, (double)r->ok / s,
		(unsigned long long)race.races,
		(unsigned long long)race.checked,
		(unsigned long long)(race.e412_run + race.e412_check),
		race.live_expected, herald, (unsigned long long)r->failed,
		(double)bench_hist_pct(r->lat, 50) / 1e6,
		(double)bench_hist_pct(r->lat, 99) / 1e6);
	if (cfg->verbose)
		bench_err("publish-race: initials=%llu refreshes=%llu "
			"modifies=%llu removes=%llu 412_run=%llu "
			"412_check=%llu sent=%llu ok200=%llu challenges=%llu "
			"rechallenges=%llu no_etag=%llu lost=%llu "
			"herald_before=%lld 3xx=%llu 4xx=%llu 5xx=%llu "
			"6xx=%llu",
			(unsigned long long)race.steps[RS_INITIAL],
			(unsigned long long)race.steps[RS_REFRESH],
			(unsigned long long)race.steps[RS_MODIFY],
			(unsigned long long)race.steps[RS_REMOVE],
			(unsigned long long)race.e412_run,
			(unsigned long long)race.e412_check,
			(unsigned long long)race.sent,
			(unsigned long long)race.ok200,
			(unsigned long long)race.challenges,
			(unsigned long long)race.rechallenges,
			(unsigned long long)race.no_etag,
			(unsigned long long)race.lost,
			(long long)race.base,
			(unsigned long long)race.status[3],
			(unsigned long long)race.status[4],
			(unsigned long long)race.status[5],
			(unsigned long long)race.status[6]);
}

static bool race_failed(const struct bench *b)
{
	bool count_bad = bench_cfg(b)->admin && (!race.herald_ok ||
		race.live_herald != (int64_t)race.live_expected);

	if (count_bad && race.herald_ok)
		bench_err("publish-race: Herald holds %lld publications, the "
			"publishers believe %u live",
			(long long)race.live_herald, race.live_expected);
	if (race.e412_run + race.e412_check)
		bench_err("publish-race: %llu entity-tags given by a 200 got "
			"412 (%llu after the clock)",
			(unsigned long long)(race.e412_run + race.e412_check),
			(unsigned long long)race.e412_check);
	return count_bad || race.e412_run || race.e412_check ||
		race.failed || race.lost;
}

const struct bench_scen bench_scen_pub_race = {
	.name = "publish-race",
	.help = "P presentities x D devices PUBLISH at once; then check",
	.op_size = sizeof(struct race_op),
	.start = race_start,
	.on_response = race_response,
	.configure = race_configure,
	.check = &race_check,
	.check_ops = race_check_ops,
	.teardown = &race_down,
	.teardown_ops = race_down_ops,
	.summary = race_summary,
	.failed = race_failed,
};
