#!/bin/sh
# make fuzz: run each libFuzzer target for $FUZZ_SECONDS (default 20) on a
# scratch copy of its seed corpus (the source tree is never written).
# FUZZ_JOBS (default 1) targets run side by side.
# Usage: run-fuzz.sh SRCDIR BUILDDIR TARGET...
# Prints "PASS: fuzz_x (N execs)" or "FAIL: fuzz_x (...)" per target and
# exits 1 if any target failed (a crash, a sanitizer report, a leak, a
# timeout).  Crashing inputs are kept in BUILDDIR/work/TARGET/.
src=$1; build=$2; shift 2
seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-1}
failed=0

max_len() {
	case $1 in
	fuzz_sense|fuzz_inquiry|fuzz_cdb_check) echo 300 ;;
	fuzz_read_capacity) echo 64 ;;
	fuzz_vpd|fuzz_ata) echo 1100 ;;
	fuzz_mode_sense|fuzz_report_luns|fuzz_log_sense|fuzz_read_format_capacities|fuzz_log_pages) echo 1024 ;;
	fuzz_spec) echo 1200 ;;
	fuzz_virtio_ring|fuzz_virtio_scsi) echo 512 ;;
	fuzz_usb_descriptors) echo 1024 ;;
	fuzz_usb_engine) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

run_one() { # target: writes $build/work/$t/result
	t=$1
	work=$build/work/$t
	rm -rf "$work/artifacts"
	mkdir -p "$work/corpus" "$work/artifacts"
	[ -d "$src/corpus/$t" ] && cp "$src/corpus/$t"/* "$work/corpus/" 2>/dev/null
	set -- -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/artifacts/"
	[ -f "$src/dict/$t.dict" ] && set -- "$@" -dict="$src/dict/$t.dict"
	# Sanitizer reports are fatal; UBSan prints a stack.
	if ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}" \
		UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
		ORIONSTOR_CONF=/dev/null \
		"$build/$t" "$@" "$work/corpus" >"$work/log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
		echo "PASS: $t (${execs:-?} execs)" >"$work/result"
	else
		{
			grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$work/log" | head -20
			echo "FAIL: $t (log: $work/log)"
		} >"$work/result"
	fi
}

# FUZZ_JOBS targets at a time (each one process, one core).
running=0
for t in "$@"; do
	rm -f "$build/work/$t/result"
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait
for t in "$@"; do
	if [ -f "$build/work/$t/result" ]; then
		cat "$build/work/$t/result"
	else
		echo "FAIL: $t (no result)"
	fi
	grep -q '^PASS: ' "$build/work/$t/result" 2>/dev/null || failed=1
done
exit $failed
