# tests/faults: the fault matrix of issue 14, counted (make fault-matrix),
# and the randomized fault campaign (make check-chaos).
EXTRA_DIST += tests/faults/fault-matrix.sh

# Runs the fault_matrix test cases of the unit tests; prints
# "fault matrix: N/38".
fault-matrix: $(check_PROGRAMS)
	$(AM_V_at)sh $(srcdir)/tests/faults/fault-matrix.sh $(top_builddir)
.PHONY: fault-matrix
