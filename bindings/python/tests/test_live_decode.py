"""The decoder from Python on a real Asterisk 22 session (the `private_asterisk` fixture): the
bytes one client received during a real call — banner, login, an Originate with its ~40 events
(CEL included), a ListCommands answer, Command output — recorded straight off the socket, fed to
`libami.Decoder` whole, byte by byte and in random chunks: every `Message.lines()` is what a
naive split of the same bytes gives (Asterisk 22 writes plain CRLF `Name: value` lines), and the
messages' `raw` bytes put back together are the capture."""

import random
import socket
import time

import libami

CALL_TIMEOUT = 30.0
TAIL = 0.3
MAX_CAPTURE = 8 << 20


def record_call(ast):
    """Every byte Asterisk sends to an admin session (all events) while `Local/simple@amitest`
    runs, with ListCommands and `core show version` asked meanwhile, until both Local channels
    have hung up and both CDRs are posted, plus a short tail."""
    with socket.create_connection((ast.host, ast.port), timeout=10) as s:
        s.sendall(
            b"Action: Login\r\nActionID: login\r\nUsername: admin\r\nSecret: admin123\r\nEvents: on\r\n\r\n"
            b"Action: Originate\r\nActionID: call\r\nChannel: Local/simple@amitest\r\n"
            b"Application: Wait\r\nData: 1\r\nAsync: true\r\n\r\n"
            b"Action: ListCommands\r\nActionID: commands\r\n\r\n"
            b"Action: Command\r\nActionID: version\r\nCommand: core show version\r\n\r\n"
        )
        out = bytearray()
        deadline = time.monotonic() + CALL_TIMEOUT
        ended = None
        while True:
            until = ended + TAIL if ended is not None else deadline
            left = until - time.monotonic()
            if left <= 0:
                assert ended is not None, f"the call did not end in {CALL_TIMEOUT} s: {bytes(out)!r}"
                return bytes(out)
            s.settimeout(left)
            try:
                chunk = s.recv(16384)
            except socket.timeout:
                continue
            assert chunk, "Asterisk closed the connection"
            out += chunk
            assert len(out) <= MAX_CAPTURE
            if (
                ended is None
                and out.count(b"\r\nEvent: Hangup\r\n") >= 2
                and out.count(b"\r\nEvent: Cdr\r\n") >= 2
                and out.endswith(b"\r\n\r\n")
            ):
                ended = time.monotonic()


def naive_split(capture):
    """The banner line, then each message's lines as (name, value) — value after the first colon
    less one space, None as the name of a line without a colon — decoded as libami does."""
    text = lambda b: b.decode("utf-8", "surrogateescape")  # noqa: E731
    banner, _, rest = capture.partition(b"\r\n")
    messages = []
    for block in rest.split(b"\r\n\r\n")[:-1]:
        lines = []
        for line in block.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if colon:
                lines.append((text(name), text(value[1:] if value.startswith(b" ") else value)))
            else:
                lines.append((None, text(line)))
        messages.append(lines)
    return text(banner), messages


def decode(chunks):
    d = libami.Decoder()
    items = []
    for c in chunks:
        d.feed(c)
        items.extend(d)
    assert not d.is_mid_message and d.buffered == 0
    return items


def random_chunks(data, seed, biggest):
    rng = random.Random(seed)
    at = 0
    while at < len(data):
        n = rng.randint(1, biggest)
        yield data[at : at + n]
        at += n


def test_a_real_call_decodes_through_message_lines_as_a_naive_split(private_asterisk):
    capture = record_call(private_asterisk)
    banner, expected = naive_split(capture)

    items = decode([capture])
    assert isinstance(items[0], libami.Banner) and items[0].line == banner
    messages = items[1:]
    assert all(isinstance(m, libami.Message) for m in messages)
    events = [m.name for m in messages if m.kind == "event"]
    assert len(events) >= 30, events
    for name in ["Newchannel", "VarSet", "UserEvent", "CEL", "Hangup", "Cdr"]:
        assert name in events, name
    assert max(len(m.lines()) for m in messages) > 100, "ListCommands lists over 100 actions"

    assert len(messages) == len(expected)
    for i, (m, lines) in enumerate(zip(messages, expected)):
        assert m.lines() == lines, f"message {i}"
    # Nothing lost or added: the raw bytes of the messages are the capture after the banner.
    assert b"".join(m.raw for m in messages) == capture[len(banner) + 2 :]

    whole = [m.lines() for m in messages]
    assert [m.lines() for m in decode(capture[i : i + 1] for i in range(len(capture)))[1:]] == whole
    for seed in range(8):
        for biggest in (7, 97, 1500, 70_000):
            got = decode(random_chunks(capture, seed, biggest))
            assert [m.lines() for m in got[1:]] == whole, (seed, biggest)
