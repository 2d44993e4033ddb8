"""``match`` on libami's events and answers (structural pattern matching is Python 3.10 syntax:
conftest.py leaves this module out on Python 3.9, where the rest of the suite runs)."""

import pytest

import libami
import libami.events
from test_client_bytes import drain, ready


def message(raw):
    return libami.Message.parse(raw)


def test_native_events_and_answers_match_by_position():
    ev = libami.Event(message(b"Event: Hangup\r\nChannel: PJSIP/1\r\n\r\n"))
    match ev:
        case libami.Event(msg):
            assert msg["Channel"] == "PJSIP/1"
        case _:
            pytest.fail("Event did not match")
    resp = libami.Response("a-1", message(b"Response: Success\r\n\r\n"), True)
    match resp:
        case libami.Response(action_id, _, complete):
            assert (action_id, complete) == ("a-1", True)
        case _:
            pytest.fail("Response did not match")


def test_command_output_matches_by_position():
    c = ready()
    current = c.send_action("Command", {"Command": "core show version"}, now=0.0)
    c.receive_data(
        f"Response: Success\r\nActionID: {current}\r\nMessage: Command output follows\r\n"
        f"Output: Asterisk 22.10.1\r\nOutput: built by me\r\n\r\n".encode()
    )
    (a,) = drain(c)
    match a:
        case libami.CommandOutput(action_id, _, lines, success):
            assert (action_id, lines, success) == (current, ["Asterisk 22.10.1", "built by me"], True)
        case _:
            raise AssertionError(a)


def test_typed_events_match_by_keyword_and_unknown_ones_by_name():
    event = libami.events.typed(message(b"Event: Hangup\r\nChannel: PJSIP/1-0001\r\nCause: 16\r\n\r\n"))
    match event:
        case libami.events.Hangup(channel="PJSIP/1-0001", cause=cause, cause_txt=None):
            assert cause == "16"
        case _:
            pytest.fail("no match")
    other = libami.events.typed(message(b"Event: MyEvent\r\nA: 1\r\n\r\n"))
    match other:
        case libami.events.UnknownEvent(name):
            assert name == "MyEvent"
        case _:
            pytest.fail("no match")
