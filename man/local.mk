# man: hand-written roff (man(7) macros).
dist_man_MANS += man/orionstor.1 man/liborionstor.3 man/orionstor.conf.5

# "make check" lints every page with mandoc; any warning fails the test.
if HAVE_MANDOC
TESTS += tests/man/check-manpages.sh
endif
EXTRA_DIST += tests/man/check-manpages.sh
