# Results of the VM benchmarks (tests/vm/bench-*.sh), read on the host.
#
# Both sides write JSON in fio's layout: the kernel's side is fio itself
# (--output-format=json --lat_percentiles=1), ours is `orionstor bench
# --json`.  load() returns one run's numbers or raises Invalid when the run
# is not a measurement: its program exited non-zero, it reported an error,
# or it measured nothing.  Latency is submission to completion on both
# sides (fio's lat_ns; orionstor bench's clat_ns, which it takes from
# just before ostor_task_submit() to the completion callback).
import json
import os


class Invalid(Exception):
    pass


def _tail(path, lines=5):
    try:
        with open(path, errors="replace") as f:
            t = f.read().strip().splitlines()
    except OSError:
        return ""
    return " | ".join(t[-lines:])


def load(kind, path, what, side="read"):
    """kind: "fio" or "ours".  path: the JSON output; next to it PATH.rc
    (exit status) and PATH.err (standard error), as the guest wrote them.
    side: "read" or "write", the half of the job that was measured."""
    err = _tail(path + ".err")
    try:
        with open(path + ".rc") as f:
            rc = int(f.read().strip() or "-1")
    except (OSError, ValueError):
        rc = None
    if rc is None:
        raise Invalid("%s: did not run (no exit status)" % what)
    if rc != 0:
        raise Invalid("%s: %s exited with status %d%s" %
                      (what, "fio" if kind == "fio" else "orionstor bench", rc,
                       "; stderr: " + err if err else ""))
    try:
        with open(path, errors="replace") as f:
            text = f.read()
        # fio may print a note before its JSON
        doc = json.loads(text[text.index("{"):])
        job = doc["jobs"][0]
        r = job[side]
    except (OSError, ValueError, KeyError, IndexError) as e:
        raise Invalid("%s: no usable JSON output (%s)%s" %
                      (what, e, "; stderr: " + err if err else ""))
    errors = job.get("error", 0)
    if kind == "ours":
        errors = errors or job.get("verify_errors", 0)
    if errors:
        raise Invalid("%s: %s errors%s" % (what, errors, "; stderr: " + err if err else ""))
    ios, iops = r.get("total_ios", 0), r.get("iops", 0)
    if ios <= 0 or iops <= 0:
        raise Invalid("%s: measured nothing (%d %ss, %.1f IOPS)" % (what, ios, side, iops))
    if kind == "fio":
        lat = r.get("lat_ns") or r["clat_ns"]
        pct = lat.get("percentile") or r["clat_ns"].get("percentile", {})
    else:
        lat = r["clat_ns"]
        pct = lat.get("percentile", {})
    return {
        "ios": ios,
        "iops": iops,
        "mb_s": r["bw_bytes"] / 1e6,
        "lat_mean_us": lat["mean"] / 1e3,
        "lat_p50_us": pct.get("50.000000", 0) / 1e3,
        "lat_p99_us": pct.get("99.000000", 0) / 1e3,
        "lat_max_us": lat.get("max", 0) / 1e3,
    }


def ratio(ours, kernel):
    if not ours or not kernel:
        return None
    return ours["iops"] / kernel["iops"]


def cells(m):
    """IOPS, MB/s, mean and p99 latency (us) as fixed-width text."""
    if m is None:
        return "%9s %8s %9s %9s" % ("FAILED", "-", "-", "-")
    return "%9.0f %8.1f %9.1f %9.1f" % (m["iops"], m["mb_s"], m["lat_mean_us"], m["lat_p99_us"])


def write_summary(workdir, doc, table):
    """summary.json (machine-readable) and summary.txt (the table)."""
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(workdir, "summary.txt"), "w") as f:
        f.write(table)
