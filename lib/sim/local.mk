# lib/sim: the simulated SCSI target and the "sim:" backend.
# The SCSI target emulation (transport models sit in front of it): the
# target, its LUs and the dispatch (target.c), the SPC and SBC commands,
# the medium (store.c); the health and power models: the ATA disk behind
# a SAT or JMicron bridge (ata.c), LOG SENSE and self-tests (logpages.c),
# power conditions (power.c).
lib_libostor_private_la_SOURCES += lib/sim/target.c lib/sim/spc.c lib/sim/sbc.c \
	lib/sim/store.c lib/sim/ata.c lib/sim/logpages.c lib/sim/power.c
noinst_HEADERS += lib/sim/target.h lib/sim/target_priv.h lib/sim/target_fast.h
# sim backend glue (owned by the core): the "sim:" device spec and the
# transport device models behind sim:transport=.
lib_libostor_private_la_SOURCES += lib/sim/backend.c
noinst_HEADERS += lib/sim/backend.h lib/sim/transport.h

# Conformance tests of the target (white-box, private library).
check_PROGRAMS += tests/unit/test_sim_target
TESTS += tests/unit/test_sim_target
tests_unit_test_sim_target_SOURCES = tests/unit/test_sim_target.c
tests_unit_test_sim_target_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_sim_target_LDADD = lib/libostor_private.la $(CHECK_LIBS)
