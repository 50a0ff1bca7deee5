/* Intrusive chained hash table; owners unlink their own entries. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

/* A growing table's fewest buckets. */
#define GROW_MIN 1024

static uint32_t pow2(uint32_t nbuckets)
{
	uint32_t n = 16;

	while (n < nbuckets && n < (1u << 30))
		n <<= 1;
	return n;
}

int hr_hash_init(struct hr_hash *h, uint32_t nbuckets)
{
	uint32_t n = pow2(nbuckets);

	h->bucket = calloc(n, sizeof(*h->bucket));
	if (!h->bucket)
		return ENOMEM;
	h->mask = h->max_mask = n - 1;
	h->keyh = NULL;
	h->n = 0;
	return 0;
}

/*
 * Issue 20: the transaction and AOR tables were made for 100,000 users
 * and more (65,536 buckets); the first 10,000 entries touched all their
 * pages, and a burst's transactions left them touched once expired.
 */
int hr_hash_init_grow(struct hr_hash *h, uint32_t nbuckets,
	hr_hash_key_h *keyh)
{
	uint32_t max = pow2(nbuckets);
	int err = hr_hash_init(h, max < GROW_MIN ? max : GROW_MIN);

	if (err)
		return err;
	h->max_mask = max - 1;
	h->keyh = keyh;
	return 0;
}

static void link_tail(struct hr_hbucket *b, struct hr_le *le)
{
	struct hr_le *head = b->head;

	le->bucket = b;
	le->next = NULL;
	if (head) {
		le->prev = head->prev;
		head->prev->next = le;
		head->prev = le;
	} else {
		le->prev = le;
		b->head = le;
	}
}

/* Every entry into n buckets, each bucket's in the order it had; on
 * ENOMEM the table stays as it was. */
static void rehash(struct hr_hash *h, uint32_t n)
{
	struct hr_hbucket *nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (uint32_t i = 0; i <= h->mask; i++) {
		struct hr_le *le = h->bucket[i].head, *next;

		for (; le; le = next) {
			next = le->next;
			link_tail(&nb[h->keyh(le->data) & (n - 1)], le);
		}
	}
	free(h->bucket);
	h->bucket = nb;
	h->mask = n - 1;
}

void hr_hash_trim(struct hr_hash *h)
{
	uint32_t n = h->mask + 1;

	if (!h->keyh)
		return;
	while (n > GROW_MIN && h->n < n / 4)
		n /= 2;
	if (n != h->mask + 1)
		rehash(h, n);
}

void hr_hash_reset(struct hr_hash *h)
{
	free(h->bucket);
	h->bucket = NULL;
	h->mask = h->max_mask = 0;
	h->n = 0;
}

void hr_hash_append(struct hr_hash *h, uint32_t key, struct hr_le *le,
	void *data)
{
	/* more entries than buckets: twice as many buckets */
	if (h->keyh && h->n > h->mask && h->mask < h->max_mask)
		rehash(h, (h->mask + 1) * 2);
	le->data = data;
	link_tail(&h->bucket[key & h->mask], le);
	h->n++;
}

struct hr_le *hr_hash_first(const struct hr_hash *h, uint32_t key)
{
	return h->bucket[key & h->mask].head;
}

void *hr_hash_find_str(const struct hr_hash *h, const char *name,
	size_t off)
{
	const struct hr_le *le = hr_hash_first(h, hr_hash_bytes(name,
		strlen(name)));

	for (; le; le = le->next) {
		if (!strcmp((const char *)le->data + off, name))
			return le->data;
	}
	return NULL;
}

void hr_hash_unlink(struct hr_hash *h, struct hr_le *le)
{
	struct hr_hbucket *b = le->bucket;

	if (!b)
		return;
	if (le == b->head)
		b->head = le->next;
	else
		le->prev->next = le->next;
	if (le->next)
		le->next->prev = le->prev;       /* the tail, if le was head */
	else if (b->head)
		b->head->prev = le->prev;        /* le was the tail */
	le->prev = le->next = NULL;
	le->bucket = NULL;
	h->n--;
}

uint32_t hr_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t x = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		x ^= s[i];
		x *= 16777619u;
	}
	return x;
}

uint32_t hr_hash_pl_ci(const struct hr_pl *pl)
{
	uint32_t x = 2166136261u;

	for (size_t i = 0; i < pl->len; i++) {
		x ^= (uint32_t)tolower((unsigned char)pl->p[i]);
		x *= 16777619u;
	}
	return x;
}

uint64_t hr_hash64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}
