"""Decoding: the real Asterisk 22 captures in random chunks, the mapping behaviour of messages,
surrogateescape, frame errors and pattern matching."""

import inspect
import random
import threading
from collections.abc import Mapping

import pytest

import libami
from conftest import CAPTURES, capture_files

SERVER_OUTPUT = capture_files("server_to_client.bin")
CLIENT_OUTPUT = capture_files("client_to_server.bin")


def decode(data, role, chunks):
    d = libami.Decoder(role)
    out = []
    for chunk in chunks(data):
        d.feed(chunk)
        out.extend(d)
    return out


def whole(data):
    return [data]


def random_chunks(seed):
    def split(data):
        rng = random.Random(seed)
        i = 0
        while i < len(data):
            n = rng.randint(1, 97)
            yield data[i : i + n]
            i += n

    return split


def test_there_are_captures():
    assert len(SERVER_OUTPUT) >= 30, CAPTURES
    assert len(CLIENT_OUTPUT) >= 30


@pytest.mark.parametrize("path", SERVER_OUTPUT, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_server_output_decodes_the_same_in_random_chunks(path):
    data = path.read_bytes()
    reference = decode(data, "client", whole)
    assert reference, "every capture holds at least the banner"
    assert isinstance(reference[0], libami.Banner)
    assert reference[0].version == "11.0.0" and reference[0].kind == "banner"
    assert all(m.kind in ("response", "event") for m in reference[1:] if m.error is None)
    for seed in range(3):
        assert decode(data, "client", random_chunks(seed)) == reference
    # No byte is lost: the banner line and the messages' raw bytes give back the stream
    # (up to a trailing partial message, which stays buffered).
    rebuilt = reference[0].line.encode() + b"\r\n" + b"".join(m.raw for m in reference[1:])
    if all(m.error is None for m in reference[1:]):
        assert data.startswith(rebuilt)


@pytest.mark.parametrize("path", CLIENT_OUTPUT, ids=lambda p: str(p.relative_to(CAPTURES)))
def test_client_output_decodes_the_same_byte_by_byte(path):
    data = path.read_bytes()
    reference = decode(data, "server", whole)
    one_by_one = decode(data, "server", lambda d: (d[i : i + 1] for i in range(len(d))))
    assert one_by_one == reference
    assert all(m.kind in ("action", "unknown") for m in reference)


def test_pipelined_actions_capture_has_the_expected_actions():
    data = (CAPTURES / "pipelined-actions" / "client_to_server.bin").read_bytes()
    actions = [m for m in decode(data, "server", whole) if m.kind == "action"]
    assert actions[0].name == "Login"
    assert len({m.action_id for m in actions if m.action_id}) == len([m for m in actions if m.action_id])


def message(text: bytes) -> libami.Message:
    return libami.Message.parse(text)


def test_message_is_a_case_insensitive_read_only_mapping():
    m = message(b"Event: Newchannel\r\nChannel: PJSIP/100\r\nchannel: second\r\nOutput: a\r\n\r\n")
    assert isinstance(m, Mapping)
    assert m.kind == "event" and m.name == "Newchannel"
    assert m["CHANNEL"] == "PJSIP/100"
    assert m.get("channel") == "PJSIP/100"
    assert m.get_all("Channel") == ["PJSIP/100", "second"]
    assert m.get("Missing") is None and m.get("Missing", "x") == "x"
    assert "event" in m and "Missing" not in m
    with pytest.raises(KeyError):
        m["Missing"]
    assert list(m) == ["Event", "Channel", "Output"]
    assert len(m) == 3
    assert m.items() == [
        ("Event", "Newchannel"),
        ("Channel", "PJSIP/100"),
        ("channel", "second"),
        ("Output", "a"),
    ]
    assert dict(m) == {"Event": "Newchannel", "Channel": "PJSIP/100", "Output": "a"}
    assert m.raw.endswith(b"\r\n\r\n")
    with pytest.raises((AttributeError, TypeError)):
        m["Channel"] = "x"  # type: ignore[index]


def test_get_takes_its_arguments_like_dict_get():
    m = message(b"Event: Hangup\r\nChannel: PJSIP/100\r\nEmpty: \r\n\r\n")
    assert m.get(b"CHANNEL") == "PJSIP/100"
    assert m.get("Empty", "x") == ""  # present but empty is not missing
    sentinel = object()
    assert m.get("Missing", sentinel) is sentinel
    assert m.get("Missing", None) is None
    like_dict_get = inspect.signature(lambda self, name, default=None, /: None)
    for cls in (libami.Message, libami.Event, libami.ServerAction):
        assert inspect.signature(cls.get) == like_dict_get, cls
    ev = libami.Event(m)
    assert ev.get("channel") == "PJSIP/100" and ev.get("Missing", sentinel) is sentinel
    with pytest.raises(TypeError, match="1 or 2 positional arguments \\(0 given\\)"):
        m.get()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="\\(3 given\\)"):
        m.get("a", "b", "c")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="keyword"):
        m.get(name="Channel")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        libami.Message.get(object(), "Channel")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected str, bytes"):
        m.get(object())  # type: ignore[arg-type]


def test_invalid_utf8_survives_with_surrogateescape():
    raw = b"Event: UserEvent\r\nData: caf\xe9 \xff\r\n\r\n"
    m = message(raw)
    value = m["Data"]
    assert value == "caf\udce9 \udcff"
    assert value.encode("utf-8", "surrogateescape") == b"caf\xe9 \xff"
    assert m.get_bytes("data") == b"caf\xe9 \xff"
    assert m.raw == raw



def test_short_values_read_again_are_always_the_values_of_this_message():
    # Short values come from a cache of str objects: thousands of distinct values (more than
    # it holds, so slots are shared and replaced), read twice, interleaved with a recurring
    # one and with bytes that are not UTF-8, must each read back as their own message's.
    rng = random.Random(5)
    values = [f"PJSIP/{i}-{rng.randrange(16**8):08x}" for i in range(3000)]
    values += ["Up", "", " lead", "caf\udce9", "x" * 48, "y" * 49]
    rng.shuffle(values)
    stream = b"".join(
        b"Event: Newstate\r\nChannel: "
        + v.encode("utf-8", "surrogateescape")
        + b"\r\nChannelStateDesc: Up\r\n\r\n"
        for v in values
    )
    decoder = libami.Decoder("client")
    decoder.feed(b"Asterisk Call Manager/11.0.0\r\n" + stream)
    events = [m for m in decoder if m.kind == "event"]
    assert len(events) == len(values)
    for m, v in zip(events, values):
        assert m["Channel"] == v and m.get("ChannelStateDesc") == "Up"
        assert m.get("channel") == v
        assert m["Channel"].encode("utf-8", "surrogateescape") == m.get_bytes("Channel")


def test_threads_reading_at_once_each_get_their_own_values():
    # Keys and short values are cached per thread: threads reading different messages with
    # different (and more than cached) key objects at the same time must each read back exactly
    # their own messages' values.
    def work(t, out):
        rng = random.Random(t)
        names = ["".join(rng.choice("ABCdef") for _ in range(6)) + str(i) for i in range(100)]
        events = []
        for i in range(400):
            name = names[i % len(names)]
            value = f"PJSIP/{t}-{rng.randrange(16**6):06x}"
            raw = f"Event: T{t}\r\n{name}: {value}\r\n\r\n".encode()
            events.append((raw, name, value))
        decoder = libami.Decoder("client")
        decoder.feed(b"Asterisk Call Manager/11.0.0\r\n")
        list(decoder)
        bad = 0
        for raw, name, value in events:
            decoder.feed(raw)
            (m,) = list(decoder)
            key = "".join(name)  # a new str object each time, not the one cached
            if m[key] != value or m.get(name) != value or m["Event"] != f"T{t}":
                bad += 1
        out[t] = bad

    out = {}
    threads = [threading.Thread(target=work, args=(t, out)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert out == {0: 0, 1: 0, 2: 0, 3: 0}


def test_names_are_looked_up_by_their_exact_bytes():
    m = message(b"Event: UserEvent\r\nN\xe9me: latin-1\r\nN\xc3\xa9me: utf-8\r\n\r\n")
    # A name that is not UTF-8 is reached by its surrogateescape text (or its bytes); the
    # same letters in UTF-8 are another name.
    assert m["N\udce9me"] == "latin-1" and m[b"N\xe9me"] == "latin-1"
    assert m["Néme"] == "utf-8" and m.get("NÉME") is None  # case folding is ASCII only
    assert m.get("n\udce9ME") == "latin-1"
    assert "N\udce9me" in m and "N\udcffme" not in m


def test_values_follow_the_client_rule():
    m = message(b"Response: Success\r\nMessage:  two spaces \r\n\r\n")
    assert m["Message"] == " two spaces "


def test_parse_refuses_incomplete_or_several_messages():
    with pytest.raises(libami.RemoteProtocolError):
        libami.Message.parse(b"Event: X\r\n")
    with pytest.raises(libami.RemoteProtocolError):
        libami.Message.parse(b"Event: X\r\n\r\nEvent: Y\r\n\r\n")


def test_a_message_over_the_limits_keeps_its_lines_and_the_stream_goes_on():
    d = libami.Decoder("server")
    too_long = b"Action: Ping\r\nX: " + b"a" * 2000 + b"\r\n\r\nAction: Ping\r\n\r\n"
    d.feed(too_long)
    first, second = list(d)
    assert first.error is not None
    assert second.error is None and second.name == "Ping"


def test_decoder_accepts_any_bytes_like_and_refuses_str():
    d = libami.Decoder()
    d.feed(bytearray(b"Asterisk Call Manager/11.0.0\r\n"))
    d.feed(memoryview(b"Response: Success\r\n\r\n"))
    assert [type(x) for x in d] == [libami.Banner, libami.Message]
    with pytest.raises(TypeError):
        d.feed("text")  # type: ignore[arg-type]


def test_feeds_of_any_kind_read_in_any_rhythm_give_the_same_items():
    # bytes and bytearray chunks, fed again before the last one is read, or read one item at a
    # time with the decoder's state asked in between: the items are those of one whole feed.
    data = b"".join(p.read_bytes() for p in SERVER_OUTPUT[:5])
    reference = decode(data, "client", whole)
    rng = random.Random(7)
    d = libami.Decoder()
    out = []
    i = 0
    while i < len(data):
        n = rng.randint(1, 2000)
        chunk = data[i : i + n]
        i += n
        how = rng.randrange(4)
        if how == 0:
            d.feed(bytearray(chunk))  # copied at once
        else:
            d.feed(chunk)
        if how == 1:
            continue  # fed again before anything is read
        if how == 2:
            item = d.next_item()  # one item, then the rest is left for later
            if item is not None:
                out.append(item)
            assert 0 <= d.buffered <= i  # never more than was fed
            assert isinstance(d.is_mid_message, bool)
            continue
        out.extend(d)
    out.extend(d)
    assert out == reference


def test_a_bytearray_changed_after_feed_does_not_change_what_is_decoded():
    d = libami.Decoder("server")
    data = bytearray(b"Action: Ping\r\nActionID: 1\r\n\r\n")
    d.feed(data)
    data[:] = b"X" * len(data)
    (m,) = list(d)
    assert m.name == "Ping" and m["ActionID"] == "1"


def test_buffered_counts_the_unread_end_of_a_fed_bytes_object():
    d = libami.Decoder("server")
    d.feed(b"Action: Ping\r\n\r\nAction: Log")
    assert d.buffered == len(b"Action: Ping\r\n\r\nAction: Log")
    assert [m.name for m in d] == ["Ping"]
    assert d.buffered == len(b"Action: Log") and d.is_mid_message
    d.feed(b"off\r\n\r\n")
    assert [m.name for m in d] == ["Logoff"] and d.buffered == 0


def test_decoder_role_is_checked():
    with pytest.raises(ValueError):
        libami.Decoder("both")


def test_events_have_match_args():
    """(The ``match`` statements themselves, Python 3.10 syntax: test_pattern_matching.py.)"""
    ev = libami.Event(message(b"Event: Hangup\r\nChannel: PJSIP/1\r\n\r\n"))
    assert libami.Event.__match_args__ == ("message",) and ev.message["Channel"] == "PJSIP/1"
    assert ev.name == "Hangup" and ev["Channel"] == "PJSIP/1"
    resp = libami.Response("a-1", message(b"Response: Success\r\n\r\n"), True)
    assert (resp.action_id, resp.complete) == ("a-1", True)
    assert libami.Response.__match_args__ == ("action_id", "message", "complete")


def test_events_are_frozen_and_compare_by_value():
    a = libami.ActionTimedOut("x")
    assert a == libami.ActionTimedOut("x")
    assert a != libami.ActionTimedOut("y")
    with pytest.raises(AttributeError):
        a.action_id = "z"  # type: ignore[misc]
    assert repr(a) == "ActionTimedOut(action_id='x')"
    assert repr(libami.NEED_DATA) == "NEED_DATA"


# Traffic from older installations, built from the protocol's rules (Asterisk 13 manager.c,
# action_command: the CLI text as printed, then --END COMMAND--).


def test_bare_lines_are_visible_in_lines_with_no_name():
    d = libami.Decoder("client")
    d.feed(b"Asterisk Call Manager/1.3\r\nResponse: Success\r\nNo categories found\r\n\r\n")
    _, m = list(d)
    assert m.lines() == [("Response", "Success"), (None, "No categories found")]
    assert m.items() == [("Response", "Success")]
    assert list(m) == ["Response"]


def test_a_reply_with_no_header_at_all_is_a_message_of_bare_lines():
    d = libami.Decoder("client")
    d.feed(b"Asterisk Call Manager/1.3\r\nNo queues have been created.\r\n\r\n\r\n")
    _, m = list(d)
    assert m.kind == "unknown"
    assert m.lines() == [(None, "No queues have been created.")]
    assert len(m) == 0 and m.error is None


def test_legacy_command_output_beginning_with_blank_lines_is_one_message():
    d = libami.Decoder("client")
    d.feed(
        b"Asterisk Call Manager/1.3\r\nResponse: Follows\r\nPrivilege: Command\r\nActionID: 4\r\n"
        b"\n\nName\r\nrow 1\r\n--END COMMAND--\r\n\r\nEvent: After\r\n\r\n"
    )
    items = list(d)
    assert [type(i).__name__ for i in items] == ["Banner", "Message", "Message"]
    assert items[1].action_id == "4" and items[1].error is None
    assert items[2]["Event"] == "After"


def test_legacy_command_output_loses_the_cr_of_its_lines_in_the_client():
    c = libami.ClientConnection()
    c.receive_data(b"Asterisk Call Manager/1.3\r\n")
    while c.next_event() is not libami.NEED_DATA:
        pass
    login_id = c.login("admin", "pw", auth="plain")
    c.receive_data(
        b"Response: Success\r\nActionID: "
        + login_id.encode()
        + b"\r\nMessage: Authentication accepted\r\n\r\n"
    )
    while c.next_event() is not libami.NEED_DATA:
        pass
    action_id = c.send_action("Command", {"Command": "core show version"})
    c.receive_data(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: "
        + action_id.encode()
        + b"\r\n\nAsterisk 13.38.3\r\nbuilt by x\r\n--END COMMAND--\r\n\r\n"
    )
    events = []
    while (e := c.next_event()) is not libami.NEED_DATA:
        events.append(e)
    (out,) = [e for e in events if type(e).__name__ == "CommandOutput"]
    assert out.lines == ["", "Asterisk 13.38.3", "built by x"]


def test_a_non_ami_greeting_is_reported_at_once():
    d = libami.Decoder("client")
    d.feed(b"HTTP/1.1 200 OK\r\nServer: nginx\r\n")
    (m,) = list(d)
    assert m.error is not None and m.error.startswith("not an AMI server")
    assert m.lines() == [(None, "HTTP/1.1 200 OK")]
