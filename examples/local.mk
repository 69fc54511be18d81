# examples: small programs using only the public API.  They are built and
# run by "make check", so the documented usage is proven to work.
EXAMPLES_CPPFLAGS = -I$(top_srcdir)/include

check_PROGRAMS += examples/sim_readwrite examples/async_events
TESTS += examples/sim_readwrite examples/async_events

examples_sim_readwrite_SOURCES = examples/sim_readwrite.c
examples_sim_readwrite_CPPFLAGS = $(EXAMPLES_CPPFLAGS)
examples_sim_readwrite_LDADD = lib/liborionstor.la

examples_async_events_SOURCES = examples/async_events.c
examples_async_events_CPPFLAGS = $(EXAMPLES_CPPFLAGS)
examples_async_events_LDADD = lib/liborionstor.la
