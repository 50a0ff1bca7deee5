/* server/core: memory, slices, buffers, lists, hash, addresses, options. */
#include <check.h>
#include <stddef.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core/core.h"
#include "check_run.h"

static int destroyed;

static void dtor(void *p)
{
	(void)p;
	destroyed++;
}

START_TEST(test_mem)
{
	size_t live = hr_mem_live();
	char *p = hr_mem_zalloc(16, dtor);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p[15], 0);
	ck_assert_uint_eq(hr_mem_live(), live + 1);
	ck_assert_ptr_eq(hr_mem_ref(p), p);
	ck_assert_uint_eq(hr_mem_nrefs(p), 2);
	ck_assert_ptr_null(hr_mem_deref(p));
	ck_assert_int_eq(destroyed, 0);
	ck_assert_ptr_null(hr_mem_deref(p));
	ck_assert_int_eq(destroyed, 1);
	ck_assert_uint_eq(hr_mem_live(), live);
	ck_assert_ptr_null(hr_mem_deref(NULL));
	ck_assert_ptr_null(hr_mem_alloc(SIZE_MAX, NULL));
}
END_TEST

START_TEST(test_mem_spare)
{
	size_t live = hr_mem_live();
	char *a = hr_mem_alloc_spare(HR_MEM_SPARE - 16, dtor);
	char *big = hr_mem_alloc_spare(HR_MEM_SPARE, NULL);
	char *b;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(big);
	memset(a, 'a', HR_MEM_SPARE - 16);
	memset(big, 'b', HR_MEM_SPARE);
	ck_assert_uint_eq(hr_mem_live(), live + 2);
	destroyed = 0;
	ck_assert_ptr_null(hr_mem_deref(a));
	ck_assert_int_eq(destroyed, 1);
	ck_assert_ptr_null(hr_mem_deref(big));
	/* the block just freed serves the next one (not under ASan) */
	b = hr_mem_alloc_spare(100, NULL);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(hr_mem_nrefs(b), 1);
	ck_assert_ptr_null(hr_mem_deref(b));
	ck_assert_uint_eq(hr_mem_live(), live);
	ck_assert_ptr_null(hr_mem_alloc_spare(SIZE_MAX, NULL));
}
END_TEST

/* The spare blocks none took between two trims go (none are kept under
 * ASan). */
START_TEST(test_mem_trim)
{
	char *p[4];
	bool kept;

	for (int i = 0; i < 4; i++)
		p[i] = hr_mem_alloc_spare(100, NULL);
	for (int i = 0; i < 4; i++)
		hr_mem_deref(p[i]);
	kept = hr_mem_spares() >= 4;
	hr_mem_trim();
	hr_mem_trim();
	ck_assert_uint_eq(hr_mem_spares(), 0);
	/* two taken (from malloc) and given back: kept by the next trim,
	 * freed by the one after */
	p[0] = hr_mem_alloc_spare(100, NULL);
	p[1] = hr_mem_alloc_spare(100, NULL);
	hr_mem_deref(p[0]);
	hr_mem_deref(p[1]);
	ck_assert_uint_eq(hr_mem_spares(), kept ? 2 : 0);
	hr_mem_trim();
	ck_assert_uint_eq(hr_mem_spares(), kept ? 2 : 0);
	/* one taken and given back meanwhile: the other one goes */
	p[0] = hr_mem_alloc_spare(100, NULL);
	hr_mem_deref(p[0]);
	hr_mem_trim();
	ck_assert_uint_eq(hr_mem_spares(), kept ? 1 : 0);
	hr_mem_trim();
	ck_assert_uint_eq(hr_mem_spares(), 0);
}
END_TEST

/* true when the page holding p is mapped */
static bool mapped(const void *p)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char vec;

	return mincore((void *)((uintptr_t)p & ~(uintptr_t)(pg - 1)),
		(size_t)pg, &vec) == 0;
}

START_TEST(test_fpool)
{
	enum { N = 4000, SZ = 200 };   /* about three blocks */
	static char *pc[N];
	struct hr_fpool *fp;
	size_t live = hr_mem_live();
	char *o, *first;

	ck_assert_int_eq(hr_fpool_alloc(&fp), 0);
	for (int i = 0; i < N; i++) {
		pc[i] = hr_fpool_get(fp, SZ);
		ck_assert_ptr_nonnull(pc[i]);
		ck_assert_uint_eq((uintptr_t)pc[i] % 16, 0);
		memset(pc[i], i & 0xff, SZ);
	}
	ck_assert_ptr_null(hr_fpool_get(fp, HR_FPOOL_MAX + 1));
	/* the pieces do not overlap */
	for (int i = 0; i < N; i++)
		ck_assert_int_eq((unsigned char)pc[i][SZ - 1], i & 0xff);
	/* a block that is not the current one goes when its last piece
	 * does, not before */
	ck_assert(mapped(pc[0]));
	for (int i = 1; i < N / 2; i++)
		hr_fpool_put(pc[i]);
	ck_assert(mapped(pc[0]));
	ck_assert_int_eq((unsigned char)pc[0][0], 0);
	hr_fpool_put(pc[0]);
	ck_assert(!mapped(pc[1]));
	/* the current block, emptied, is cut from its start again */
	for (int i = N / 2; i < N; i++)
		hr_fpool_put(pc[i]);
	first = hr_fpool_get(fp, SZ);
	ck_assert(mapped(first));
	hr_fpool_put(first);
	/* ...and unmapped by a trim, unless a piece of it is out */
	o = hr_fpool_get(fp, SZ);
	hr_fpool_trim(fp);
	ck_assert(mapped(o));
	hr_fpool_put(o);
	hr_fpool_trim(fp);
	ck_assert(!mapped(o));
	hr_fpool_trim(fp);             /* no block: nothing to do */
	first = hr_fpool_get(fp, SZ);
	ck_assert(mapped(first));
	hr_fpool_put(first);

	/* refcounted objects in the pool: zeroed, destroyed, counted */
	destroyed = 0;
	o = hr_mem_zalloc_in(fp, 64, dtor);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(o[63], 0);
	ck_assert_uint_eq(hr_mem_live(), live + 2);
	/* the pool goes; a piece still out keeps its block */
	hr_mem_deref(fp);
	ck_assert(mapped(o));
	memset(o, 1, 64);
	ck_assert_ptr_null(hr_mem_deref(o));
	ck_assert_int_eq(destroyed, 1);
	ck_assert_uint_eq(hr_mem_live(), live);
	ck_assert(!mapped(o));
}
END_TEST

START_TEST(test_slab)
{
	enum { N = 3000, SZ = 400 };   /* over one block */
	static char *pc[N];
	size_t live = hr_mem_live();
	char *o;

	/* under AddressSanitizer the slab gives nothing: malloc does */
	o = hr_slab_get(SZ);
	hr_slab_put(o, SZ);
	if (!o) {
		o = hr_mem_zalloc_long(SZ, dtor);
		ck_assert_ptr_nonnull(o);
		destroyed = 0;
		ck_assert_ptr_null(hr_mem_deref(o));
		ck_assert_int_eq(destroyed, 1);
		return;
	}
	for (int i = 0; i < N; i++) {
		pc[i] = hr_slab_get(SZ);
		ck_assert_ptr_nonnull(pc[i]);
		ck_assert_uint_eq((uintptr_t)pc[i] % HR_SLAB_ALIGN, 0);
		memset(pc[i], i & 0xff, SZ);
	}
	ck_assert_ptr_null(hr_slab_get(HR_SLAB_MAX + 1));
	ck_assert_ptr_null(hr_slab_get(0));
	for (int i = 0; i < N; i++)
		ck_assert_int_eq((unsigned char)pc[i][SZ - 1], i & 0xff);
	/* a piece put back is the next of its class, not of another */
	hr_slab_put(pc[7], SZ);
	ck_assert_ptr_ne(hr_slab_get(SZ + HR_SLAB_ALIGN), pc[7]);
	ck_assert_ptr_eq(hr_slab_get(SZ - 1), pc[7]);
	/* churn takes no new blocks */
	{
		size_t mapped0 = hr_slab_mapped();

		for (int r = 0; r < 3; r++) {
			for (int i = 0; i < N; i++)
				hr_slab_put(pc[i], SZ);
			for (int i = 0; i < N; i++)
				pc[i] = hr_slab_get(SZ);
		}
		ck_assert_uint_eq(hr_slab_mapped(), mapped0);
	}
	for (int i = 0; i < N; i++)
		hr_slab_put(pc[i], SZ);

	/* refcounted objects from it: zeroed, destroyed, counted */
	destroyed = 0;
	o = hr_mem_zalloc_long(SZ, dtor);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(o[SZ - 1], 0);
	ck_assert_uint_eq(hr_mem_live(), live + 1);
	ck_assert_ptr_null(hr_mem_deref(o));
	ck_assert_int_eq(destroyed, 1);
	ck_assert_uint_eq(hr_mem_live(), live);
	/* too large for it: malloc's */
	o = hr_mem_zalloc_long(HR_SLAB_MAX * 2, NULL);
	ck_assert_ptr_nonnull(o);
	hr_mem_deref(o);
}
END_TEST

START_TEST(test_pl)
{
	struct hr_pl a = HR_PL("Hello"), b = HR_PL("hello"), t = HR_PL(
		" \t x y \r\n");
	uint64_t v;
	char buf[4], *s;

	ck_assert_int_eq(hr_pl_strcmp(&a, "Hello"), 0);
	ck_assert_int_ne(hr_pl_strcmp(&a, "Hell"), 0);
	ck_assert_int_eq(hr_pl_casecmp(&a, &b), 0);
	ck_assert_int_ne(hr_pl_cmp(&a, &b), 0);
	hr_pl_trim(&t);
	ck_assert_int_eq(hr_pl_strcmp(&t, "x y"), 0);
	ck_assert_int_eq(hr_pl_u64(&(struct hr_pl)HR_PL("123"), 200, &v), 0);
	ck_assert_uint_eq(v, 123);
	ck_assert_int_eq(hr_pl_u64(&(struct hr_pl)HR_PL("201"), 200, &v),
		EBADMSG);
	ck_assert_int_eq(hr_pl_u64_clamp(&(struct hr_pl)HR_PL("99999"), 200,
		&v), 0);
	ck_assert_uint_eq(v, 200);
	ck_assert_int_eq(hr_pl_u64(&(struct hr_pl)HR_PL("1x"), 200, &v),
		EBADMSG);
	ck_assert_int_eq(hr_pl_u64(&(struct hr_pl)HR_PL_INIT, 200, &v),
		EBADMSG);
	ck_assert_int_eq(hr_pl_strcpy(&a, buf, sizeof(buf)), ENOSPC);
	ck_assert_str_eq(buf, "Hel");
	s = hr_pl_strdup(&a);
	ck_assert_str_eq(s, "Hello");
	hr_mem_deref(s);
	ck_assert_ptr_eq(hr_pl_chr(&a, 'l'), a.p + 2);
}
END_TEST

START_TEST(test_buf)
{
	struct hr_buf b;

	hr_buf_init(&b, 10);
	ck_assert_int_eq(hr_buf_puts(&b, "12345"), 0);
	ck_assert_int_eq(hr_buf_putu(&b, 6789), 0);
	ck_assert_int_eq(hr_buf_printf(&b, "%d", 0), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert(memcmp(b.b, "1234567890", 10) == 0);
	/* the cap holds */
	ck_assert_int_eq(hr_buf_puts(&b, "x"), EMSGSIZE);
	ck_assert_int_eq(hr_buf_printf(&b, "%s", "y"), EMSGSIZE);
	ck_assert_uint_eq(b.len, 10);
	hr_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	/* printf into the room left, then past the first size */
	hr_buf_init(&b, 4096);
	ck_assert_int_eq(hr_buf_printf(&b, "%s", ""), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_int_eq(hr_buf_puts(&b, "a"), 0);
	ck_assert_int_eq(hr_buf_printf(&b, "%d;%s", 42, "x"), 0);
	ck_assert_int_eq(hr_buf_printf(&b, "%300s", "z"), 0);
	ck_assert_uint_eq(b.len, 305);
	ck_assert(memcmp(b.b, "a42;x ", 6) == 0);
	ck_assert_int_eq(b.b[304], 'z');
	hr_buf_reset(&b);
}
END_TEST

struct item {
	struct hr_le le;
	int key;
};

/* it, of key key, into h under hkey. */
static void item_add(struct hr_hash *h, struct item *it, int key,
	uint32_t hkey)
{
	memset(it, 0, sizeof(*it));
	it->key = key;
	hr_hash_append(h, hkey, &it->le, it);
}

START_TEST(test_hash_list)
{
	struct hr_hash h;
	struct item it[100];

	ck_assert_int_eq(hr_hash_init(&h, 8), 0);
	for (int i = 0; i < 100; i++)
		item_add(&h, &it[i], i, (uint32_t)i);
	ck_assert_uint_eq(h.n, 100);
	for (int i = 0; i < 100; i += 3)
		hr_hash_unlink(&h, &it[i].le);
	hr_hash_unlink(&h, &it[0].le);   /* twice is harmless */
	ck_assert_uint_eq(h.n, 66);
	for (int i = 0; i < 100; i++) {
		bool found = false;
		struct hr_le *le = hr_hash_first(&h, (uint32_t)i);

		for (; le; le = le->next)
			found |= ((struct item *)le->data)->key == i;
		ck_assert(found == (i % 3 != 0));
	}
	hr_hash_reset(&h);
	ck_assert_uint_eq(hr_hash_bytes("a", 1) != hr_hash_bytes("b", 1), 1);
	ck_assert_uint_eq(hr_hash_pl_ci(&(struct hr_pl)HR_PL("AbC")),
		hr_hash_pl_ci(&(struct hr_pl)HR_PL("aBc")));
}
END_TEST

/* One bucket's entries: in the order appended, whichever goes. */
static void bucket_is(const struct hr_hash *h, const int *keys, int n)
{
	const struct hr_le *le = hr_hash_first(h, 0);

	for (int i = 0; i < n; i++, le = le->next) {
		ck_assert_ptr_nonnull(le);
		ck_assert_int_eq(((const struct item *)le->data)->key, keys[i]);
	}
	ck_assert_ptr_null(le);
}

START_TEST(test_hash_bucket_order)
{
	struct hr_hash h;
	struct item it[6];

	ck_assert_int_eq(hr_hash_init(&h, 16), 0);
	for (int i = 0; i < 5; i++)   /* all in bucket 0 */
		item_add(&h, &it[i], i, (uint32_t)i * 16);
	bucket_is(&h, (const int[]){ 0, 1, 2, 3, 4 }, 5);
	hr_hash_unlink(&h, &it[0].le);             /* the head */
	bucket_is(&h, (const int[]){ 1, 2, 3, 4 }, 4);
	hr_hash_unlink(&h, &it[4].le);             /* the tail */
	bucket_is(&h, (const int[]){ 1, 2, 3 }, 3);
	item_add(&h, &it[5], 5, 0);                /* after the new tail */
	bucket_is(&h, (const int[]){ 1, 2, 3, 5 }, 4);
	hr_hash_unlink(&h, &it[2].le);             /* between two */
	bucket_is(&h, (const int[]){ 1, 3, 5 }, 3);
	ck_assert_ptr_null(it[2].le.bucket);
	hr_hash_unlink(&h, &it[1].le);
	hr_hash_unlink(&h, &it[5].le);
	hr_hash_unlink(&h, &it[3].le);             /* the last one */
	bucket_is(&h, NULL, 0);
	ck_assert_uint_eq(h.n, 0);
	hr_hash_append(&h, 0, &it[3].le, &it[3]);  /* the bucket again */
	bucket_is(&h, (const int[]){ 3 }, 1);
	hr_hash_unlink(&h, &it[3].le);
	hr_hash_reset(&h);
}
END_TEST

static uint32_t item_key(const void *data)
{
	return (uint32_t)((const struct item *)data)->key;
}

/* Whether entry i, of key it[i].key, is found under its key. */
static bool hash_has(const struct hr_hash *h, const struct item *it)
{
	for (const struct hr_le *le = hr_hash_first(h, (uint32_t)it->key);
	     le; le = le->next) {
		if (le->data == it)
			return true;
	}
	return false;
}

/* A growing table doubles as entries come, up to its size, and halves at
 * a trim once they went; its entries are found all along, those of one
 * key in the order they came. */
START_TEST(test_hash_grow)
{
	enum { N = 5000 };
	static struct item it[N];
	struct hr_hash h;
	int k = -1;

	ck_assert_int_eq(hr_hash_init_grow(&h, 4096, item_key), 0);
	ck_assert_uint_eq(h.mask, 1023);
	for (int i = 0; i < N; i++) {
		/* 1,000 keys twice */
		item_add(&h, &it[i], i % 4000, (uint32_t)(i % 4000));
		if (i == 1024)
			ck_assert_uint_eq(h.mask, 2047);
	}
	ck_assert_uint_eq(h.mask, 4095);    /* no more than asked */
	ck_assert_uint_eq(h.n, N);
	for (int i = 0; i < N; i++)
		ck_assert(hash_has(&h, &it[i]));
	/* key 7: it[7] then it[4007] */
	for (const struct hr_le *le = hr_hash_first(&h, 7); le;
	     le = le->next) {
		const struct item *x = le->data;

		if (x->key != 7)
			continue;
		ck_assert_int_eq((int)(x - it), k < 0 ? 7 : 4007);
		k = (int)(x - it);
	}
	ck_assert_int_eq(k, 4007);
	hr_hash_trim(&h);                   /* full: stays */
	ck_assert_uint_eq(h.mask, 4095);
	for (int i = 300; i < N; i++)
		hr_hash_unlink(&h, &it[i].le);
	hr_hash_trim(&h);                   /* not below 1,024 */
	ck_assert_uint_eq(h.mask, 1023);
	for (int i = 0; i < 300; i++)
		ck_assert(hash_has(&h, &it[i]));
	for (int i = 0; i < 300; i++)
		hr_hash_unlink(&h, &it[i].le);
	ck_assert_uint_eq(h.n, 0);
	hr_hash_reset(&h);
	/* a table that does not grow is not trimmed */
	ck_assert_int_eq(hr_hash_init(&h, 4096), 0);
	hr_hash_trim(&h);
	ck_assert_uint_eq(h.mask, 4095);
	hr_hash_reset(&h);
}
END_TEST

struct named {
	struct hr_le le;
	int n;
	char name[8];
};

/* Entries found by the name they hold, hashed as hr_hash_bytes. */
START_TEST(test_hash_find_str)
{
	static const char *const names[] = { "alice", "bob", "carol", "" };
	struct named e[4];
	struct hr_hash h;

	ck_assert_int_eq(hr_hash_init(&h, 2), 0);
	for (int i = 0; i < 4; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].n = i;
		strcpy(e[i].name, names[i]);
		hr_hash_append(&h, hr_hash_bytes(names[i], strlen(names[i])),
			&e[i].le, &e[i]);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_eq(hr_hash_find_str(&h, names[i],
			offsetof(struct named, name)), &e[i]);
	ck_assert_ptr_null(hr_hash_find_str(&h, "Alice",
		offsetof(struct named, name)));
	ck_assert_ptr_null(hr_hash_find_str(&h, "dave",
		offsetof(struct named, name)));
	hr_hash_unlink(&h, &e[1].le);
	ck_assert_ptr_null(hr_hash_find_str(&h, "bob",
		offsetof(struct named, name)));
	hr_hash_reset(&h);
}
END_TEST

/* FNV-1a 64's published vectors; never 0. */
START_TEST(test_hash64)
{
	ck_assert(hr_hash64("", 0) == 0xcbf29ce484222325ULL);
	ck_assert(hr_hash64("a", 1) == 0xaf63dc4c8601ec8cULL);
	ck_assert(hr_hash64("foobar", 6) == 0x85944171f73967e8ULL);
}
END_TEST

/* Address blocks: --trusted-publisher's. */
START_TEST(test_net)
{
	struct hr_net n;
	struct hr_sa a;

	ck_assert_int_eq(hr_net_decode(&n, "192.0.2.0/24"), 0);
	hr_sa_set(&a, "192.0.2.77", 5060);
	ck_assert(hr_net_has(&n, &a));
	hr_sa_set(&a, "192.0.3.1", 5060);
	ck_assert(!hr_net_has(&n, &a));
	/* an IPv4-mapped source is its IPv4 address */
	hr_sa_set(&a, "::ffff:192.0.2.9", 5060);
	ck_assert(hr_net_has(&n, &a));
	hr_sa_set(&a, "2001:db8::1", 5060);
	ck_assert(!hr_net_has(&n, &a));
	/* one address; a prefix that ends inside a byte */
	ck_assert_int_eq(hr_net_decode(&n, "127.0.0.1"), 0);
	hr_sa_set(&a, "127.0.0.1", 1);
	ck_assert(hr_net_has(&n, &a));
	hr_sa_set(&a, "127.0.0.2", 1);
	ck_assert(!hr_net_has(&n, &a));
	ck_assert_int_eq(hr_net_decode(&n, "2001:db8:8000::/33"), 0);
	hr_sa_set(&a, "2001:db8:ffff::1", 1);
	ck_assert(hr_net_has(&n, &a));
	hr_sa_set(&a, "2001:db8:7fff::1", 1);
	ck_assert(!hr_net_has(&n, &a));
	ck_assert_int_eq(hr_net_decode(&n, "::/0"), 0);
	ck_assert(hr_net_has(&n, &a));
	/* refused */
	ck_assert_int_eq(hr_net_decode(&n, "192.0.2.0/33"), EINVAL);
	ck_assert_int_eq(hr_net_decode(&n, "192.0.2.0/"), EINVAL);
	ck_assert_int_eq(hr_net_decode(&n, "192.0.2.0/2x"), EINVAL);
	ck_assert_int_eq(hr_net_decode(&n, "example.test"), EINVAL);
}
END_TEST

START_TEST(test_sa)
{
	struct hr_sa a, b;
	char s[HR_SA_STRLEN];

	ck_assert_int_eq(hr_sa_decode(&a, "127.0.0.1:5060"), 0);
	ck_assert_str_eq(hr_sa_print(&a, s, sizeof(s)), "127.0.0.1:5060");
	ck_assert_str_eq(hr_sa_print(&a, s, 8), "127.0.0");  /* truncated */
	ck_assert_str_eq(hr_sa_ntop(&a, s, sizeof(s)), "127.0.0.1");
	ck_assert_int_eq(hr_sa_decode(&b, "255.10.0.200:65535"), 0);
	ck_assert_str_eq(hr_sa_print(&b, s, sizeof(s)), "255.10.0.200:65535");
	ck_assert_int_eq(hr_sa_decode(&b, "0.0.0.0:0"), 0);
	ck_assert_str_eq(hr_sa_print(&b, s, sizeof(s)), "0.0.0.0:0");
	ck_assert_int_eq(hr_sa_decode(&b, "[::1]:5061"), 0);
	ck_assert_str_eq(hr_sa_print(&b, s, sizeof(s)), "[::1]:5061");
	ck_assert_uint_eq(hr_sa_port(&b), 5061);
	ck_assert(!hr_sa_eq(&a, &b));
	ck_assert_int_eq(hr_sa_set(&b, "127.0.0.1", 5060), 0);
	ck_assert(hr_sa_eq(&a, &b));
	ck_assert_int_eq(hr_sa_decode(&a, "::1:5060"), EINVAL);
	ck_assert_int_eq(hr_sa_decode(&a, "127.0.0.1"), EINVAL);
	ck_assert_int_eq(hr_sa_decode(&a, "127.0.0.1:70000"), EINVAL);
	ck_assert_int_eq(hr_sa_decode(&a, "host:5060"), EINVAL);
}
END_TEST

START_TEST(test_opt)
{
	struct hr_strlist list = { { 0 }, 0 };
	const char *level = "info";
	unsigned n = 5;
	bool flag = false;
	const struct hr_opt opts[] = {
		{ "sip-listen", HR_OPT_LIST, &list, "SPEC", "", 0, 0 },
		{ "log-level", HR_OPT_STR, &level, "L", "", 0, 0 },
		{ "max-message-size", HR_OPT_UINT, &n, "N", "", 1, 100 },
		{ "flag", HR_OPT_FLAG, &flag, NULL, "", 0, 0 },
	};
	char *argv1[] = { "--sip-listen", "udp:127.0.0.1:1",
		"--sip-listen=tcp:127.0.0.1:1", "--log-level=debug",
		"--max-message-size", "42", "--flag" };
	char *argv2[] = { "--max-message-size", "101" };
	char *argv3[] = { "--nope" };
	char *argv4[] = { "--help" };

	setenv("HERALD_SIP_LISTEN", "udp:1.1.1.1:1, udp:2.2.2.2:2", 1);
	setenv("HERALD_LOG_LEVEL", "warn", 1);
	ck_assert_int_eq(hr_opt_parse(opts, 4, 0, NULL), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_str_eq(list.v[1], "udp:2.2.2.2:2");
	ck_assert_str_eq(level, "warn");
	/* the command line replaces the environment's list */
	list.n = 0;
	ck_assert_int_eq(hr_opt_parse(opts, 4, 7, argv1), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_str_eq(list.v[0], "udp:127.0.0.1:1");
	ck_assert_str_eq(list.v[1], "tcp:127.0.0.1:1");
	ck_assert_str_eq(level, "debug");
	ck_assert_uint_eq(n, 42);
	ck_assert(flag);
	unsetenv("HERALD_SIP_LISTEN");
	unsetenv("HERALD_LOG_LEVEL");
	ck_assert_int_eq(hr_opt_parse(opts, 4, 2, argv2), EINVAL);
	ck_assert_int_eq(hr_opt_parse(opts, 4, 1, argv3), EINVAL);
	ck_assert_int_eq(hr_opt_parse(opts, 4, 1, argv4), EAGAIN);
	ck_assert_int_eq(hr_log_set_level("bogus"), EINVAL);
	ck_assert_int_eq(hr_log_set_level("ERROR"), 0);
	hr_log_set_level("info");
}
END_TEST

START_TEST(test_rand)
{
	char a[21], b[21];

	hr_rand_token(a, 20);
	hr_rand_token(b, 20);
	ck_assert_uint_eq(strlen(a), 20);
	ck_assert_str_ne(a, b);
	ck_assert_uint_ne(hr_rand_u64(), hr_rand_u64());
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_mem);
	tcase_add_test(tc, test_mem_spare);
	tcase_add_test(tc, test_mem_trim);
	tcase_add_test(tc, test_pl);
	tcase_add_test(tc, test_buf);
	tcase_add_test(tc, test_hash_list);
	tcase_add_test(tc, test_hash_bucket_order);
	tcase_add_test(tc, test_hash_grow);
	tcase_add_test(tc, test_hash_find_str);
	tcase_add_test(tc, test_sa);
	tcase_add_test(tc, test_net);
	tcase_add_test(tc, test_hash64);
	tcase_add_test(tc, test_opt);
	tcase_add_test(tc, test_rand);
	tcase_add_test(tc, test_fpool);
	tcase_add_test(tc, test_slab);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return hr_check_run(suite());
}
