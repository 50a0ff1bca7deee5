/*
 * Run a fuzz target over a corpus without libFuzzer (gcc builds): every
 * file in the directories (or the files) given as arguments goes through
 * LLVMFuzzerTestOneInput once. A broken invariant aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *p;
	FILE *f;
	size_t n;

	f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) || st.st_size < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return errno ? errno : EIO;
	}
	n = (size_t)st.st_size;
	/* exactly n bytes, so that ASan sees a read past the end */
	p = malloc(n);
	if ((!p && n) || fread(p, 1, n, f) != n) {
		fprintf(stderr, "%s: read failed\n", path);
		free(p);
		fclose(f);
		return EIO;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(p, n);
	free(p);
	return 0;
}

static int skip_name(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

static int run_dir(const char *dir, unsigned *count)
{
	struct dirent **ents;
	char path[4096];
	struct stat st;
	int i, n, err = 0;

	n = scandir(dir, &ents, skip_name, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return errno;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (!err && !stat(path, &st) && S_ISREG(st.st_mode)) {
			err = run_file(path);
			++*count;
		}
		free(ents[i]);
	}
	free(ents);
	return err;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	struct stat st;
	int i, err = 0;

	for (i = 1; i < argc && !err; i++) {
		if (stat(argv[i], &st)) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			err = errno;
		} else if (S_ISDIR(st.st_mode)) {
			err = run_dir(argv[i], &count);
		} else {
			err = run_file(argv[i]);
			count++;
		}
	}
	if (!err && count == 0) {
		fprintf(stderr, "usage: %s DIR|FILE...: no inputs\n", argv[0]);
		return EXIT_FAILURE;
	}
	printf("%s: %u inputs\n", argv[0], count);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
