#!/usr/bin/env python3
# Writes the seed corpora of tests/fuzz/corpus/<target>/ (a few small,
# valid inputs each, built here from the SCSI and file formats).  Run from
# anywhere: python3 tests/fuzz/gen-corpus.py.  Regression inputs (files
# named crash-*) are added by hand next to them and are kept.
import os
import struct

top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(top, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def be16(v): return struct.pack(">H", v)
def be32(v): return struct.pack(">I", v)
def be64(v): return struct.pack(">Q", v)


# ---- sense: byte 0 = text buffer size (bit 7: an older, smaller struct)
fixed = bytes([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0])
put("fuzz_sense", "fixed-illegal-request", bytes([0x7f]) + fixed)
put("fuzz_sense", "fixed-info-deferred",
    bytes([0x20]) + bytes([0xf1, 0, 0x03]) + be32(0x1234) + bytes([10, 0, 0, 0, 0, 0x11, 0, 0x80, 0, 0, 0]))
put("fuzz_sense", "fixed-progress", bytes([0x90]) + bytes([0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x04, 0, 0x80, 0x40, 0]))
info_desc = bytes([0x00, 0x0a, 0x80, 0]) + be64(0x1122334455667788)
put("fuzz_sense", "descriptor-info", bytes([0x40]) + bytes([0x72, 0x03, 0x11, 0x00, 0, 0, 0, len(info_desc)]) + info_desc)
ata_desc = bytes([0x09, 0x0c, 0x01, 0x04, 0, 0x01, 0, 0x02, 0, 0x03, 0, 0x04, 0x40, 0x50])
put("fuzz_sense", "descriptor-ata-return", bytes([0x80]) + bytes([0x72, 0x01, 0x00, 0x1d, 0, 0, 0, len(ata_desc)]) + ata_desc)
put("fuzz_sense", "deferred-descriptor", bytes([0x10]) + bytes([0x73, 0x06, 0x29, 0x00, 0, 0, 0, 0]))
put("fuzz_sense", "fixed-ata-sat", bytes([0x30]) + bytes([0x70, 0, 0x01, 0x04, 0x50, 0x40, 0x01, 10, 0, 0, 0, 0, 0x00, 0x1d, 0, 0, 0, 0]))

# ---- inquiry
def inquiry(ptype=0, rmb=0, vendor=b"ORION", product=b"SIM DISK", rev=b"0.1", addl=31):
    b = bytes([ptype, 0x80 if rmb else 0, 0x06, 0x12, addl, 0, 0x10, 0x02])
    b += vendor.ljust(8) + product.ljust(16) + rev.ljust(4)
    return b
put("fuzz_inquiry", "disk", inquiry())
put("fuzz_inquiry", "removable-usb", inquiry(rmb=1, vendor=b"USB", product=b"Flash", addl=0x5b) + bytes(60))
put("fuzz_inquiry", "short-addl", inquiry(addl=4))
put("fuzz_inquiry", "no-lu", bytes([0x7f, 0, 0, 0, 0]))

# ---- VPD: byte 0 = decoder (0 header, 1 00h, 2 83h, 3 B0h, 4 B1h, 5 B2h,
# 6 89h, 7 80h), byte 1 = expected page / list or buffer size
def vpd(page, body):
    return bytes([0, page]) + be16(len(body)) + body
put("fuzz_vpd", "header-b0", bytes([0, 0xb0]) + vpd(0xb0, bytes(60)))
put("fuzz_vpd", "supported", bytes([1, 8]) + vpd(0x00, bytes([0x00, 0x80, 0x83, 0x89, 0xb0, 0xb1, 0xb2])))
naa = bytes([0x01, 0x03, 0x00, 0x08]) + be64(0x5000c50012345678)
t10 = bytes([0x02, 0x01, 0x00, 0x10]) + b"ORION   SIM0001 "
name = bytes([0x53, 0xa8, 0x00, 0x0c]) + b"iqn.2026-01\0"
put("fuzz_vpd", "devid", bytes([2, 4]) + vpd(0x83, naa + t10 + name))
bl = bytes([0x01, 0x01, 0x00, 0x08]) + be32(0x800) + be32(0x100) + be32(0x800)
bl += be32(0x400000) + be32(1) + be32(8) + be32(0x80000000) + be64(0x10000) + bytes(20)
put("fuzz_vpd", "block-limits", bytes([3, 0]) + vpd(0xb0, bl))
put("fuzz_vpd", "block-characteristics", bytes([4, 0]) + vpd(0xb1, be16(1) + bytes([0, 0x03, 0x10]) + bytes(55)))
put("fuzz_vpd", "lbp", bytes([5, 0]) + vpd(0xb2, bytes([0x08, 0xe6, 0x02, 0x00])))
ata = b"linux   ".ljust(8) + b"libata".ljust(16) + b"1.00" + bytes([0x34, 0, 0x50, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
ata = bytes(4) + ata + bytes([0xec, 0, 0, 0]) + bytes(512)
put("fuzz_vpd", "ata-info", bytes([6, 0]) + vpd(0x89, ata))
put("fuzz_vpd", "serial", bytes([7, 32]) + vpd(0x80, b"  SN0123456789  "))
put("fuzz_vpd", "serial-tiny-buffer", bytes([7, 3]) + vpd(0x80, b"ABCDEFGH"))

# ---- read capacity: both decoders read the same bytes
put("fuzz_read_capacity", "rc10-512", be32(0x1fffff) + be32(512))
put("fuzz_read_capacity", "rc10-saturated", be32(0xffffffff) + be32(512))
put("fuzz_read_capacity", "rc16-4k", be64(0x3fffffffff) + be32(4096) + bytes([0x05, 0x13, 0xc0, 0x08]) + bytes(16))
put("fuzz_read_capacity", "rc16-short", be64(7) + be32(512))

# ---- mode sense: byte 0 bit 0 = (10)
caching = bytes([0x08, 0x12, 0x04, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x80, 0x14, 0xff, 0xff, 0, 0, 0, 0])
control = bytes([0x0a, 0x0a, 0x02, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0x1e])
bd8 = be32(0x100000) + be32(512)
body6 = bd8 + caching + control
put("fuzz_mode_sense", "ms6-bd-caching", bytes([0]) + bytes([len(body6) + 3, 0, 0x90, 8]) + body6)
put("fuzz_mode_sense", "ms6-nobd", bytes([0]) + bytes([len(caching) + 3, 0, 0x80, 0]) + caching)
bd16 = be64(0x100000000) + be32(0) + be32(4096)
body10 = bd16 + caching + bytes([0x5c, 0x01]) + be16(4) + bytes(4)
put("fuzz_mode_sense", "ms10-longlba", bytes([1]) + be16(len(body10) + 6) + bytes([0, 0x10, 1, 0]) + be16(16) + body10)
put("fuzz_mode_sense", "ms10-truncated-page", bytes([1]) + be16(200) + bytes([0, 0, 0, 0]) + be16(0) + caching[:10])

# ---- report luns: byte 0 = list size
luns = be64(0) + bytes([0, 1, 0, 0, 0, 0, 0, 0]) + bytes([0x40, 0x20, 0, 0, 0, 0, 0, 0]) + bytes([0xc1, 0, 0, 0, 0, 0, 0, 0])
put("fuzz_report_luns", "four", bytes([8]) + be32(len(luns)) + bytes(4) + luns)
put("fuzz_report_luns", "more-than-room", bytes([2]) + be32(len(luns)) + bytes(4) + luns)
put("fuzz_report_luns", "announced-more", bytes([8]) + be32(1024) + bytes(4) + luns[:16])

# ---- log sense
params = be16(0) + bytes([0x02, 4]) + be32(1234) + be16(1) + bytes([0x03, 8]) + be64(1 << 40) + be16(0x8000) + bytes([0x01, 2]) + b"ok"
put("fuzz_log_sense", "counters", bytes([0x02, 0]) + be16(len(params)) + params)
put("fuzz_log_sense", "subpage", bytes([0x4d, 0x01]) + be16(8) + be16(0) + bytes([0x03, 2]) + be16(40))
put("fuzz_log_sense", "long-value", bytes([0x0d, 0]) + be16(14) + be16(2) + bytes([0x03, 10]) + bytes(range(10)))

# ---- read format capacities: byte 0 = list size
def fcd(blocks, t, bl):
    return be32(blocks) + bytes([t]) + be32(bl)[1:]
fc = fcd(0x3c0000, 2, 512) + fcd(0x3c0000, 0, 512) + fcd(0x1e0000, 0, 1024)
put("fuzz_read_format_capacities", "formatted", bytes([4]) + bytes([0, 0, 0, len(fc)]) + fc)
put("fuzz_read_format_capacities", "no-medium", bytes([1]) + bytes([0, 0, 0, 8]) + fcd(0xffffffff, 3, 512))

# ---- CDBs
put("fuzz_cdb_check", "read10", bytes([0x28, 0, 0, 0, 0, 0x10, 0, 0, 8, 0]))
put("fuzz_cdb_check", "inquiry", bytes([0x12, 0x01, 0x83, 0, 0xff, 0]))
put("fuzz_cdb_check", "read16", bytes([0x88, 0]) + be64(1 << 33) + be32(8) + bytes([0, 0]))
put("fuzz_cdb_check", "rc16", bytes([0x9e, 0x10]) + bytes(8) + be32(32) + bytes([0, 0]))
put("fuzz_cdb_check", "variable", bytes([0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0, 0x09]) + bytes(22))
put("fuzz_cdb_check", "ata16", bytes([0x85, 0x08, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xec, 0]))

# ---- SAT health: byte 0 = decoder (0 IDENTIFY, 1 SMART data +
# thresholds, 2 self-test log, 3 SMART RETURN STATUS sense, 4 CHECK POWER
# MODE sense, 5 VPD 89h, 6 SAT evidence, 7 builders), byte 1 = split
# point / argument
def le16(v): return struct.pack("<H", v)
def le32(v): return struct.pack("<I", v)


def sealed(sector):
    sector = bytearray(sector[:511].ljust(511, b"\0"))
    sector.append((-sum(sector)) & 0xff)
    return bytes(sector)


def ata_string(text, nwords):
    t = text.ljust(2 * nwords)[:2 * nwords].encode()
    return b"".join(bytes([t[i + 1], t[i]]) for i in range(0, len(t), 2))


def identify(model, serial, fw, sectors48, w106=0x4000, rpm=1):
    w = [0] * 256
    w[0] = 0x0040
    w[49] = 0x2f00
    w[60], w[61] = 0xffff, 0x0fff
    w[69] = 0x4020
    w[75], w[76], w[77] = 0x1f, 0x010e, 0x0006
    w[80], w[82], w[83], w[84] = 0x0ff0, 0x7469, 0x7401, 0x6163
    w[85], w[86], w[87] = 0x7469, 0xb401, 0x6163
    for i in range(4):
        w[100 + i] = (sectors48 >> (16 * i)) & 0xffff
    w[106] = w106
    w[108:112] = [0x5002, 0x538e, 0x40a1, 0xb2c3]
    w[128], w[169], w[206], w[209], w[217] = 0x29, 1, 0x3d, 0x4000, rpm
    b = bytearray(b"".join(le16(x) for x in w))
    b[20:40] = ata_string(serial, 10)
    b[46:54] = ata_string(fw, 4)
    b[54:94] = ata_string(model, 20)
    b[510] = 0xa5
    return sealed(bytes(b))


ssd = identify("Samsung SSD 860 EVO 500GB", "S3Z2NB0K123456A", "RVT02B6Q", 976773168)
hdd = identify("WDC WD40EFRX-68N32N0", "WD-WCC7K0123456", "82.00A82", 7814037168, 0x6003, 5400)
put("fuzz_ata", "identify-ssd", bytes([0, 0]) + ssd)
put("fuzz_ata", "identify-hdd-4k", bytes([0, 0]) + hdd)
put("fuzz_ata", "identify-short", bytes([0, 0]) + ssd[:200])

attrs = [(1, 0x2f, 200, 200, 51, 0), (3, 0x27, 181, 176, 21, 7916), (5, 0x33, 130, 130, 140, 1936),
         (9, 0x32, 52, 52, 0, 35171), (12, 0x32, 100, 100, 0, 120), (190, 0x22, 62, 45, 40, 0x2d1a0026),
         (194, 0x22, 118, 95, 0, 0x37140020), (197, 0x32, 200, 200, 0, 2), (199, 0x32, 200, 200, 0, 0)]
data = bytearray(le16(0x10))
thr = bytearray(le16(0x10))
for (i, flags, val, worst, t, raw) in attrs:
    data += bytes([i]) + le16(flags) + bytes([val, worst]) + raw.to_bytes(6, "little") + b"\0"
    thr += bytes([i, t]) + bytes(10)
data = data.ljust(362, b"\0") + bytes([0x82, 0xf7]) + le16(42016) + bytes([0, 0x7b]) + le16(3) + \
    bytes([1, 0, 2, 0xff, 5]) + le16(491)
put("fuzz_ata", "smart-data-thresholds", bytes([1, 128]) + sealed(bytes(data)) + sealed(bytes(thr)))
put("fuzz_ata", "smart-data-only", bytes([1, 128]) + sealed(bytes(data)))
put("fuzz_ata", "smart-data-short-thresholds", bytes([1, 128]) + sealed(bytes(data)) + sealed(bytes(thr))[:40])

log = bytearray(le16(1))
for n in range(21):
    log += bytes(24)
def desc(n, test, status, hours, lba):
    o = 2 + 24 * (n - 1)
    log[o:o + 9] = bytes([test, status]) + le16(hours) + b"\0" + le32(lba)
desc(20, 1, 0x00, 100, 0)
desc(21, 2, 0x70, 110, 123456)
desc(1, 0x7f, 0x10, 120, 0)
desc(2, 1, 0xf9, 130, 0xffffffff)
log = log.ljust(508, b"\0") + bytes([2])
put("fuzz_ata", "self-test-log-wrapped", bytes([2, 0]) + sealed(bytes(log)))


def ata_return_desc(status, count, lba):
    d = bytes([0x09, 0x0c, 0, 0, 0, count, (lba >> 24) & 0xff, lba & 0xff, 0, (lba >> 8) & 0xff, 0,
               (lba >> 16) & 0xff, 0x40, status])
    return bytes([0x72, 0x01, 0x00, 0x1d, 0, 0, 0, len(d)]) + d


def ata_return_fixed(status, count, lba):
    return bytes([0x70, 0, 0x01, 0, status, 0x40, count, 10, 0, lba & 0xff, (lba >> 8) & 0xff,
                  (lba >> 16) & 0xff, 0, 0x1d, 0, 0, 0, 0])


put("fuzz_ata", "status-passed-desc", bytes([3, 0]) + ata_return_desc(0x50, 0, 0xc24f00))
put("fuzz_ata", "status-failing-fixed", bytes([3, 0]) + ata_return_fixed(0x50, 0, 0x2cf400))
put("fuzz_ata", "status-no-registers", bytes([3, 0]) + bytes([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0]))
put("fuzz_ata", "power-standby", bytes([4, 0]) + ata_return_desc(0x50, 0x00, 0))
put("fuzz_ata", "power-idle-fixed", bytes([4, 0]) + ata_return_fixed(0x50, 0x81, 0))
sat = b"linux   " + b"libata".ljust(16) + b"3.00" + bytes([0x34, 0, 0x50, 1, 1, 0, 0, 0xa0]) + bytes(12)
put("fuzz_ata", "vpd89-ssd", bytes([5, 0]) + vpd(0x89, bytes(4) + sat + bytes([0xec, 0, 0, 0]) + ssd))
put("fuzz_ata", "evidence", bytes([6, 36]) + inquiry(vendor=b"ATA", product=b"Samsung SSD 860") +
    vpd(0x00, bytes([0x00, 0x80, 0x83, 0x89, 0xb0])))
put("fuzz_ata", "builders16", bytes([7, 16, 0x06, 1]))
put("fuzz_ata", "builders12", bytes([7, 12, 0x02, 0]))

# ---- health log pages: byte 0 = decoder (0 supported, 1 0Dh, 2 2Fh, 3
# 10h, 4 15h), byte 1 = room for entries
def logpage(page, subpage, body):
    return bytes([page | (0x40 if subpage else 0), subpage]) + be16(len(body)) + body
put("fuzz_log_pages", "supported", bytes([0, 32]) + logpage(0, 0, bytes([0, 2, 3, 0x0d, 0x10, 0x15, 0x2f])))
put("fuzz_log_pages", "supported-subpages", bytes([0, 32]) + logpage(0, 0xff, bytes([0, 0, 0, 0xff, 0x0d, 0, 0x0d, 1, 0x2f, 0])))
put("fuzz_log_pages", "temperature", bytes([1, 0]) + logpage(0x0d, 0, be16(0) + bytes([3, 2, 0, 36]) + be16(1) + bytes([3, 2, 0, 65])))
put("fuzz_log_pages", "ie-failing", bytes([2, 0]) + logpage(0x2f, 0, be16(0) + bytes([3, 4, 0x5d, 0x10, 42, 68])))
st = b""
for i in range(1, 21):
    body = bytes([(1 << 5) | (7 if i == 2 else 0), 3 if i == 2 else 0]) + be16(40000 - i if i < 5 else 0) + \
        be64(0x12345678 if i == 2 else 0xffffffffffffffff) + bytes([3, 0x11, 4, 0] if i == 2 else [0, 0, 0, 0])
    st += be16(i) + bytes([3, 0x10]) + body
put("fuzz_log_pages", "self-test", bytes([3, 20]) + logpage(0x10, 0, st))
bms = be16(0) + bytes([3, 0x0c]) + be32(0x259a4c) + bytes([0, 1]) + be16(42) + be16(0x4000) + be16(43)
bms += be16(1) + bytes([3, 0x14]) + be32(0x259000) + bytes([0x23, 0x11, 0]) + bytes(5) + be64(0x123456)
bms += be16(0x8000) + bytes([3, 2, 0xaa, 0xbb])
put("fuzz_log_pages", "background-scan", bytes([4, 8]) + logpage(0x15, 0, bms))

# ---- orionstor.conf
put("fuzz_config", "empty", "")
put("fuzz_config", "usb", "# cache\n[usb_storage]\ncache_enabled = true\ncache_size = 64MB\ncache_policy = \"lru\"\nquirks = \"\"\n")
put("fuzz_config", "virtio", "[virtio_scsi]\nqueue_count = 4\nqueue_depth = 128\nio_scheduler = \"deadline\"\nqueue_ring = \"packed\"\nshared_memory_size = 1GiB\n")
put("fuzz_config", "control", "[control]\nsocket = false\nsocket_dir = \"/run/orionstor\"  # comment\n\n[unknown]\nkey = 1\n")
put("fuzz_config", "bad-value", "[virtio_scsi]\nqueue_depth = 3\n")

# ---- device specs
for i, s in enumerate(["sim", "sim:size=1G,block_size=4096", "sim:size=64M,readonly,luns=2,targets=3",
                       "sim:hold=100,null,histograms", "usb:0781:5567", "usb:1-2.3",
                       "virtio:0000:00:04.0", "sim:size=1.5G", "bogus:thing"]):
    put("fuzz_spec", "spec%d" % i, s)

# ---- control socket requests
for i, s in enumerate(['{"jsonrpc":"2.0","id":1,"method":"ping"}',
                       '{"jsonrpc":"2.0","id":"a","method":"devices","params":{}}',
                       '{"jsonrpc":"2.0","id":2,"method":"stats","params":{"device":"sim","histograms":true}}',
                       '{"jsonrpc":"2.0","id":3,"method":"abort","params":{"device":"sim","tag":5}}',
                       '{"jsonrpc":"2.0","id":null,"method":"queue_flush","params":{"device":"sim","queue":0,"timeout_ms":10}}',
                       '{"jsonrpc":"2.0","id":4,"method":"tuning","params":{"device":"sim","level":"x"}}',
                       '{"jsonrpc":"2.0","method":"reset"}',
                       '[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
                       '{"jsonrpc":"2.0","id":5,"method":"nope"}',
                       '{"jsonrpc":"2.0","id":6,"method":"commands","params":["sim"]}',
                       '{"jsonrpc":"2.0","id":7,"method":"cache","params":{"device":"sim","target":0,"lun":"0"}}',
                       '{"jsonrpc":"2.0","id":8,"method":"cache_flush","params":{"device":"sim","lun":-1}}',
                       '{"jsonrpc":"2.0","id":9,"method":"cache_reset","params":{"device":"sim","flush":true,"discard":true}}']):
    put("fuzz_control", "req%d" % i, s)

# ---- virtqueues: byte 0 = bit 0 packed, bit 1 indirect, bits 2-4 size,
# bit 5 event idx; then operations (fuzz_virtio_ring.c): 0/1 post (bit 3:
# two out buffers, bits 4-5: in buffers, one length byte each), 2/3 used
# element (id, len, how[, jump] / packed: id, len, how, flags), 4 harvest,
# 5 scribble, 6 notifications, 7 reset
post_1_1 = bytes([0x10, 4, 8])            # one out, one in buffer
used = lambda i, ln: bytes([0x02, i, ln, 0])
put("fuzz_virtio_ring", "split4-one", bytes([0x08]) + post_1_1 + used(0, 16) + bytes([4]))
put("fuzz_virtio_ring", "split4-wrap", bytes([0x28]) + (post_1_1 + bytes([6]) + used(0, 200) + bytes([4])) * 6)
put("fuzz_virtio_ring", "split2-indirect-two", bytes([0x06]) + bytes([0x38, 1, 2, 3, 4, 5]) + post_1_1 +
    used(1, 1) + used(0, 255) + bytes([4, 7]))
put("fuzz_virtio_ring", "split8-jump", bytes([0x0c]) + post_1_1 + bytes([0x02, 0, 8, 0x80, 0x7f, 4]))
pused = lambda i, ln: bytes([0x02, i, ln, 0, 0, 0])
put("fuzz_virtio_ring", "packed4-one", bytes([0x0d]) + post_1_1 + pused(0, 16) + bytes([4]))
put("fuzz_virtio_ring", "packed3-wrap", bytes([0x29]) + (bytes([0x30, 1, 2, 3]) + pused(0, 9) + bytes([4, 6])) * 5)
put("fuzz_virtio_ring", "packed4-indirect", bytes([0x0f]) + bytes([0x38, 1, 2, 3, 4, 5]) + post_1_1 +
    pused(1, 3) + pused(0, 3) + bytes([4]))
put("fuzz_virtio_ring", "packed2-badwrap", bytes([0x05]) + post_1_1 + bytes([0x02, 0, 1, 0x81, 0x80, 0x00, 4]))

# ---- virtio-scsi: byte 0 = bit 0 packed, 1 intr, 2 no-indirect, bits 3-4
# commands - 1, bit 6 cancel the first, bit 7 queue-size=4; byte 1 =
# events (bits 0-2 count, bit 3 +64: EVENTS_MISSED, bits 4-5 type, 6-7
# reason); 2 bytes per command (kind % 3: none, read, write; blocks); then
# the device's script (fuzz_virtio_scsi.c): per command c, 12-byte header
# (sense_len, resid, sq, status, response), sense count and bytes, data
# count / 32, [used.len]; per TMF c, response; per event c, 16 bytes.
def vresp(status=0, response=0, sense=b"", resid=0, data32=0, c=3):
    return bytes([c]) + le32(len(sense)) + le32(resid) + bytes([0, 0, status, response]) + \
        bytes([len(sense)]) + sense + bytes([data32])
put("fuzz_virtio_scsi", "read-good", bytes([0x00, 0x00, 1, 1]) + vresp(data32=16))
put("fuzz_virtio_scsi", "write-good-packed", bytes([0x01, 0x00, 2, 2]) + vresp())
put("fuzz_virtio_scsi", "check-condition", bytes([0x08, 0x00, 0, 0, 1, 1]) + vresp(2, 0, fixed) + vresp(data32=16))
put("fuzz_virtio_scsi", "busy-then-ok", bytes([0x00, 0x00, 1, 1]) + vresp(0, 5) + vresp(data32=16))
put("fuzz_virtio_scsi", "resid-too-big", bytes([0x00, 0x00, 1, 2]) + vresp(resid=0xffffffff, data32=4))
put("fuzz_virtio_scsi", "used-len-huge", bytes([0x00, 0x00, 1, 1]) + vresp(c=1) + le32(0xffffff00))
put("fuzz_virtio_scsi", "sense-len-huge", bytes([0x00, 0x00, 0, 0]) + bytes([3]) + le32(5000) + le32(0) +
    bytes([0, 0, 2, 0, 96]) + fixed + bytes(78) + bytes([0]))
put("fuzz_virtio_scsi", "hold-tmf-rejected", bytes([0x02, 0x00, 0, 0]) + bytes([0xff]) + bytes([1, 11, 1, 11, 1, 0]))
put("fuzz_virtio_scsi", "hold-no-answer", bytes([0x19, 0x00, 0, 0, 1, 1, 2, 1, 0x10, 1]) + bytes([0xff]))
put("fuzz_virtio_scsi", "cancel", bytes([0x40, 0x00, 1, 1]) + bytes([0xff, 1, 0]))
ev = lambda evt, lun, reason: le32(evt) + bytes([1, 0, 0x40, lun]) + bytes(4) + le32(reason)
put("fuzz_virtio_scsi", "event-removed", bytes([0x00, 0x11, 0, 0]) + bytes([0]) + ev(1, 0, 2) + vresp(3, 0) + vresp())
put("fuzz_virtio_scsi", "event-param-change", bytes([0x00, 0x31, 0, 0]) + bytes([0]) + ev(3, 0, 0x092a) + vresp())
put("fuzz_virtio_scsi", "events-missed", bytes([0x00, 0x0a, 0, 0]) + bytes([0]) + ev(0x80000000, 0, 0) +
    bytes([0x84]) + ev(1, 1, 1) + vresp())
put("fuzz_virtio_scsi", "event-short", bytes([0x00, 0x01, 0, 0]) + bytes([0x85]) + ev(1, 0, 2) + vresp())

# ---- USB mass-storage engines driven by the input (fuzz_usb_engine.c):
# byte 0 protocol (0 BOT, 1 BOT + CBW pipelined, 2 CB, 3 CBI, 4 UAS, 5 UAS
# 4 streams, 6 UAS 32 streams, 7 BOT unpipelined) | subclass << 3 | end
# gone 0x40 | scattered 0x80; quirks (2 bytes); max-transfer; commands;
# then per completion: pick, status|flags (7 OK; 08 header fixed, 10 whole
# length, 20 bytes from the input, 40 cancel, 80 16-bit length), length.
OK_FULL = bytes([0, 0x17])                    # the oldest transfer, OK, all of it


def ok_data(data):                            # OK, these bytes
    return bytes([0, 0x27, len(data)]) + data


def csw(status=0, residue=0):                 # a CSW for the last CBW
    return bytes([0, 0x2f, 13]) + bytes(8) + le32(residue) + bytes([status])


def usb_engine(proto, cmds, script, quirks=0, subclass=0, flags=0):
    head = bytes([proto | subclass << 3]) + le16(quirks) + bytes([0, len(cmds) - 1 | flags])
    return head + b"".join(bytes(c) for c in cmds) + script


READ1, WRITE1, INQ36, TUR = (0, 1, 0), (1, 1, 0), (2, 36, 0), (5, 0, 0)
sense18 = bytes([0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24, 0, 0, 0, 0, 0])
maxlun0 = ok_data(b"\x00")
put("fuzz_usb_engine", "bot-read", usb_engine(0, [READ1], maxlun0 + OK_FULL + OK_FULL + csw()))
put("fuzz_usb_engine", "bot-write", usb_engine(0, [WRITE1], maxlun0 + OK_FULL + OK_FULL + csw()))
put("fuzz_usb_engine", "bot-check-condition",
    usb_engine(0, [INQ36], maxlun0 + OK_FULL + bytes([0, 0x07, 0]) + csw(1, 36) +
               OK_FULL + ok_data(sense18) + csw()))
put("fuzz_usb_engine", "bot-short-read-stall",
    usb_engine(7, [READ1, TUR], maxlun0 + OK_FULL + bytes([0, 0x01, 0]) + OK_FULL + csw(0, 512) +
               OK_FULL + csw()))
put("fuzz_usb_engine", "bot-pipelined-cbw-two",
    usb_engine(1, [READ1, INQ36], maxlun0 + OK_FULL * 3 + csw() + OK_FULL * 2 + csw()))
# Three adjacent 1 KiB reads, the LUNs discovered (0x04) and adjacent
# (0x08): the first alone, the other two merged (two data transfers).
READ2 = (0, 2, 0)
put("fuzz_usb_engine", "bot-merged-reads",
    usb_engine(0, [READ2] * 3, maxlun0 + OK_FULL * 2 + csw() + OK_FULL * 4 + csw(), flags=0x0c))
put("fuzz_usb_engine", "bot-merged-writes",
    usb_engine(0, [(1, 2, 0)] * 3, maxlun0 + OK_FULL * 2 + csw() + OK_FULL * 3 + csw(), flags=0x0c))
put("fuzz_usb_engine", "cbi-read",
    usb_engine(3, [READ1], OK_FULL + OK_FULL + ok_data(b"\x00\x00"), subclass=3))
put("fuzz_usb_engine", "cb-inquiry",
    usb_engine(2, [INQ36], OK_FULL + OK_FULL + OK_FULL + ok_data(bytes(18)), subclass=2))
uas_luns = bytes([0, 0, 0, 8, 0, 0, 0, 0]) + bytes(8)


def sense_iu(status=0, sense=b""):            # tag filled in by the layer
    return bytes([0x03, 0, 0, 0, 0, 0, status]) + bytes(7) + be16(len(sense)) + sense


def uas_ok(iu):
    return bytes([0, 0x2f, len(iu)]) + iu


STALE = bytes([0, 0x02, 0])                    # a read for stale IUs: nothing (timeout)


# no streams: Command IU, then READ READY, the data, the Sense IU
put("fuzz_usb_engine", "uas-read",
    usb_engine(4, [READ1], STALE + OK_FULL + uas_ok(bytes([0x06, 0, 0, 0])) + OK_FULL + uas_ok(sense_iu()) +
               OK_FULL + uas_ok(bytes([0x06, 0, 0, 0])) + OK_FULL + uas_ok(sense_iu())))
put("fuzz_usb_engine", "uas-check-condition",
    usb_engine(4, [INQ36], STALE + OK_FULL + uas_ok(bytes([0x06, 0, 0, 0])) + OK_FULL + uas_ok(sense_iu()) +
               OK_FULL + uas_ok(sense_iu(2, sense18))))
# streams: the Command IU, its status read and data queued together
put("fuzz_usb_engine", "uas-streams-read",
    usb_engine(5, [READ1, WRITE1], STALE * 4 + OK_FULL * 3 + uas_ok(sense_iu()) + OK_FULL * 6 + uas_ok(sense_iu()) +
               OK_FULL * 3 + uas_ok(sense_iu()) + OK_FULL * 3 + uas_ok(sense_iu())))

# ---- USB configuration descriptors (fuzz_usb_descriptors.c): byte 0 bit 0
# allows UAS, then the descriptors as the device sends them.
def itf(num, alt, cls, sub, proto, neps):
    return bytes([9, 4, num, alt, neps, cls, sub, proto, 0])


def ep(addr, attr, mps=512):
    return bytes([7, 5, addr, attr]) + le16(mps) + bytes([0])


cfghead = bytes([9, 2, 0, 0, 1, 1, 0, 0x80, 50])
bot_itf = itf(0, 0, 8, 6, 0x50, 2) + ep(0x81, 2) + ep(0x02, 2)
put("fuzz_usb_descriptors", "bot", b"\x01" + cfghead + bot_itf)
put("fuzz_usb_descriptors", "composite-cbi",
    b"\x01" + cfghead + itf(0, 0, 3, 1, 1, 1) + ep(0x81, 3, 8) +
    itf(1, 0, 8, 4, 0x00, 3) + ep(0x82, 2) + ep(0x03, 2) + ep(0x84, 3, 2))
pu = lambda n: bytes([4, 0x24, n, 0])
comp = lambda exp: bytes([6, 0x30, 15, exp, 0, 0])
uas_alt = (itf(0, 1, 8, 6, 0x62, 4) + ep(0x01, 2, 1024) + comp(0) + pu(1) + ep(0x82, 2, 1024) + comp(4) + pu(2) +
           ep(0x83, 2, 1024) + comp(4) + pu(3) + ep(0x04, 2, 1024) + comp(2) + pu(4))
put("fuzz_usb_descriptors", "uas-beside-bot", b"\x01" + cfghead + bot_itf + uas_alt)
put("fuzz_usb_descriptors", "uas-turned-off", b"\x00" + cfghead + bot_itf + uas_alt)
put("fuzz_usb_descriptors", "uas-only-broken",
    b"\x01" + cfghead + itf(0, 0, 8, 6, 0x62, 2) + ep(0x01, 2) + pu(1) + ep(0x82, 2) + bytes([9, 0x24, 2, 0]))
