/*
 * tests/tools/exit-map.c - print the exit code tools/common gives an
 * outcome, for the outcomes no simulated device can produce
 * (test-exit-codes.sh):
 *   exit-map error N               tc_exit_from_error(N)
 *   exit-map open-error N          tc_exit_from_open_error(N)
 *   exit-map result R STATUS [HEX] tc_exit_from_result (sense in hex)
 */
#include "toolcommon.h"

#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	uint8_t sense[252];
	int n = 0;

	if (argc == 3 && !strcmp(argv[1], "error"))
		return printf("%d\n", tc_exit_from_error(atoi(argv[2]))) < 0;
	if (argc == 3 && !strcmp(argv[1], "open-error"))
		return printf("%d\n", tc_exit_from_open_error(atoi(argv[2]))) < 0;
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "result")) {
		char why[128];

		if (argc == 5 && (n = tc_parse_hex_bytes(argv[4], sense, sizeof(sense), why, sizeof(why))) < 0) {
			fprintf(stderr, "exit-map: %s\n", why);
			return 2;
		}
		return printf("%d\n", tc_exit_from_result(atoi(argv[2]), (int)strtol(argv[3], NULL, 0),
							   n ? sense : NULL, (size_t)n)) < 0;
	}
	fprintf(stderr, "usage: exit-map error N | open-error N | result R STATUS [SENSE]\n");
	return 2;
}
