# tests/faults: the fault matrix of issue 14, counted (make fault-matrix),
# and the randomized fault campaign (make check-chaos).
EXTRA_DIST += tests/faults/fault-matrix.sh

# Runs the fault_matrix test cases of the unit tests; prints
# "fault matrix: N/38".
fault-matrix: $(check_PROGRAMS)
	$(AM_V_at)sh $(srcdir)/tests/faults/fault-matrix.sh $(top_builddir)
.PHONY: fault-matrix

# The campaign: a short run in make check (under each sanitizer in
# scripts/test-all.sh), CHAOS_SECONDS in make check-chaos (default 60).
check_PROGRAMS += tests/faults/chaos
TESTS += tests/faults/chaos
tests_faults_chaos_SOURCES = tests/faults/chaos.c
tests_faults_chaos_LDADD = lib/libostor_private.la -lpthread
CHAOS_SECONDS = 60
# Empty: every simulated transport (sim virtio usb-bot usb-cbi usb-cb).
CHAOS_TRANSPORTS =
check-chaos: tests/faults/chaos$(EXEEXT)
	$(AM_V_at)ORIONSTOR_CONF=/dev/null CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_TRANSPORTS="$(CHAOS_TRANSPORTS)" \
		TSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/tsan.supp halt_on_error=1 exitcode=66 $${TSAN_OPTIONS:-}" \
		tests/faults/chaos$(EXEEXT)
.PHONY: check-chaos
