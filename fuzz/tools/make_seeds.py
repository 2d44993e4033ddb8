#!/usr/bin/env python3
"""Regenerates fuzz/seeds/ from the real Asterisk 22 captures and the spec's tricky cases (§9).

Run from the repository root: python3 fuzz/tools/make_seeds.py
The input formats are documented in fuzz/src/lib.rs, client.rs and server.rs.
"""
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAPS = os.path.join(ROOT, "crates/ami-proto/tests/data/asterisk-22")
OUT = os.path.join(ROOT, "fuzz/seeds")
SEP = b"\xff"
MAX = 4096


def captures():
    """(name, client_to_server, server_to_client, timeline splits of server_to_client)."""
    for dirpath, _, files in sorted(os.walk(CAPS)):
        if "server_to_client.bin" not in files:
            continue
        name = os.path.relpath(dirpath, CAPS).replace("/", "-")
        c2s = open(os.path.join(dirpath, "client_to_server.bin"), "rb").read()
        s2c = open(os.path.join(dirpath, "server_to_client.bin"), "rb").read()
        splits = []
        tl = os.path.join(dirpath, "timeline.tsv")
        if os.path.exists(tl):
            for line in open(tl):
                cols = line.rstrip("\n").split("\t")
                if len(cols) >= 4 and cols[1] == "S->C" and cols[3].isdigit():
                    splits.append(int(cols[3]))
        yield name, c2s, s2c, splits


def cut(data, limit=MAX - 64):
    """At most `limit` bytes, ending at a message boundary when there is one."""
    if len(data) <= limit:
        return data
    end = data.rfind(b"\r\n\r\n", 0, limit)
    return data[: end + 4] if end > 0 else data[:limit]


SPEC_WIRE = [
    b"Action: Login\nUsername: admin\nSecret: s3cret\n\n",
    b"\r\n",
    b"ActionID: 5\r\n\r\n",
    b"Action : Ping\r\n\r\n",
    b"action: pInG\r\nactionid: x\r\n\r\n",
    b"Action: Ping \r\n\r\n",
    b"Action: Ping\r\r\n\r\n",
    b"Action:\r\nAction: Ping\r\nAction: Logoff\r\n\r\n",
    b"Action: Ping\r\nActionID:\r\nActionID: 9\r\n\r\n",
    b"Action: Ping\r\nX: " + b"a" * 1020 + b"\r\nActionID: 7\r\n\r\n",
    b"Action: Ping\r\nX: " + b"a" * 1019 + b"\r\nActionID: 7\r\n\r\n",
    b"Action: Ping\r\nActionID: z\r\n" + b"X: y\r\n" * 127 + b"\r\n",
    b"Action: Ping\r\n\x00junk\r\n",
    b"Action: Events\r\nActionID: " + b"x" * 300 + b"\r\nEventMask: off\r\n\r\n",
    b"Action: UserEvent\r\nUserEvent: Foo\r\nActionID: 3\r\nBar:baz\r\n\r\n",
    b"Action: Logoff\r\n",
]

SPEC_S2C = [
    b"Asterisk Call Manager/13.0.0\r\n",
    b"Asterisk Call Manager/11.0.0\r\nResponse: Follows\r\nPrivilege: Command\r\nActionID: 1\r\nline\r\n\r\nmore\r\n--END COMMAND--\r\n\r\n",
    b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: " + b"x" * 245 + b"Events: Off\r\n\r\n",
    b"Asterisk Call Manager/11.0.0\r\n\r\n\r\nResponse: Success\r\nNo categories found\r\n\r\n",
]


# Traffic from older installations (Asterisk 13 manager.c action_command; bare lines; a non-AMI
# greeting) and lines around the framer's 64-byte blocks, for the decode target both with tiny
# limits (control 0x00) and with the client's own (0x80).
OLDER_S2C = [
    b"Asterisk Call Manager/1.3\r\nResponse: Follows\r\nPrivilege: Command\r\n\n\nName\r\nrow\r\n\r\nend\n--END COMMAND--\r\n\r\nEvent: X\r\n\r\n",
    b"Asterisk Call Manager/1.3\r\nNo queues have been created.\r\n\r\n\r\nResponse: Success\r\nNo categories found\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"Asterisk Call Manager/11.0.0\r\nEvent: Pad\r\nX: " + b"p" * 33 + b"\r\nY:" + b"q" * 59 + b"\r\nZ: " + b"r" * 120 + b"\n\r\n",
]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    assert len(data) <= MAX, (target, name, len(data))
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    open(os.path.join(d, safe), "wb").write(data)


def messages(wire):
    return [m for m in re.split(rb"\r?\n\r?\n", wire) if m.strip()]


def fields(msg):
    out = []
    for line in re.split(rb"\r?\n", msg):
        if b":" in line:
            n, v = line.split(b":", 1)
            out.append((n, v[1:] if v.startswith(b" ") else v))
    return out


def u16(n):
    return struct.pack("<H", n)


def blob(b):
    b = b[:65535]
    return u16(len(b)) + b


def short(b):
    b = b[:255]
    return bytes([len(b)]) + b


def wire_targets():
    for name, c2s, s2c, _ in captures():
        write("decode", name + "-s2c", b"\x10" + cut(s2c))
        write("decode", name + "-c2s", b"\x11" + cut(c2s))
        write("parse_message", name + "-c2s", b"\x01" + cut(c2s))
        # parse_message has no banner: drop it
        body = s2c.split(b"\r\n", 1)[1] if s2c.startswith(b"Asterisk") else s2c
        write("parse_message", name + "-s2c", b"\x00" + cut(body))
    for i, w in enumerate(SPEC_WIRE):
        write("decode", f"spec-c2s-{i}", b"\x01" + w)
        write("decode", f"spec-c2s-{i}-chunk3", b"\x05" + w)
        write("parse_message", f"spec-c2s-{i}", b"\x01" + w)
    for i, w in enumerate(OLDER_S2C):
        write("decode", f"older-s2c-{i}", b"\x00" + w)
        write("decode", f"older-s2c-{i}-client-limits", b"\x80" + w)
    for i, w in enumerate(SPEC_S2C):
        write("decode", f"spec-s2c-{i}", b"\x00" + w)
        write("parse_message", f"spec-s2c-{i}", b"\x00" + w.split(b"\r\n", 1)[1])


def roundtrip():
    seen = set()
    for name, c2s, s2c, _ in captures():
        for kind, wire in ((0, c2s), (None, s2c)):
            for m in messages(wire):
                f = fields(m)
                if not f:
                    continue
                first = f[0][0].lower()
                k = kind if kind is not None else (1 if first == b"response" else 2)
                key = (k, f[0][1])
                if key in seen or first not in (b"action", b"response", b"event"):
                    continue
                seen.add(key)
                toks = [f[0][1]] + [x for nv in f[1:] for x in nv]
                data = bytes([k]) + SEP.join(toks)
                if len(data) <= MAX:
                    write("roundtrip", f"{name}-{len(seen)}", data)
    tricky = [
        (0, [b"Ping", b"ActionID", b"1\r\nAction: Logoff"]),
        (0, [b"Ping", b"X", b" leading blank"]),
        (1, [b"Success", b"Message", b" leading blank is fine for a client"]),
        (2, [b"Newchannel", b"Channel", b"PJSIP/100\x00x"]),
        (2, [b"Hangup", b"Bad: name", b"v"]),
        (2, [b"Hangup", b" Name", b"v"]),
        (2, [b"Hangup", b"", b"v"]),
        (1, [b"Follows", b"Privilege", b"Command"]),
        (0, [b"Ping\rx", b"A", b"B"]),
        (1, [b"Success", b"Trailing", b"blanks  \t"]),
        (0, [b"Originate", b"Data", b"a" * 1018]),
    ]
    for i, (k, toks) in enumerate(tricky):
        write("roundtrip", f"tricky-{i}", bytes([k]) + SEP.join(toks))


def client_session():
    for name, _, s2c, splits in captures():
        prog = bytearray([0x03])  # timeouts, keepalive
        prog += b"\x02\x00" + short(b"admin") + short(b"admin123")
        pos = 0
        for n in (splits or [len(s2c)]):
            if pos >= len(s2c) or len(prog) > MAX - 300:
                break
            chunk = s2c[pos : pos + n]
            pos += n
            prog += b"\x00" + blob(chunk[: MAX - len(prog) - 8])
        prog += b"\x04" + u16(200) + b"\x05"
        write("client_session", name, bytes(prog[:MAX]))
    # canned flows: banner, login, answer; actions of each kind answered by each template
    for t in range(10):
        prog = bytearray([0x07, 8])
        prog += b"\x02\x00" + short(b"admin") + short(b"s3cret") + bytes([7, 0, 5])
        prog += bytes([1, t, 1, 2]) + short(b"PJSIP/100") + b"\x00"
        prog += bytes([7, 1, t]) + bytes([6]) + u16(4096)
        prog += bytes([4]) + u16(1000) + bytes([3, 7, 2, 8, 5])
        write("client_session", f"canned-{t}", bytes(prog))
    md5 = bytearray([0x01, 8, 2, 1]) + short(b"admin") + short(b"mysecret") + bytes([7, 0, 6, 7, 1, 5, 6]) + u16(999)
    write("client_session", "md5-login", bytes(md5))


SECRETS = [(b"admin123", b"adm1n"), (b"reader123", b"m0n"), (b"limited123", b"c4ll"),
           (b"Username: reader", b"Username: monitor"), (b"Username: limited", b"Username: caller")]


def server_session():
    for name, c2s, _, _ in captures():
        data = c2s
        for a, b in SECRETS:
            data = data.replace(a, b)
        prog = bytearray([0, 0])  # accept from 127.0.0.1
        prog += b"\x01\x00" + blob(data[: MAX - 64])
        prog += bytes([9, 0, 9, 2, 9, 3, 9, 4, 5]) + u16(100) + bytes([8, 0]) + u16(65535) + bytes([6, 0])
        write("server_session", name, bytes(prog))
    # every user logs in, every action is tried, events of many categories are published
    for u in range(7):
        prog = bytearray([0, 0, 0, 3])  # two sessions, the second over IPv6
        prog += bytes([2, 0, u, 2 | (u % 5) << 2, 2, 1, 0, 0])
        for a in range(22):
            prog += bytes([3, a % 2, a, 3, a % 20, (a * 7) % 20, (a * 3) % 20, 9, a % 6])
        for c in (0x02, 0x01, 0x06, 0x40000, 0x10, 0x41, 0x200, 0x7F):
            prog += bytes([4, c % 10, c & 0xFF, c >> 8 & 0xFF, c >> 16 & 0xFF]) + short(b"PJSIP/1")
        prog += bytes([9, 5, 4, 1, 2, 0, 0, 9, 0, 5]) + u16(400) + bytes([8, 0]) + u16(100)
        prog += bytes([10, 3, 0, 0, 0, 10, 6, 1, 5]) + u16(65535) + bytes([7, 0])
        write("server_session", f"user-{u}", bytes(prog))
    for i, w in enumerate(SPEC_WIRE):
        prog = bytearray([0, 0, 2, 0, 0, 0]) + b"\x01\x00" + blob(w) + bytes([9, 0, 9, 3])
        write("server_session", f"spec-{i}", bytes(prog))


CONFIGS = [
    "[general]\nenabled = yes\n[admin]\nsecret = s3cret\nread = all\nwrite = all\n",
    "[general]\nenabled=yes\n[u]\nsecret=x\nread=,call\nwrite=Call\n[v]\nread=call, log\nwrite=sys,call\nread=system\nread=call\n",
    "[general]\nenabled = yes\n[f]\nsecret=f\neventfilter(name(Newchannel)) = X\neventfilter(name(Newchannel),method(contains)) = X\nEventFilter = Event: Newchannel\nREAD=call\neventfilter=^Event: Newchannel\neventfilter=!Channel: Local/\n",
    "[general]\nenabled=yes\n[acl]\nsecret=a\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\n[gone]\nsecret=g\npermit=127.0.0.1:5038\n[named]\nacl=local,nosuch\n",
    "[general]\nenabled=yes\n#include \"users.conf\"\n#tryinclude extra/*.conf\n#include nosuch.conf\n[tpl](!)\nread=all\n[alice](tpl)\nsecret=\n[nopw]\n",
    "[general]\nenabled=yes\nauthlimit=0\nauthtimeout=-1\nport=99999\nbindaddr=::1\nhttptimeout=0\ntimestampevents=maybe\ndisabledevents=Newexten,VarSet\n[general]\nport=1\n[Admin]\nsecret=1\n[admin]\nwritetimeout=50\nsetvar=A=b\nsetvar=noequals\n",
    "[general]\n[broken\nsecret=x\n",
    "secret = before any category\n",
    "[general];comment\nenabled = yes ; trailing\n[u] ; c\nsecret = a\\;b\n;--block\ncomment--;\nread => all\n",
]


def config():
    cap = open(os.path.join(CAPS, "manager.conf"), "rb").read()
    write("config", "asterisk-22-manager.conf", cap)
    for i, c in enumerate(CONFIGS):
        write("config", f"spec-{i}.conf", c.encode())


# config_edit programs (fuzz/src/edit.rs): op, name choice, then for add/update a field mask and
# one choice per field. Every operation on an existing user (choice < 128), then odd names.
EDIT_PROGRAMS = [
    bytes([1, 0, 0xFF, 0, 0x03, 0x00, 0x00, 0x02, 0x00, 2, 3, 0, 2, 0, 1, 64, 100, 1, 2]),
    bytes([1, 1, 0x08, 3, 0, 1, 2, 1, 2, 0x10, 2, 0, 2, 1, 3, 0x20, 0, 1, 5, 0x40, 0, 0]),
    bytes([0, 200, 0x0F, 0, 2, 0, 0, 0x10, 0, 3, 1, 0, 1, 2, 1, 201, 0x80, 2]),
    bytes([2, 0, 0, 3, 1, 4, 0, 0, 4, 1, 1, 3, 0x01, 255, 1, 130, 0x01, 1]),
    bytes([0, 130, 0x01, 4, 0, 131, 0, 0, 133, 0, 1, 2, 0x01, 3, 1, 4, 0x08, 1, 3]),
]
EDIT_EXTRA = [
    "[general]\r\nenabled = yes\r\n\r\n; admin\r\n[admin]\r\nsecret = Adm1n-Secret-99 ; old\r\nread = all\r\nwrite = all",
    "[tpl](!)\nread = call\npermit = 10.0.0.0/8\n[alice](tpl)\nsecret = x\n[bob](alice)\n[a]\nsecret=one\nsecret+=two\n",
    "[general]\nenabled=no\n#include users.conf\n#tryinclude extra/*.conf\n[c]\nread = all ;-- open\n--; write = call\n",
]


def config_edit():
    cap = open(os.path.join(CAPS, "manager.conf"), "rb").read()
    texts = [cap] + [c.encode() for c in CONFIGS + EDIT_EXTRA]
    for i, text in enumerate(texts):
        prog = EDIT_PROGRAMS[i % len(EDIT_PROGRAMS)]
        write("config_edit", f"edit-{i}", text + SEP + prog)


def perm():
    vals = [
        ("all", "on", b"\xff\xff\xff\x7f"), (",call", "off", b"\x02\x00\x00\x00"),
        ("Call", "foo", b"\x00\x40\x00\x00"), ("call, log", "Call", b""), ("sys,call", "1", b""),
        ("none", "4294967295", b""), ("", "", b""), ("system,call,log,verbose,command,agent,user,config,dtmf,reporting,cdr,dialplan,originate,agi,cc,aoc,test,security,message", "4294967297", b"\xff\xff\xff\xff"),
        ("call,,log", "system,call", b""), ("a", "yes", b""), ("originate ,  agi", "-1", b""),
        ("call\x00system", "call\x00system", b""),
    ]
    for i, (r, e, m) in enumerate(vals):
        write("perm", f"spec-{i}", r.encode() + SEP + e.encode() + SEP + m)


def acl():
    cases = [
        [b"deny", b"0.0.0.0/0.0.0.0", b"permit", b"127.0.0.1/255.255.255.255", b"::1"],
        [b"deny", b"0.0.0.0/0.0.0.0", b"permit", b"127.0.0.1/255.255.255.255", b"10.0.0.1"],
        [b"permit", b"127.0.0.1:5038", b"127.0.0.1"],
        [b"acl", b"local,empty,nosuch", b"127.0.0.1"],
        [b"acl", b"local,local", b"127.0.0.1"],
        [b"permit", b"::1/128", b"deny", b"::/0", b"::1"],
        [b"deny", b"10.0.0.0/8,192.168.0.0/16", b"192.168.1.1"],
        [b"permit", b"10.0.0.0/255.0.255.0", b"d", b"1.2.3.4/33", b"10.1.2.3"],
        [b"permit", b"fe80::1%eth0/64", b"deny", b"!10.0.0.0/8", b"\x0a\x00\x00\x01"],
        [b"PERMIT", b" 10.0.0.1 ", b"deny", b"", b"\x00" * 15 + b"\x01"],
        [b"deny", b"::ffff:127.0.0.1/96", b"::ffff:127.0.0.1"],
    ]
    for i, c in enumerate(cases):
        write("acl", f"spec-{i}", SEP.join(c))


def filter_():
    ev = (b"Newchannel", b"Channel: Local/100@default-0001;1\r\nUniqueid: 1")
    cases = [
        [b"eventfilter", b"^Event: Newchannel"],
        [b"eventfilter", b"^Channel:"],
        [b"eventfilter", b"!Channel: Local/"],
        [b"eventfilter(name(Newchannel))", b"X"],
        [b"eventfilter(name(Newchannel),method(contains))", b"Local"],
        [b"eventfilter(action(exclude),header(Channel),method(starts_with))", b"Local/"],
        [b"eventfilter(action(include),name(Hangup))", b"", b"eventfilter(method(regex))", b"Chan+el: [A-Z]"],
        [b"eventfilter(method(exact),header(Uniqueid))", b"1"],
        [b"eventfilter", b"[unclosed"],
        [b"eventfilter", b"(a|b)*{2,3}\\1"],
        [b"eventfilter(action(bogus))", b"x", b"EventFilter", b"y"],
    ]
    for i, c in enumerate(cases):
        write("filter", f"spec-{i}", SEP.join([ev[0], ev[1]] + c))


if __name__ == "__main__":
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    wire_targets()
    roundtrip()
    client_session()
    server_session()
    config()
    config_edit()
    perm()
    acl()
    filter_()
    total = 0
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        total += size
        print(f"{t}: {len(files)} seeds, {size} bytes")
    print(f"total {total} bytes")
