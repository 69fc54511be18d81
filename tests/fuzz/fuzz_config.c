/*
 * The orionstor.conf parser (ostori_config_load_file, every table of
 * this build).  The input is the file: it goes to a memfd read through
 * /proc/self/fd, so nothing is written to disk.  Each key is then read
 * back with ostori_config_get_text into buffers that are too small too.
 */
#define _GNU_SOURCE
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/backend.h"

static int memfd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ostor_config *cfg;
	struct ostori_config_keyinfo info;
	char text[64];
	int r;

	if (memfd < 0) {
		memfd = memfd_create("fuzz_config", 0);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return 0;
	r = ostori_config_load_file(cfg, path, NULL);
	SINK(r);
	if (r < 0) {
		sink_str(ostor_last_error(), 65536);
		free(cfg);
		return 0;
	}
	SINK(cfg->warnings);
	SINK_STR(cfg->path);
	for (size_t i = 0; ostori_config_key_info(i, &info) == 0; i++) {
		size_t sizes[] = { 1, 2, 8, sizeof(text) };

		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			char *b = malloc(sizes[j]);

			if (!b)
				break;
			r = ostori_config_get_text(cfg, info.table, info.key, b, sizes[j]);
			SINK(r);
			sink_str(b, sizes[j]);
			free(b);
		}
	}
	for (size_t i = 0; ostori_config_tables[i]; i++)
		sink_bytes(ostori_config_data(cfg, ostori_config_tables[i]),
			   ostori_config_tables[i]->size);
	free(cfg);
	return 0;
}
