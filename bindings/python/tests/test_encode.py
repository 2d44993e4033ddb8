"""Encoding: exact bytes, and refusal of every way to inject a line or change a name."""

import pytest

import libami


def test_action_bytes():
    assert libami.encode_action("Originate", [("Channel", "Local/1@x"), ("Timeout", 30000)], action_id="a1") == (
        b"Action: Originate\r\nActionID: a1\r\nChannel: Local/1@x\r\nTimeout: 30000\r\n\r\n"
    )
    assert libami.encode_action("Ping") == b"Action: Ping\r\n\r\n"
    assert libami.encode_action("Setvar", {"Value": b"\xff"}) == b"Action: Setvar\r\nValue: \xff\r\n\r\n"


def test_surrogateescape_text_encodes_back_to_the_original_bytes():
    assert libami.encode_action("Setvar", {"Value": "caf\udce9"}) == b"Action: Setvar\r\nValue: caf\xe9\r\n\r\n"


def test_response_and_event_bytes():
    assert libami.encode_response("Success", {"Ping": "Pong"}) == b"Response: Success\r\nPing: Pong\r\n\r\n"
    assert libami.encode_event("Hangup", [("Channel", "X")]) == b"Event: Hangup\r\nChannel: X\r\n\r\n"


@pytest.mark.parametrize(
    "fields",
    [
        {"Channel": "x\r\nAction: Originate"},
        {"Channel": "x\nAction: Originate"},
        {"Channel": "x\rAction: Originate"},
        {"Channel": "x\x00y"},
        {"Chan:nel": "x"},
        {"Chan\r\nnel": "x"},
        {" Channel": "x"},
        {"": "x"},
    ],
)
def test_injection_is_refused(fields):
    with pytest.raises(libami.LocalProtocolError):
        libami.encode_action("Ping", fields)
    with pytest.raises(libami.ProtocolError):
        libami.encode_event("X", fields)


def test_injection_in_the_name_and_action_id_is_refused():
    with pytest.raises(libami.LocalProtocolError):
        libami.encode_action("Ping\r\nAction: Originate")
    with pytest.raises(libami.LocalProtocolError):
        libami.encode_action("Ping", action_id="1\r\nAction: Originate")


def test_client_connection_refuses_injection_and_queues_nothing():
    c = libami.ClientConnection(require_login=False)
    with pytest.raises(libami.LocalProtocolError):
        c.send_action("Ping", {"X": "a\r\nAction: Originate"})
    assert c.data_to_send() == b""
    assert c.pending_actions == 0


def test_bad_field_types_are_type_errors():
    with pytest.raises(TypeError):
        libami.encode_action("Ping", [("X",)])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        libami.encode_action("Ping", {"X": object()})
