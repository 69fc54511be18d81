#!/usr/bin/env python3
"""smartcheck.py - compare smartctl's JSON with `orionstor smart --json`.

    smartcheck.py ata|scsi|ata-selftest [--name NAME] [--verdict passed|failing]
                  [--protocol P] [--min-self-tests N] [--smartctl-exit N] [--ours-exit N]
                  SMARTCTL.json OURS.json

ata: smartctl -d sat -a --json against orionstor smart --json of the same
ATA disk: model, serial, firmware, the verdict (smart_status.passed; with
--smartctl-exit/--ours-exit also smartctl's exit bit 3 "disk failing"
against our exit status 8), the temperature, every attribute (the same
ids; value, worst, threshold, raw value, name, and whether it is failing
now), the self-test log (type, status, lifetime hours, in order).
ata-selftest: the self-test logs of smartctl -l selftest and orionstor
smart -l selftest only.
ata also compares smartctl's exit bit 4 (a prefailure attribute at or
below its threshold) with our table, and the self-test execution status
and polling times of the SMART data.
scsi: smartctl -d scsi -a --json against orionstor smart --json of a SCSI
disk: vendor, product, revision, the verdict (and the informational
exception's ASC/ASCQ when smartctl reports one), the power-on hours, the
temperature and trip temperature, the self-test results (code, result,
power-on hours).

--protocol: orionstor smart must have used that protocol (sat16,
jmicron, scsi, ...).

One line per compared item ("ok" or "DIFFERS"); exit 1 if anything
differs, a required item is missing, or the verdict is not --verdict.
"""
import argparse
import json
import sys


class Check:
    def __init__(self, name):
        self.name = name
        self.bad = 0

    def eq(self, what, theirs, ours):
        ok = theirs == ours and theirs is not None
        if not ok:
            self.bad += 1
        print(f"{self.name}: {what}: smartctl={theirs!r} ours={ours!r} {'ok' if ok else 'DIFFERS'}")
        return ok

    def require(self, what, cond, detail=""):
        if not cond:
            self.bad += 1
        print(f"{self.name}: {what}: {detail} {'ok' if cond else 'FAILED'}".replace("  ", " "))


def get(d, *path):
    for p in path:
        if isinstance(d, dict) and p in d:
            d = d[p]
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return None
    return d


def strip(s):
    return s.strip() if isinstance(s, str) else s


def verdict(c, a, sc, ours):
    s_passed = get(sc, "smart_status", "passed")
    o_passed = {"passed": True, "failing": False}.get(ours.get("verdict"))
    c.eq("health passed", s_passed, o_passed)
    if a.verdict:
        c.require("verdict", ours.get("verdict") == a.verdict,
                  f"expected {a.verdict}, ours {ours.get('verdict')!r} ({ours.get('reason')})")
    if a.smartctl_exit is not None and a.ours_exit is not None:
        # smartctl: bit 3 "SMART status check returned DISK FAILING";
        # orionstor smart: 8 failing, 0 passed (4 unknown).
        c.eq("exit says failing (smartctl bit 3, ours 8)",
             bool(a.smartctl_exit & 8), a.ours_exit == 8)
        c.require("smartctl exit", a.smartctl_exit & 0x07 == 0,
                  f"{a.smartctl_exit} (bits 0-2: command line, open, command failure)")
        c.require("ours exit", a.ours_exit in (0, 8), str(a.ours_exit))


def ata_selftests(c, a, theirs, ours):
    t = get(theirs, "ata_smart_self_test_log", "standard", "table") or []
    o = get(ours, "ata", "self_test_log", "table") or []
    c.eq("self-test log entries", len(t), len(o))
    c.require("self-test log", len(o) >= a.min_self_tests,
              f"{len(o)} entries, at least {a.min_self_tests} wanted")
    for i, (x, y) in enumerate(zip(t, o)):
        c.eq(f"self-test {i + 1}: type", (get(x, "type", "value"), get(x, "type", "string")),
             (get(y, "type", "value"), get(y, "type", "string")))
        c.eq(f"self-test {i + 1}: status", (get(x, "status", "value"), get(x, "status", "string"),
                                            get(x, "status", "passed")),
             (get(y, "status", "value"), get(y, "status", "string"), get(y, "status", "passed")))
        c.eq(f"self-test {i + 1}: lifetime hours", x.get("lifetime_hours"), y.get("lifetime_hours"))


def ata(c, a, sc, ours):
    idf = get(ours, "ata", "identify") or {}
    c.eq("model", strip(sc.get("model_name")), strip(idf.get("model_name")))
    c.eq("serial", strip(sc.get("serial_number")), strip(idf.get("serial_number")))
    c.eq("firmware", strip(sc.get("firmware_version")), strip(idf.get("firmware_version")))
    verdict(c, a, sc, ours)
    c.eq("temperature", get(sc, "temperature", "current"), get(ours, "temperature", "current"))
    t = {x["id"]: x for x in get(sc, "ata_smart_attributes", "table") or []}
    o = {x["id"]: x for x in get(ours, "ata", "attributes", "table") or []}
    c.eq("attribute ids", sorted(t), sorted(o))
    c.require("attributes", len(o) > 0, f"{len(o)}")
    for i in sorted(set(t) & set(o)):
        x, y = t[i], o[i]
        c.eq(f"attribute {i:3d} {x.get('name')}: name/value/worst/thresh/raw",
             (x.get("name"), x.get("value"), x.get("worst"), x.get("thresh"), get(x, "raw", "value")),
             (y.get("name"), y.get("value"), y.get("worst"), y.get("thresh"), get(y, "raw", "value")))
        c.eq(f"attribute {i:3d}: flags/when_failed",
             (get(x, "flags", "value"), x.get("when_failed") or ""),
             (get(y, "flags", "value"), y.get("when_failed") or ""))
    # smartctl's exit bit 4: a prefailure attribute at or below its
    # threshold now
    if a.smartctl_exit is not None:
        c.eq("prefailure attribute failing now (smartctl exit bit 4)", bool(a.smartctl_exit & 16),
             any(get(y, "flags", "prefailure") and y.get("when_failed") == "now" for y in o.values()))
    st = get(ours, "ata", "self_test") or {}
    c.eq("self-test execution status, polling minutes short/extended",
         (get(sc, "ata_smart_data", "self_test", "status", "value"),
          get(sc, "ata_smart_data", "self_test", "polling_minutes", "short"),
          get(sc, "ata_smart_data", "self_test", "polling_minutes", "extended")),
         (get(st, "status", "value"), st.get("short_minutes"), st.get("extended_minutes")))
    ata_selftests(c, a, sc, ours)


def scsi(c, a, sc, ours):
    inq = ours.get("inquiry") or {}
    c.eq("vendor", strip(sc.get("scsi_vendor", sc.get("vendor"))), strip(inq.get("vendor")))
    c.eq("product", strip(sc.get("scsi_product", sc.get("product"))), strip(inq.get("product")))
    c.eq("revision", strip(sc.get("scsi_revision", sc.get("revision"))), strip(inq.get("revision")))
    c.eq("serial", strip(sc.get("serial_number")), strip(inq.get("serial_number")))
    verdict(c, a, sc, ours)
    ie = get(ours, "scsi", "informational_exception") or {}
    if get(sc, "smart_status", "scsi") is not None:
        c.eq("informational exception ASC/ASCQ",
             (get(sc, "smart_status", "scsi", "asc"), get(sc, "smart_status", "scsi", "ascq")),
             (ie.get("asc"), ie.get("ascq")))
    bms = get(ours, "scsi", "background_scan", "power_on_minutes")
    c.eq("power-on hours (background scan page)", get(sc, "power_on_time", "hours"),
         None if bms is None else bms // 60)
    c.eq("temperature", get(sc, "temperature", "current"), get(ours, "temperature", "current"))
    c.eq("trip temperature", get(sc, "temperature", "drive_trip"), get(ours, "scsi", "reference_temperature"))
    t = [sc[k] for k in sorted((k for k in sc if k.startswith("scsi_self_test_")),
                               key=lambda k: int(k.rsplit("_", 1)[1]))]
    o = get(ours, "scsi", "self_test_results") or []
    c.eq("self-test results", len(t), len(o))
    c.require("self-test results", len(o) >= a.min_self_tests,
              f"{len(o)} entries, at least {a.min_self_tests} wanted")
    for i, (x, y) in enumerate(zip(t, o)):
        c.eq(f"self-test {i + 1}: code", (get(x, "code", "value"), get(x, "code", "string")),
             (get(y, "code", "value"), get(y, "code", "string")))
        c.eq(f"self-test {i + 1}: result", (get(x, "result", "value"), get(x, "result", "string")),
             (get(y, "result", "value"), get(y, "result", "string")))
        c.eq(f"self-test {i + 1}: power-on hours", get(x, "power_on_time", "hours"), y.get("power_on_hours"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["ata", "scsi", "ata-selftest"])
    ap.add_argument("--name", default="disk")
    ap.add_argument("--verdict", choices=["passed", "failing"])
    ap.add_argument("--protocol", help="the protocol orionstor smart must have used")
    ap.add_argument("--min-self-tests", type=int, default=0)
    ap.add_argument("--smartctl-exit", type=int)
    ap.add_argument("--ours-exit", type=int)
    ap.add_argument("smartctl")
    ap.add_argument("ours")
    a = ap.parse_args()
    c = Check(a.name)
    try:
        sc = json.load(open(a.smartctl))
        ours = json.load(open(a.ours))
    except (OSError, ValueError) as e:
        print(f"{a.name}: cannot read the JSON: {e}")
        return 1
    if a.protocol:
        c.require("our protocol", ours.get("protocol") == a.protocol,
                  f"expected {a.protocol}, ours {ours.get('protocol')!r}")
    for m in get(sc, "smartctl", "messages") or []:
        print(f"{a.name}: smartctl says ({m.get('severity')}): {m.get('string')}")
    if a.kind == "ata":
        ata(c, a, sc, ours)
    elif a.kind == "scsi":
        scsi(c, a, sc, ours)
    else:
        ata_selftests(c, a, sc, ours)
    print(f"{a.name}: {'agree' if not c.bad else f'{c.bad} disagreements'}")
    return 1 if c.bad else 0


if __name__ == "__main__":
    sys.exit(main())
