/* Random bytes from the kernel, read in blocks to keep syscalls rare. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "core.h"

static __thread unsigned char pool[4096];
static __thread size_t pool_left;

static void refill(void)
{
	size_t got = 0;

	while (got < sizeof(pool)) {
		ssize_t n = getrandom(pool + got, sizeof(pool) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort(); /* no randomness: tags and nonces would repeat */
		}
		got += (size_t)n;
	}
	pool_left = sizeof(pool);
}

void hr_rand_bytes(void *p, size_t n)
{
	unsigned char *out = p;

	while (n) {
		size_t k;

		if (!pool_left)
			refill();
		k = n < pool_left ? n : pool_left;
		memcpy(out, pool + sizeof(pool) - pool_left, k);
		/* Used bytes are wiped so they cannot leak out later. */
		memset(pool + sizeof(pool) - pool_left, 0, k);
		pool_left -= k;
		out += k;
		n -= k;
	}
}

void hr_rand_token(char *out, size_t n)
{
	static const char alpha[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	unsigned char r[64];

	while (n) {
		size_t k = n < sizeof(r) ? n : sizeof(r);

		hr_rand_bytes(r, k);
		for (size_t i = 0; i < k; i++)
			*out++ = alpha[r[i] % 36]; /* tiny bias; not a secret */
		n -= k;
	}
	*out = '\0';
}

uint64_t hr_rand_u64(void)
{
	uint64_t v;

	hr_rand_bytes(&v, sizeof(v));
	return v;
}
