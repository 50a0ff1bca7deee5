/*
 * Herald core: memory, slices, logging, clock, timers, buffers, random,
 * hash tables, lists, the event loop and socket addresses.
 * Knows nothing of SIP.
 */
#ifndef HR_CORE_H
#define HR_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

/* ---- memory: refcounted allocations (libre mem) ---- */

typedef void (hr_mem_destroy_h)(void *data);

/** Allocate zeroed, refcounted memory; dh runs when the last ref goes. */
void *hr_mem_zalloc(size_t size, hr_mem_destroy_h *dh);
struct hr_fpool;
/** hr_mem_zalloc from pool (fpool.c; from malloc when the pool cannot):
 *  for objects freed about in the order they were made. */
void *hr_mem_zalloc_in(struct hr_fpool *pool, size_t size,
	hr_mem_destroy_h *dh);
/** Allocate refcounted memory without zeroing it. */
void *hr_mem_alloc(size_t size, hr_mem_destroy_h *dh);
#define HR_MEM_SPARE 4096  /* hr_mem_alloc_spare's block, header included */
/** hr_mem_alloc for a short-lived object: up to HR_MEM_SPARE bytes come
 *  from blocks the last ones freed (mem.c), larger ones from malloc. */
void *hr_mem_alloc_spare(size_t size, hr_mem_destroy_h *dh);
/** Free the spare blocks none took since the last call (call it every
 *  few seconds). */
void hr_mem_trim(void);
/** Spare blocks waiting (for tests). */
size_t hr_mem_spares(void);
/** Take one more reference; NULL-safe. */
void *hr_mem_ref(void *data);
/** Drop one reference; NULL-safe; always returns NULL. */
void *hr_mem_deref(void *data);
/** Number of references held (for tests). */
uint32_t hr_mem_nrefs(const void *data);
/** Live allocations made through hr_mem (for leak checks in tests). */
size_t hr_mem_live(void);

/* ---- a heap for what lives long (slab.c): pieces in classes of
 * HR_SLAB_ALIGN bytes from blocks mapped on their own, so that the
 * traffic's short-lived memory does not pin their pages; SIP thread
 * only. Classes of 8 bytes, not 16 (issue 20: a subscription's five
 * pieces lost 40 bytes to rounding): what lives there needs no more
 * alignment than a pointer's ---- */
#define HR_SLAB_ALIGN 8
#define HR_SLAB_MAX 1024          /* larger: NULL, take it from malloc */
#define HR_SLAB_BLOCK (1024 * 1024)

/** size bytes, 8-aligned; NULL when over HR_SLAB_MAX, out of memory or
 * under AddressSanitizer (then take it from malloc). */
void *hr_slab_get(size_t size);
/** Put back p, taken with hr_slab_get(size); NULL-safe. */
void hr_slab_put(void *p, size_t size);
/** Bytes the slab has mapped. */
size_t hr_slab_mapped(void);
/** hr_mem_zalloc for what lives long: from the slab (or malloc). */
void *hr_mem_zalloc_long(size_t size, hr_mem_destroy_h *dh);

/* ---- a pool for memory freed in about the order it was taken (fpool.c):
 * blocks mapped on their own, each unmapped when its last piece is put
 * back; one thread only ---- */

#define HR_FPOOL_BLOCK (256 * 1024)
#define HR_FPOOL_MAX (16 * 1024)  /* larger: NULL, take it from malloc */

/** A pool (hr_mem: deref to free; pieces still out keep their blocks). */
int hr_fpool_alloc(struct hr_fpool **pp);
/** size bytes, 16-aligned; NULL when over HR_FPOOL_MAX or no memory. */
void *hr_fpool_get(struct hr_fpool *p, size_t size);
/** Put back a piece of hr_fpool_get (of any pool); NULL-safe. */
void hr_fpool_put(void *ptr);
/** Unmap the block the pool cuts from if nothing of it is out (call it
 *  now and then: its pages stay in RSS otherwise). */
void hr_fpool_trim(struct hr_fpool *p);

/* ---- pointer-length slices borrowed from a buffer ---- */

struct hr_pl {
	const char *p;
	size_t len;
};

#define HR_PL(s) ((struct hr_pl){ (s), sizeof(s) - 1 })
#define HR_PL_INIT { NULL, 0 }
#define HR_PL_ARG(pl) (int)(pl).len, (pl).p

/** Slice of a NUL-terminated string. */
struct hr_pl hr_pl_str(const char *s);
/** True when pl is set (p not NULL). */
static inline bool hr_pl_isset(const struct hr_pl *pl)
{
	return pl && pl->p != NULL;
}
/* ASCII lowercase of every byte value (locale-free). */
extern const unsigned char hr_lower[256];

/** True when the n bytes at a and b are equal ignoring ASCII case. */
static inline bool hr_ci_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (hr_lower[(unsigned char)a[i]] != hr_lower[(unsigned char)b[i]])
			return false;
	}
	return true;
}

/** Case-sensitive compare with a C string: 0 when equal. */
static inline int hr_pl_strcmp(const struct hr_pl *pl, const char *s)
{
	size_t n = __builtin_strlen(s);

	return pl->p && pl->len == n && !__builtin_memcmp(pl->p, s, n) ? 0 : -1;
}

/** Case-insensitive compare with a C string: 0 when equal. */
static inline int hr_pl_strcasecmp(const struct hr_pl *pl, const char *s)
{
	size_t n = __builtin_strlen(s);

	return pl->p && pl->len == n && hr_ci_eq(pl->p, s, n) ? 0 : -1;
}
/** Case-insensitive compare of two slices: 0 when equal. */
int hr_pl_casecmp(const struct hr_pl *a, const struct hr_pl *b);
/** Compare two slices byte for byte: 0 when equal. */
int hr_pl_cmp(const struct hr_pl *a, const struct hr_pl *b);
/** Parse all of pl as a decimal number no larger than max: 0 or EBADMSG. */
int hr_pl_u64(const struct hr_pl *pl, uint64_t max, uint64_t *v);
/** As hr_pl_u64, but a value above max is clamped to max (Expires). */
int hr_pl_u64_clamp(const struct hr_pl *pl, uint64_t max, uint64_t *v);
/** Copy into a new NUL-terminated hr_mem string, or NULL. */
char *hr_pl_strdup(const struct hr_pl *pl);
/** Copy into dst of size n (NUL-terminated, truncated): 0 or ENOSPC. */
int hr_pl_strcpy(const struct hr_pl *pl, char *dst, size_t n);
/** Trim linear white space (SP, HTAB, CR, LF) at both ends. */
static inline void hr_pl_trim(struct hr_pl *pl)
{
	while (pl->len && (pl->p[0] == ' ' || pl->p[0] == '\t' ||
		pl->p[0] == '\r' || pl->p[0] == '\n')) {
		pl->p++;
		pl->len--;
	}
	while (pl->len && (pl->p[pl->len - 1] == ' ' ||
		pl->p[pl->len - 1] == '\t' || pl->p[pl->len - 1] == '\r' ||
		pl->p[pl->len - 1] == '\n'))
		pl->len--;
}
/** First occurrence of c in pl, or NULL. */
const char *hr_pl_chr(const struct hr_pl *pl, char c);

/*
 * Strings packed one after another behind a struct (one allocation for an
 * object and its strings): size the block with hr_strpack_size, then
 * hr_strpack each string in turn. NULL packs as "".
 */
/** Bytes the n strings of v take packed. */
size_t hr_strpack_size(const char *const *v, size_t n);
/** Lowercased (ASCII) copies of n strings in one hr_mem block: the
 * array, then the strings. NULL for ENOMEM. */
char **hr_strv_lower(const char *const *v, unsigned n);
/** Copy s and its NUL to *p, move *p past it; returns the copy. */
const char *hr_strpack(char **p, const char *s);

/* ---- logging ---- */

enum hr_log_level {
	HR_LOG_DEBUG = 0,
	HR_LOG_INFO,
	HR_LOG_WARN,
	HR_LOG_ERROR,
};

/*
 * Levels: a default, and any module (a file's HR_LOG_MODULE) may have a
 * level of its own, set at run time by any thread. hr_log_level is the
 * lowest level any module logs at, so the macros' test stays one load
 * and compare; only when some module has a level of its own does a line
 * that passes it look up its module's (hr_log_module_on).
 */
extern _Atomic enum hr_log_level hr_log_level;
extern _Atomic bool hr_log_overrides;

/** Set the default level from "debug", "info", "warn" or "error": 0 or
 * EINVAL. */
int hr_log_set_level(const char *name);
/** Set the default level. */
void hr_log_set_default(enum hr_log_level lvl);
/** The default level. */
enum hr_log_level hr_log_default(void);
/** The level a name means ("warning" too): 0 or EINVAL. */
int hr_log_level_decode(const char *name, enum hr_log_level *lvl);
/** "debug", "info", "warn" or "error". */
const char *hr_log_level_name(enum hr_log_level lvl);
/** Give module a level of its own (lvl NULL: back to the default): 0,
 * or ENOENT for a module the log does not know. Any thread. */
int hr_log_module_set(const char *module, const enum hr_log_level *lvl);
/** How many modules the log knows. */
unsigned hr_log_modules(void);
/** The i-th module's name (NULL past the last); *has tells whether it
 * has a level of its own, *lvl gets the level it logs at. */
const char *hr_log_module(unsigned i, bool *has, enum hr_log_level *lvl);
/** Does module log at lvl? slot caches the module's place for one call
 * site (static, zeroed). For the macros. */
bool hr_log_module_on(enum hr_log_level lvl, const char *module,
	_Atomic int *slot);

enum hr_log_format {
	HR_LOG_TEXT = 0,   /* time level module message */
	HR_LOG_JSON,       /* one JSON object a line */
};

/** "text" or "json": 0 or EINVAL. */
int hr_log_set_format(const char *name);
/** The inside of a JSON string for msg (RFC 8259: quote, backslash and
 * controls escaped, a byte that is not UTF-8 as U+FFFD), cut at a whole
 * character to fit size; returns the length (no NUL written). */
size_t hr_log_json_escape(char *out, size_t size, const char *msg);
/**
 * Log to path (appended to, created 0640) instead of stderr, or to
 * stderr again when path is NULL. Called again with the same path it
 * reopens the file (after logrotate moved it). The new file replaces the
 * old for every thread at once; on failure the old one stays. 0 or errno.
 */
int hr_log_open(const char *path);
/**
 * Write one log line; use the HR_* macros instead. Control characters in
 * the formatted text are escaped (CR as \\r, LF as \\n, tab as \\t,
 * others as \\xNN): a value from the network cannot forge a line.
 */
void hr_log(enum hr_log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A rate limit of log lines (one call site, or one cause): at most max
 * lines in a window of window_ms; the lines over it are counted and the
 * next line that goes out says "[N like it not logged]". Zeroed is
 * ready; one lock in log.c guards them all, so any thread may use one.
 */
struct hr_log_rl {
	uint64_t start;     /* hr_now_ms() when the window began */
	unsigned n;         /* lines out in the window */
	unsigned quiet;     /* lines left out since the last one out */
};

/** Lines a second each site logs at info and above before the rest are
 * summarized (HR_INFO, HR_WARN, HR_ERROR). */
#define HR_LOG_PER_S 10

/** True when one more line may go out through rl now; *quiet then gets
 * the lines left out before it (and rl forgets them). */
bool hr_log_rl_take(struct hr_log_rl *rl, unsigned max, uint64_t window_ms,
	unsigned *quiet);
/** hr_log() through rl: dropped over the limit, else with the count of
 * those dropped before it. */
void hr_log_rl(struct hr_log_rl *rl, unsigned max, uint64_t window_ms,
	enum hr_log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Does this call site log at lvl? The second test only when some
 * module has a level of its own. Needs a `static _Atomic int
 * hr_log_slot_` in scope (the macros below declare one). */
#define HR_LOG_ON(lvl) ((lvl) >= hr_log_level && (!hr_log_overrides || \
	hr_log_module_on((lvl), HR_LOG_MODULE, &hr_log_slot_)))
/* Each expansion has its own limit: one per call site. */
#define HR_LOG_LIMITED(lvl, max, window_ms, ...) do { \
	static struct hr_log_rl hr_log_rl_; \
	static _Atomic int hr_log_slot_; \
	if (HR_LOG_ON(lvl)) \
		hr_log_rl(&hr_log_rl_, (max), (window_ms), (lvl), \
			HR_LOG_MODULE, __VA_ARGS__); \
} while (0)
#define HR_LOG_AT(lvl, ...) \
	HR_LOG_LIMITED(lvl, HR_LOG_PER_S, 1000, __VA_ARGS__)
/* debug lines are asked for: every one is written */
#define HR_DEBUG(...) do { \
	static _Atomic int hr_log_slot_; \
	if (HR_LOG_ON(HR_LOG_DEBUG)) \
		hr_log(HR_LOG_DEBUG, HR_LOG_MODULE, __VA_ARGS__); \
} while (0)
#define HR_INFO(...)  HR_LOG_AT(HR_LOG_INFO, __VA_ARGS__)
#define HR_WARN(...)  HR_LOG_AT(HR_LOG_WARN, __VA_ARGS__)
#define HR_ERROR(...) HR_LOG_AT(HR_LOG_ERROR, __VA_ARGS__)
/* At most one line every ms from this site: a failure that repeats
 * (a peer that refuses connections, a database that is away). */
#define HR_INFO_EVERY(ms, ...) \
	HR_LOG_LIMITED(HR_LOG_INFO, 1, (ms), __VA_ARGS__)
#define HR_WARN_EVERY(ms, ...) \
	HR_LOG_LIMITED(HR_LOG_WARN, 1, (ms), __VA_ARGS__)

/** strerror that is safe to call from any thread. */
const char *hr_strerror(int err);

/* ---- what this binary is ---- */

struct hr_build_info {
	const char *version;     /* "0.1.0" */
	const char *commit;      /* git describe: "v0.1.0-12-gabc1234-dirty",
				  * or "unknown" */
	const char *compiler;    /* "GNU 12.2.0" */
	const char *build_type;  /* "Release", "Debug" */
};

/** Made at build time (build.c). */
const struct hr_build_info *hr_build_info(void);

/* ---- one clock, which tests can move forward ---- */

/** Milliseconds on the monotonic clock, plus any test advance. */
uint64_t hr_now_ms(void);
/** Move the clock forward (tests only). */
void hr_clock_advance(uint64_t ms);
/** Stop the real clock: time then moves only by hr_clock_advance(). */
void hr_clock_freeze(void);
/** Seconds since the epoch, for wall-clock values (Date, timestamps). */
int64_t hr_wall_s(void);
/** A condition variable whose timed waits are on CLOCK_MONOTONIC (a
 * thread's naps, which the wall clock must not stretch): 0 or an errno. */
int hr_cond_init(pthread_cond_t *cond);
/** The CLOCK_MONOTONIC time ms from now (the real clock: a deadline for
 * pthread_cond_timedwait on a condition of hr_cond_init). */
void hr_mono_deadline(struct timespec *ts, uint64_t ms);

/* ---- timers: a min-heap on hr_now_ms(), driven by the loop ---- */

typedef void (hr_tmr_h)(void *arg);

/* Embedded in its owner (libre struct tmr); the owner's destructor calls
 * hr_tmr_cancel(). */
struct hr_tmr {
	uint64_t due;
	size_t idx; /* heap position + 1; 0 when not running */
	hr_tmr_h *h;
	void *arg;
};

/** Start (or restart) tmr to fire after delay_ms. */
void hr_tmr_start(struct hr_tmr *tmr, uint64_t delay_ms, hr_tmr_h *h,
	void *arg);
/** Stop tmr if it is running; safe on a stopped or zeroed timer. */
void hr_tmr_cancel(struct hr_tmr *tmr);
/** True when tmr is running. */
static inline bool hr_tmr_isrunning(const struct hr_tmr *tmr)
{
	return tmr->idx != 0;
}
/** Milliseconds until tmr fires (0 when due or stopped). */
uint64_t hr_tmr_left(const struct hr_tmr *tmr);
/** Fire every due timer; returns how many fired. */
unsigned hr_tmr_poll(void);
/** Number of running timers. */
size_t hr_tmr_count(void);

/* ---- growable byte buffer with a cap ---- */

struct hr_buf {
	char *b;
	size_t len;
	size_t size;
	size_t cap;
};

/** Set up an empty buffer that may grow to cap bytes. */
void hr_buf_init(struct hr_buf *buf, size_t cap);
/** Free the storage; the buffer is empty afterwards. */
void hr_buf_reset(struct hr_buf *buf);
/** Make room for n more bytes: 0, ENOMEM or EMSGSIZE (cap reached). */
int hr_buf_reserve(struct hr_buf *buf, size_t n);
/** Append bytes: 0, ENOMEM or EMSGSIZE. */
int hr_buf_write(struct hr_buf *buf, const void *p, size_t n);
/** Append a C string. */
int hr_buf_puts(struct hr_buf *buf, const char *s);
/** hr_buf_puts of n strings in turn, none NULL. */
int hr_buf_putsv(struct hr_buf *buf, const char *const *s, size_t n);
/* HR_BUF_PUTS(buf, "a", b, "c"): the strings' concatenation, without
 * hr_buf_printf's vfprintf on hot paths */
#define HR_BUF_PUTS(buf, ...) hr_buf_putsv((buf), \
	(const char *const[]){ __VA_ARGS__ }, \
	sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
/** Append a slice. */
int hr_buf_putpl(struct hr_buf *buf, const struct hr_pl *pl);
/** Append formatted text. */
int hr_buf_printf(struct hr_buf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Append a decimal number. */
int hr_buf_putu(struct hr_buf *buf, uint64_t v);

/* ---- watch points: the handlers a layer tells of its changes ---- */

/* A handler of any type, stored as this and cast back to its own type
 * to be called (C11 6.3.2.3p8). */
typedef void (hr_watch_fn)(void);

struct hr_watch {
	hr_watch_fn *h;
	void *arg;
};

/** Put (h, arg) in a free one of v's n slots: 0 or ENOSPC. */
int hr_watch_add(struct hr_watch *v, unsigned n, hr_watch_fn *h, void *arg);
/** Free the slots of v holding (h, arg). */
void hr_watch_del(struct hr_watch *v, unsigned n, hr_watch_fn *h, void *arg);

/* ---- random ---- */

/** Fill p with n cryptographically random bytes. */
void hr_rand_bytes(void *p, size_t n);
/** Write n random characters [0-9a-z] and a NUL into out (size n + 1). */
void hr_rand_token(char *out, size_t n);
/** A random 64-bit number. */
uint64_t hr_rand_u64(void);

/* ---- intrusive doubly-linked list ---- */

struct hr_hbucket;

struct hr_le {
	struct hr_le *prev, *next;
	union {
		struct hr_list *list;        /* the list holding it, */
		struct hr_hbucket *bucket;   /* ...or its hash bucket */
	};
	void *data;
};

struct hr_list {
	struct hr_le *head, *tail;
	size_t n;
};

/** Append le (holding data) to list. */
void hr_list_append(struct hr_list *list, struct hr_le *le, void *data);
/** Unlink le from whichever list holds it; safe when unlinked. */
void hr_list_unlink(struct hr_le *le);
/** Insert le (holding data) after after; after NULL: at the head. */
void hr_list_insert_after(struct hr_list *list, struct hr_le *after,
	struct hr_le *le, void *data);

/* ---- intrusive hash table (chained, power-of-two buckets) ---- */

/*
 * A bucket is one pointer, not a list (issue 20: the 65,536 buckets of
 * the transaction and AOR tables were 1.5 MB each as lists, touched by
 * the first 10,000 entries). Its entries are linked by next, in the
 * order they were appended, and the head's prev is the tail; an entry's
 * bucket says it is linked. Unlink one with hr_hash_unlink, never
 * hr_list_unlink.
 */
struct hr_hbucket {
	struct hr_le *head;
};

/* An entry's key, from the data it holds (a table that grows). */
typedef uint32_t (hr_hash_key_h)(const void *data);

struct hr_hash {
	struct hr_hbucket *bucket;
	uint32_t mask;
	uint32_t max_mask;            /* it grows up to this (keyh set) */
	hr_hash_key_h *keyh;
	size_t n;
};

/** Set up a table with at least nbuckets buckets: 0 or ENOMEM. */
int hr_hash_init(struct hr_hash *h, uint32_t nbuckets);
/** The same for a table that starts small and doubles as entries come,
 * up to nbuckets (keyh gives an entry's key again): 0 or ENOMEM. An
 * append may move every entry: not while the table is walked. */
int hr_hash_init_grow(struct hr_hash *h, uint32_t nbuckets,
	hr_hash_key_h *keyh);
/** Halve a growing table down to what its entries need (call it when
 * nothing walks it, every few seconds: its buckets stay in RSS). */
void hr_hash_trim(struct hr_hash *h);
/** Free the buckets (entries must be unlinked by their owners). */
void hr_hash_reset(struct hr_hash *h);
/** Insert le holding data under key. */
void hr_hash_append(struct hr_hash *h, uint32_t key, struct hr_le *le,
	void *data);
/** The first of the entries that may have this key (then follow next). */
struct hr_le *hr_hash_first(const struct hr_hash *h, uint32_t key);
/** The entry whose string, a char array at offset off in the entry (its
 * flexible name), is name; hashed with hr_hash_bytes(name, strlen(name))
 * when appended. NULL when none. */
void *hr_hash_find_str(const struct hr_hash *h, const char *name,
	size_t off);
/** Unlink an entry and keep the count right. */
void hr_hash_unlink(struct hr_hash *h, struct hr_le *le);
/** FNV-1a hash of bytes. */
uint32_t hr_hash_bytes(const void *p, size_t n);
/** FNV-1a, 64 bits, never 0 (0 can mean "none"): a document's
 * fingerprint, so that a watcher is not sent the same one twice. */
uint64_t hr_hash64(const void *p, size_t n);
/** FNV-1a hash of a slice, lowercased. */
uint32_t hr_hash_pl_ci(const struct hr_pl *pl);

/* ---- the core event loop (one libevent base, owned by the SIP thread) ---- */

struct event_base;

/** Create the loop: 0 or ENOMEM. */
int hr_loop_init(void);
/** Free the loop. */
void hr_loop_close(void);
/** The loop's libevent base. */
struct event_base *hr_loop_base(void);
/** Run until hr_loop_stop(): 0 or an errno. */
int hr_loop_run(void);
/** Make hr_loop_run() return after the current callback. */
void hr_loop_stop(void);
/** Run one non-blocking pass of the loop (tests). */
void hr_loop_once(void);

/* ---- socket addresses ---- */

struct hr_sa {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

/** Parse "1.2.3.4", "::1" or "[::1]" plus a port: 0 or EINVAL. */
int hr_sa_set(struct hr_sa *sa, const char *host, uint16_t port);
/** Parse "host:port" / "[v6]:port" (port required): 0 or EINVAL. */
int hr_sa_decode(struct hr_sa *sa, const char *str);
/** Port in host byte order. */
uint16_t hr_sa_port(const struct hr_sa *sa);
/** Set the port. */
void hr_sa_set_port(struct hr_sa *sa, uint16_t port);
/** Address without port into buf ("::1", "1.2.3.4"). */
const char *hr_sa_ntop(const struct hr_sa *sa, char *buf, size_t size);
/** "1.2.3.4:5060" or "[::1]:5060" into buf. */
const char *hr_sa_print(const struct hr_sa *sa, char *buf, size_t size);
/** True when address and port are equal. */
bool hr_sa_eq(const struct hr_sa *a, const struct hr_sa *b);
/** True for the wildcard address (0.0.0.0, ::) or an unset one. */
bool hr_sa_isany(const struct hr_sa *sa);

#define HR_SA_STRLEN 64

/** An address block: "192.0.2.0/24", "2001:db8::/32", or one address. */
struct hr_net {
	struct hr_sa addr;
	unsigned prefix;          /* bits */
};

/** Parse an address or ADDRESS/PREFIX: 0 or EINVAL. */
int hr_net_decode(struct hr_net *net, const char *str);
/** Is sa's address in net (an IPv4-mapped IPv6 address as IPv4)? */
bool hr_net_has(const struct hr_net *net, const struct hr_sa *sa);

/* ---- command-line options, each with an environment variable ---- */

enum hr_opt_type {
	HR_OPT_STR,      /* const char * */
	HR_OPT_LIST,     /* struct hr_strlist, repeatable */
	HR_OPT_UINT,     /* unsigned, within [min, max] */
	HR_OPT_FLAG,     /* bool */
};

#define HR_STRLIST_MAX 16

struct hr_strlist {
	const char *v[HR_STRLIST_MAX];
	unsigned n;
};

struct hr_opt {
	const char *name;      /* "sip-listen": --sip-listen, HERALD_SIP_LISTEN */
	enum hr_opt_type type;
	void *dst;
	const char *metavar;
	const char *help;
	unsigned min, max;     /* HR_OPT_UINT */
};

/**
 * Apply environment variables, then argv[0..argc) over them. A list given
 * on the command line replaces the environment's. Errors are printed to
 * stderr; returns 0, EINVAL, or EAGAIN when --help was asked for.
 */
int hr_opt_parse(const struct hr_opt *opts, size_t n, int argc,
	char *const *argv);
/** hr_opt_parse, and given[i] (n of them) set for each option the
 * environment or the command line gave. */
int hr_opt_parse_given(const struct hr_opt *opts, size_t n, int argc,
	char *const *argv, bool *given);
/** Print the options, their variables and help to f. */
void hr_opt_usage(const struct hr_opt *opts, size_t n, void *f);
/** The option called name, or NULL. */
const struct hr_opt *hr_opt_find(const struct hr_opt *opts, size_t n,
	const char *name);

/* ---- a config file: "name = value" lines, names of the options ---- */

#define HR_CONF_MAX 256

struct hr_conf_item {
	const char *name;
	const char *value;
	unsigned line;
};

struct hr_conf {                /* hr_mem; strings point into text */
	char *text;
	struct hr_conf_item v[HR_CONF_MAX];
	unsigned n;
};

/**
 * Split one line in place. Blank lines and lines starting with '#' give
 * *name NULL; "name = value" gives both, trimmed (value may be empty, or
 * in double quotes to keep spaces). 0 or EBADMSG (no '=', no name).
 */
int hr_conf_line(char *line, char **name, char **value);
/** Read and split the file at path: 0 or an errno, why says what. */
int hr_conf_read(struct hr_conf **confp, const char *path, char *why,
	size_t size);
/** Split text (copied) as a file's contents: 0 or EBADMSG with why. */
int hr_conf_parse(struct hr_conf **confp, const char *text, char *why,
	size_t size);
/** The last value given to name, or NULL. */
const char *hr_conf_get(const struct hr_conf *conf, const char *name);
/** True when a and b (either may be NULL) give name the same values. */
bool hr_conf_same(const struct hr_conf *a, const struct hr_conf *b,
	const char *name);
/**
 * Check conf against opts without applying it: known names, values
 * their options take, once each but for lists; "config" is refused.
 * 0 or EINVAL with why ("line 3: ...").
 */
int hr_opt_conf_check(const struct hr_opt *opts, size_t n,
	const struct hr_conf *conf, char *why, size_t size);
/** Check, then apply conf to the options not given (given may be NULL);
 * list values are split at commas and spaces, like the environment's. */
int hr_opt_conf_apply(const struct hr_opt *opts, size_t n,
	const struct hr_conf *conf, const bool *given, char *why,
	size_t size);

/* ---- calls into the core thread from others (the admin API) ---- */

typedef void (hr_call_h)(void *arg);

/** Accept calls (after hr_loop_init): 0 or ENOMEM. */
int hr_call_open(void);
/**
 * From another thread: run fn(arg) on the core thread and wait until it
 * has returned. 0, or ECANCELED when calls are closed (fn did not run).
 * Never from the core thread itself.
 */
int hr_call(hr_call_h *fn, void *arg);
/** Refuse new calls and fail those not yet run (shutting down: the loop
 * will not run them); a call running now completes. */
void hr_call_close(void);
/** Close and free (core thread, before hr_loop_close). */
void hr_call_free(void);

/* ---- DNS ---- */

/* Host names to addresses on the core loop (libevent evdns: A, AAAA). */

struct hr_dns_query;

/**
 * A lookup's outcome, on the core thread: 0 and addr (port set), ENOENT (no
 * such name), ETIMEDOUT (no usable answer: a timeout, a server failure, or a
 * name without A/AAAA records, which evdns does not tell apart) or another
 * errno. addr is NULL on error and valid only during the call.
 */
typedef void (hr_dns_h)(int err, const struct hr_sa *addr, void *arg);

/**
 * Resolve host ("1.2.3.4", "::1", "[::1]" or a name) to one address with
 * port: the first IPv4 address, else the first IPv6 one. Returns 0 with
 * *addr set when answered at once (an IP literal, an /etc/hosts entry), an
 * errno when it failed at once, h not called in either case and *qp NULL; or
 * EINPROGRESS, *qp set (qp may be NULL) and h called exactly once later,
 * unless cancelled. The query is freed when h returns: forget *qp in h.
 */
int hr_dns_resolve(const char *host, uint16_t port, struct hr_sa *addr,
	hr_dns_h *h, void *arg, struct hr_dns_query **qp);
/* how long hr_dns_lookup() keeps a name's address */
#define HR_DNS_TTL_MS (60 * 1000)
/**
 * hr_dns_resolve() through a small cache keyed by host: a name resolved in
 * the last HR_DNS_TTL_MS is answered at once (0) with the address found
 * then. Failures are not kept. hr_dns_close() empties the cache.
 */
int hr_dns_lookup(const char *host, uint16_t port, struct hr_sa *addr,
	hr_dns_h *h, void *arg, struct hr_dns_query **qp);
/** Cancel a lookup whose h has not run: h will not be called. NULL-safe. */
void hr_dns_cancel(struct hr_dns_query *q);
/**
 * Free the resolver, cancelling lookups in flight silently. Call at shutdown,
 * before hr_loop_close() and outside the loop's callbacks (from one it logs
 * and leaves the resolver open): it runs the loop without blocking so that
 * libevent can hand back what it holds. Safe when nothing was resolved.
 */
void hr_dns_close(void);

#endif
