#!/usr/bin/env python3
"""Check a disk image against what tests/vm/cache-writer wrote.

cachecheck.py IMAGE BLOCK_SIZE SEED WRITES MAX_BLOCKS REGION FLUSH_EVERY KILL_AFTER

Replays the writer (same xorshift64 and mix as cache-writer.c).  Without a
kill every block must hold its last version (zeros if never written).  With
KILL_AFTER=K every block must hold one version that could be there: the one
current at the last completed flush (zeros if none), or one written after
it and before the kill - never a mixture, never an older one.
"""
import struct
import sys

M = (1 << 64) - 1


def xorshift(s):
    s ^= (s << 13) & M
    s ^= s >> 7
    s ^= (s << 17) & M
    return s


def mix(seed, i, lba):
    z = ((seed * 0x9e3779b97f4a7c15) ^ (i * 0xbf58476d1ce4e5b9) ^ (lba * 0x94d049bb133111eb)) & M
    z ^= z >> 31
    return (z * 0x9e3779b97f4a7c15) & M


def block(seed, i, lba, bs):
    base = mix(seed, i, lba)
    return struct.pack("<%dQ" % (bs // 8), *[(base + j) & M for j in range(bs // 8)])


def main():
    img, bs, seed, writes, maxb, region, fe, kill = sys.argv[1], *map(lambda v: int(v, 0), sys.argv[2:])
    versions = {}
    s = seed
    stop = kill if kill else writes
    for i in range(stop):
        s = xorshift(s)
        lba = s % (region - maxb + 1)
        s = xorshift(s)
        n = 1 + s % maxb
        for b in range(n):
            versions.setdefault(lba + b, []).append(i)
    flushed = (kill // fe) * fe if kill and fe else (0 if kill else writes)
    zero = bytes(bs)
    bad = checked = newest = 0
    with open(img, "rb") as f:
        data = f.read(region * bs)
    for lba in range(region):
        got = data[lba * bs:(lba + 1) * bs]
        vs = versions.get(lba, [])
        before = [v for v in vs if v < flushed]
        allowed = [block(seed, before[-1], lba, bs) if before else zero]
        allowed += [block(seed, v, lba, bs) for v in vs if v >= flushed]
        checked += 1
        if got not in allowed:
            bad += 1
            if bad <= 5:
                print(f"block {lba}: none of the {len(allowed)} allowed versions "
                      f"(writes {vs[-3:] if vs else 'none'}, flushed up to write {flushed})")
        elif vs and got == block(seed, vs[-1], lba, bs):
            newest += 1
    print(f"cachecheck: {checked} blocks checked, {bad} bad, {newest} newest, "
          f"{len(versions)} written, flushed through write {flushed} of {stop}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
