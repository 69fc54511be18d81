#!/usr/bin/env python3
"""Minimal QMP client (stdlib only).

usage: qmp.py SOCKET [--timeout S] [--wait-event EVENT[:DEVICE]]... CMD...

Each CMD is a JSON object, e.g. '{"execute":"device_del","arguments":{"id":"d0"}}'
or the short form 'device_del id=d0' (string arguments; ints/bools with
name:=json, e.g. 'lun:=3').  Prints each command's "return" as JSON, one per
line.  After all commands, waits for every --wait-event (optionally only one
whose data.device equals DEVICE).  Exit 1 on error or timeout.
"""
import json
import socket
import sys
import time


def parse_cmd(s):
    s = s.strip()
    if s.startswith('{'):
        return json.loads(s)
    parts = s.split()
    args = {}
    for p in parts[1:]:
        if ':=' in p:
            k, v = p.split(':=', 1)
            args[k] = json.loads(v)
        else:
            k, v = p.split('=', 1)
            args[k] = v
    cmd = {'execute': parts[0]}
    if args:
        cmd['arguments'] = args
    return cmd


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    path = argv[1]
    timeout = 30.0
    waits = []
    cmds = []
    i = 2
    while i < len(argv):
        a = argv[i]
        if a == '--timeout':
            timeout = float(argv[i + 1]); i += 2; continue
        if a == '--wait-event':
            ev, _, dev = argv[i + 1].partition(':')
            waits.append((ev, dev or None)); i += 2; continue
        cmds.append(parse_cmd(a)); i += 1

    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    while True:
        try:
            sock.connect(path)
            break
        except OSError as e:
            if time.monotonic() > deadline:
                print('qmp: cannot connect to %s: %s' % (path, e), file=sys.stderr)
                return 1
            time.sleep(0.1)
    f = sock.makefile('rwb', buffering=0)
    events = []

    def read_msg():
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            line = f.readline()
            if not line:
                raise EOFError('QMP connection closed')
            line = line.strip()
            if line:
                return json.loads(line)

    def send(cmd):
        f.write(json.dumps(cmd).encode() + b'\n')
        while True:
            m = read_msg()
            if 'event' in m:
                events.append(m)
                continue
            if 'return' in m or 'error' in m:
                return m

    try:
        read_msg()  # greeting
        r = send({'execute': 'qmp_capabilities'})
        if 'error' in r:
            print('qmp: %s' % r['error'], file=sys.stderr)
            return 1
        for c in cmds:
            r = send(c)
            if 'error' in r:
                print('qmp: %s -> error %s' % (json.dumps(c), r['error'].get('desc')),
                      file=sys.stderr)
                return 1
            print(json.dumps(r['return']))

        def matches(m, ev, dev):
            return m.get('event') == ev and (
                dev is None or m.get('data', {}).get('device') == dev)

        for ev, dev in waits:
            while not any(matches(m, ev, dev) for m in events):
                events.append(read_msg())
            print('event %s%s' % (ev, ' ' + dev if dev else ''))
    except TimeoutError:
        print('qmp: timeout after %.0fs (waiting for %s)' %
              (timeout, ', '.join('%s:%s' % w for w in waits) or 'reply'),
              file=sys.stderr)
        return 1
    except (OSError, EOFError, ValueError) as e:
        print('qmp: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
