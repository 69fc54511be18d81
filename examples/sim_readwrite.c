/*
 * examples/sim_readwrite.c - the synchronous block API in thirty lines.
 *
 * Opens a simulated disk (or the spec given as the first argument), writes
 * a few blocks, flushes, reads them back and compares.
 *
 * Build against an installed library:
 *   cc sim_readwrite.c $(pkg-config --cflags --libs liborionstor)
 *
 * Exit status 0 when the data came back identical, 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orionstor.h>

#define LBA 10
#define COUNT 8

static int fail(const char *what, int err)
{
	fprintf(stderr, "sim_readwrite: %s: %s (%s)\n", what, ostor_last_error(),
		ostor_error_name(err));
	return 1;
}

int main(int argc, char **argv)
{
	const char *spec = argc > 1 ? argv[1] : "sim:size=1M";
	struct ostor_lun_info info = OSTOR_LUN_INFO_INIT;
	ostor_context *ctx;
	ostor_device *dev;
	uint8_t *out = NULL, *in = NULL;
	size_t len;
	int err, rc = 1;

	err = ostor_init(&ctx, NULL);
	if (err < 0)
		return fail("ostor_init", err);
	err = ostor_open(ctx, spec, &dev);
	if (err < 0) {
		fail(spec, err);
		ostor_exit(ctx);
		return 1;
	}

	err = ostor_lun_info(dev, 0, 0, &info);
	if (err < 0) {
		fail("ostor_lun_info", err);
		goto out;
	}
	printf("%s: %s %s, %" PRIu64 " blocks of %" PRIu32 " bytes\n", spec,
	       info.vendor, info.product, info.blocks, info.block_size);
	if (info.block_size == 0 || info.blocks < LBA + COUNT) {
		fprintf(stderr, "sim_readwrite: %s is too small for this example\n", spec);
		goto out;
	}

	len = (size_t)COUNT * info.block_size;
	out = malloc(len);
	in = malloc(len);
	if (!out || !in) {
		fprintf(stderr, "sim_readwrite: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(i * 7 + i / info.block_size);
	memset(in, 0xee, len);

	/* write_blocks returns 0 only once the device accepted every block;
	 * the flush asks it to commit them to the medium. */
	err = ostor_write_blocks(dev, 0, 0, LBA, COUNT, out);
	if (err < 0) {
		fail("ostor_write_blocks", err);
		goto out;
	}
	err = ostor_flush(dev, 0, 0);
	if (err < 0) {
		fail("ostor_flush", err);
		goto out;
	}
	err = ostor_read_blocks(dev, 0, 0, LBA, COUNT, in);
	if (err < 0) {
		fail("ostor_read_blocks", err);
		goto out;
	}
	if (memcmp(in, out, len) != 0) {
		fprintf(stderr, "sim_readwrite: data read back differs from data written\n");
		goto out;
	}

	/* Reading past the end is refused, not truncated. */
	err = ostor_read_blocks(dev, 0, 0, info.blocks, 1, in);
	if (err != OSTOR_ERROR_OUT_OF_RANGE) {
		fprintf(stderr, "sim_readwrite: reading past the end gave %s, expected "
			"OSTOR_ERROR_OUT_OF_RANGE\n", ostor_error_name(err));
		goto out;
	}
	printf("wrote, flushed and read back %d blocks at LBA %d: identical\n",
	       COUNT, LBA);
	rc = 0;
out:
	free(out);
	free(in);
	err = ostor_close(dev);
	if (err < 0 && rc == 0)
		rc = fail("ostor_close", err);
	ostor_exit(ctx);
	return rc;
}
