/*
 * Write transactions: statements collected on the core thread, queued for
 * the writer thread, completed back on the core thread. A committed tx
 * belongs to the store until its done handler has run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/store_int.h"

#define HR_LOG_MODULE "store"

void hr_stmt_reset(struct stmt *st)
{
	free(st->mem);
	st->mem = NULL;
	st->n = 0;
}

static void tx_destroy(void *data)
{
	struct hr_store_tx *tx = data;

	for (size_t i = 0; i < tx->n; i++)
		hr_stmt_reset(&tx->stmts[i]);
	free(tx->stmts);
}

int hr_store_tx_alloc(struct hr_store_tx **txp, struct hr_store *s)
{
	struct hr_store_tx *tx;

	if (!txp || !s)
		return EINVAL;
	tx = hr_mem_zalloc(sizeof(*tx), tx_destroy);
	if (!tx)
		return ENOMEM;
	tx->s = s;
	*txp = tx;
	return 0;
}

static struct stmt *stmt_add(struct hr_store_tx *tx, enum stmt_kind kind)
{
	struct stmt *st;

	if (tx->n == tx->size) {
		size_t size = tx->size ? tx->size * 2 : 4;
		struct stmt *p = realloc(tx->stmts, size * sizeof(*p));

		if (!p)
			return NULL;
		tx->stmts = p;
		tx->size = size;
	}
	st = &tx->stmts[tx->n];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	return st;
}

/* One statement from its parameters: 0, ENOMEM, or E2BIG for more than
 * a statement holds (ADD checks that at compile time). The parameters
 * are copied into one allocation, not one each (issue 20: a binding's
 * dozen strdup()s and free()s were 7 % of the REGISTER maximum). */
static int add(struct hr_store_tx *tx, enum stmt_kind kind,
	const char *const *v, unsigned n)
{
	size_t len[STMT_PARAMS_MAX], total = 0;
	struct stmt *st;
	char *p;

	if (n > STMT_PARAMS_MAX)
		return E2BIG;
	for (unsigned i = 0; i < n; i++) {
		len[i] = v[i] ? strlen(v[i]) + 1 : 0;
		total += len[i];
	}
	st = stmt_add(tx, kind);
	if (!st)
		return ENOMEM;
	p = st->mem = malloc(total ? total : 1);
	if (!p)
		return ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		st->v[i] = v[i] ? memcpy(p, v[i], len[i]) : NULL;
		p += len[i];
	}
	st->n = (int)n;
	tx->n++;
	return 0;
}

#define ADD(tx, kind, v) (__extension__({ \
	_Static_assert(sizeof(v) / sizeof((v)[0]) <= STMT_PARAMS_MAX, \
		"more parameters than struct stmt holds"); \
	add((tx), (kind), (v), sizeof(v) / sizeof((v)[0])); }))

/* A put of row struct p: its columns as the parameters of the upsert
 * hr_row_upsert() made. EINVAL when a required column is not set. */
static int add_row(struct hr_store_tx *tx, enum stmt_kind kind,
	const struct hr_row *row, const void *p)
{
	char num[STMT_PARAMS_MAX][HR_ROW_NUM_MAX];
	const char *v[STMT_PARAMS_MAX];

	if (row->ncols > STMT_PARAMS_MAX)
		return E2BIG;
	for (unsigned i = 0; i < row->ncols; i++) {
		const struct hr_col *c = &row->cols[i];

		v[i] = hr_row_text(c, p, num[i], sizeof(num[i]));
		if (!v[i] && (c->flags & COL_REQ))
			return EINVAL;
	}
	return add(tx, kind, v, row->ncols);
}

int hr_store_tx_binding_put(struct hr_store_tx *tx,
	const struct hr_store_binding *b)
{
	if (!tx || !b)
		return EINVAL;
	return add_row(tx, STMT_BINDING_PUT, &hr_row_binding, b);
}

int hr_store_tx_binding_del(struct hr_store_tx *tx, const char *aor,
	const char *key)
{
	const char *const v[] = { aor, key };

	if (!tx || !aor || !key)
		return EINVAL;
	return ADD(tx, STMT_BINDING_DEL, v);
}

int hr_store_tx_sub_put(struct hr_store_tx *tx, const struct hr_store_sub *u)
{
	if (!tx || !u)
		return EINVAL;
	return add_row(tx, STMT_SUB_PUT, &hr_row_sub, u);
}

int hr_store_tx_sub_del(struct hr_store_tx *tx, const char *id,
	uint32_t epoch)
{
	char e[16];
	const char *const v[] = { id, e };

	if (!tx || !id)
		return EINVAL;
	snprintf(e, sizeof(e), "%" PRIu32, epoch);
	return ADD(tx, STMT_SUB_DEL, v);
}

int hr_store_tx_sub_reserve(struct hr_store_tx *tx, const char *id,
	uint32_t epoch, int64_t cseq_reserved, int64_t version_reserved)
{
	char c[24], ver[24], e[16];
	const char *const v[] = { id, c, ver, e };

	if (!tx || !id)
		return EINVAL;
	snprintf(e, sizeof(e), "%" PRIu32, epoch);
	snprintf(c, sizeof(c), "%" PRId64, cseq_reserved);
	snprintf(ver, sizeof(ver), "%" PRId64, version_reserved);
	return ADD(tx, STMT_SUB_RESERVE, v);
}

int hr_store_tx_pub_put(struct hr_store_tx *tx, const struct hr_store_pub *u)
{
	if (!tx || !u)
		return EINVAL;
	return add_row(tx, STMT_PUB_PUT, &hr_row_pub, u);
}

int hr_store_tx_pub_del(struct hr_store_tx *tx, const char *etag)
{
	const char *const v[] = { etag };

	if (!tx || !etag)
		return EINVAL;
	return ADD(tx, STMT_PUB_DEL, v);
}

int hr_store_tx_rule_put(struct hr_store_tx *tx, const char *package,
	const char *resource, const char *watcher, const char *action)
{
	const char *const v[] = { package, resource, watcher, action };

	if (!tx || !package || !resource || !watcher || !action)
		return EINVAL;
	return ADD(tx, STMT_RULE_PUT, v);
}

int hr_store_tx_rule_del(struct hr_store_tx *tx, const char *package,
	const char *resource, const char *watcher)
{
	const char *const v[] = { package, resource, watcher };

	if (!tx || !package || !resource || !watcher)
		return EINVAL;
	return ADD(tx, STMT_RULE_DEL, v);
}

void hr_store_tx_abort(struct hr_store_tx *tx)
{
	hr_mem_deref(tx);
}

int hr_store_tx_commit(struct hr_store_tx *tx, hr_store_done_h *done,
	void *arg)
{
	struct hr_store *s;
	uint64_t one = 1;

	if (!tx)
		return EINVAL;
	s = tx->s;
	if (!done) {
		hr_mem_deref(tx);
		return EINVAL;
	}
	if (s->depth >= s->cfg.queue_max) {
		hr_mem_deref(tx);
		return ENOSPC;
	}
	tx->done = done;
	tx->arg = arg;
	tx->queued_ms = hr_store_mono_ms();
	s->depth++;
	pthread_mutex_lock(&s->lock);
	hr_list_append(&s->queue, &tx->le, tx);
	pthread_mutex_unlock(&s->lock);
	/* an eventfd counter only fails when it would overflow */
	if (write(s->efd, &one, sizeof(one)) < 0)
		HR_DEBUG("wake writer: %s", hr_strerror(errno));
	return 0;
}

size_t hr_store_queue_depth(const struct hr_store *s)
{
	return s ? s->depth : 0;
}
