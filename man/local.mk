# man: hand-written mdoc(7), one date on every page.
dist_man_MANS += man/orionstor.1 man/liborionstor.3 man/orionstor.conf.5 \
	man/orionstor-json.7 man/orionstor-sim.7

# "make check" lints every page with mandoc; any warning fails the test.
# check-options.sh: each tool page lists exactly the options of its
# --help, has the standard sections, and every page has the same date.
if HAVE_MANDOC
TESTS += tests/man/check-manpages.sh tests/man/check-options.sh
endif
EXTRA_DIST += tests/man/check-manpages.sh tests/man/check-options.sh
