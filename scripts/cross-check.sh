#!/bin/sh
# Other CPUs (issue 14): a big-endian s390x build whose unit tests run
# under qemu-user, and an arm64 (aarch64) build of everything.  Installs
# nothing: `sh scripts/install-deps.sh --cross` brings Debian's cross
# compilers, qemu-user-static and the s390x and arm64 libraries
# (multiarch).  Run it after autoreconf -fi.
#
# Prints automake's PASS/FAIL lines of the s390x tests and one line per
# build, and writes _build/cross/test-suite.log with the totals
# ("# PASS: N" ...) for scripts/test-all.sh.  Exits non-zero on any
# failure.  JOBS (default: nproc) sets make -j, CROSS_CFLAGS (default:
# configure's -g -O2) the compiler flags of both builds.
#
# No binfmt_misc is needed: each test program is started by qemu-user
# explicitly (automake's LOG_COMPILER), and the target's shared
# libraries come from the multiarch directories (/usr/lib/s390x-linux-gnu)
# as the target's ld.so finds them; qemu's -L /usr/s390x-linux-gnu would
# mix in the cross toolchain's own libc and crash.
set -e
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=${JOBS:-$(nproc)}
out=$top/_build/cross
rm -rf "$out"; mkdir -p "$out"
passed=0
failed=0
t0=$(date +%s)

fail() { echo "FAIL: $1"; failed=$((failed + 1)); }

# The s390x unit tests under qemu-user are run with:
# - CK_TIMEOUT_MULTIPLIER=10: emulation is some 10-50x slower than the host;
# - ORIONSTOR_TEST_ITERATIONS=10: fewer rounds of the long loops of test_core;
# - ORIONSTOR_TEST_SEQUENCES=200: fewer random sequences of test_bcache's
#   model test (byte order is what this run is for);
# - CK_EXCLUDE_TAGS=reexec: the Check cases that run the test program
#   again through /proc/self/exe (test_bcache's killed_before_flush): the
#   kernel cannot start an s390x program without binfmt_misc.
#
# EXCLUDE: test programs left out of the s390x run, each with its reason.
# Everything else that `make check` runs and is not a shell script runs.
# The shell scripts (tool tests, man page and layering checks, the ABI
# symbol list) are left out: they drive host tools, are about text, not
# the CPU, or read the built library with host tools.
EXCLUDE=""

qemu=$(command -v qemu-s390x-static || command -v qemu-s390x || true)
for tool in s390x-linux-gnu-gcc s390x-linux-gnu-g++ aarch64-linux-gnu-gcc aarch64-linux-gnu-g++; do
	command -v "$tool" >/dev/null || { fail "cross-check: $tool missing (sh scripts/install-deps.sh --cross)"; }
done
[ -n "$qemu" ] || fail "cross-check: qemu-s390x missing (sh scripts/install-deps.sh --cross)"

xconfigure() { # dir, triplet, configure flags...
	dir=$1; triplet=$2; shift 2
	rm -rf "$dir"; mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --host="$triplet" --enable-werror ${CROSS_CFLAGS:+CFLAGS="$CROSS_CFLAGS"} \
		PKG_CONFIG=pkg-config PKG_CONFIG_LIBDIR="/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig" \
		"$@" >configure.out 2>&1)
}

echo "=== s390x (big-endian): build, unit tests under $(basename "${qemu:-qemu-s390x}")"
s390x=$top/_build/s390x
# Static only: the test programs are ELF files qemu starts, not libtool
# wrapper scripts.
if [ "$failed" -eq 0 ] && xconfigure "$s390x" s390x-linux-gnu --disable-shared --without-nbdkit &&
	(cd "$s390x" && make -s -j"$jobs" >build.out 2>&1 && make -s -j"$jobs" check TESTS= >build-check.out 2>&1); then
	echo "PASS: s390x build"; passed=$((passed + 1))
	# Each test through a link named like it, so that the program name
	# the kernel records (/proc/self/comm, which the control socket
	# reports as "program") is the test's, not qemu's.
	mkdir -p "$s390x/qemu-as"
	cat >"$s390x/qemu-run" <<EOF
#!/bin/sh
l="$s390x/qemu-as/\$(basename "\$1")"
[ -e "\$l" ] || ln -sf "$qemu" "\$l"
exec "\$l" "\$@"
EOF
	chmod +x "$s390x/qemu-run"
	# shellcheck disable=SC2016
	printf 'cross-tests:\n\t@echo $(TESTS)\n' >"$s390x/tests.mk"
	tests=""
	for t in $(cd "$s390x" && make -s -f Makefile -f tests.mk cross-tests); do
		case "$t" in *.sh) continue ;; esac
		case " $EXCLUDE " in *" $t "*) continue ;; esac
		tests="$tests $t"
	done
	(cd "$s390x" && ORIONSTOR_CONF=/dev/null CK_TIMEOUT_MULTIPLIER=10 ORIONSTOR_TEST_ITERATIONS=10 \
		ORIONSTOR_TEST_SEQUENCES=200 CK_EXCLUDE_TAGS=reexec make -s -j"$jobs" check TESTS="$tests" LOG_COMPILER="$s390x/qemu-run" \
		>check.out 2>&1) || true
	grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$s390x/check.out" || true
	if [ -f "$s390x/test-suite.log" ]; then
		p=$(sed -n 's/^# PASS: *//p' "$s390x/test-suite.log" | head -1)
		f=$(sed -n 's/^# FAIL: *//p' "$s390x/test-suite.log" | head -1)
		e=$(sed -n 's/^# ERROR: *//p' "$s390x/test-suite.log" | head -1)
		passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
		# automake's log holds the logs of the tests that failed.
		[ $((${f:-0} + ${e:-0})) -eq 0 ] || cat "$s390x/test-suite.log"
	else
		tail -30 "$s390x/check.out"; fail "s390x unit tests (no test-suite.log)"
	fi
else
	tail -30 "$s390x/configure.out" "$s390x/build.out" "$s390x/build-check.out" 2>/dev/null || true
	fail "s390x build"
fi
t1=$(date +%s)

echo "=== arm64 (aarch64): build of everything, tests built, not run"
arm64=$top/_build/arm64
# Shared only (each file compiled once, as PIC); s390x built the static,
# non-PIC objects.
if command -v aarch64-linux-gnu-gcc >/dev/null && xconfigure "$arm64" aarch64-linux-gnu --disable-static &&
	(cd "$arm64" && make -s -j"$jobs" >build.out 2>&1 && make -s -j"$jobs" check TESTS= >build-check.out 2>&1); then
	echo "PASS: arm64 build"; passed=$((passed + 1))
else
	tail -30 "$arm64/configure.out" "$arm64/build.out" "$arm64/build-check.out" 2>/dev/null || true
	fail "arm64 build"
fi
t2=$(date +%s)

echo "cross-check: s390x $((t1 - t0)) s, arm64 $((t2 - t1)) s"
printf '# TOTAL: %d\n# PASS:  %d\n# FAIL:  %d\n# ERROR: 0\n' $((passed + failed)) "$passed" "$failed" \
	>"$out/test-suite.log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
