"""The Rust Server, driven from Python with what a real client sent to Asterisk 22, answers
with Asterisk's responses (run-dependent values such as timestamps aside)."""

import pytest

import libami
from conftest import CAPTURES


# Scenarios with one connection whose every action the server answers itself.
SCENARIOS = [
    "ping",
    "logoff",
    "login-plaintext-ok",
    "login-wrong-password",
    "login-unknown-user",
    "actions-before-login",
    "permission-denied-reader",
    "listcommands-admin",
    "listcommands-reader",
    "malformed-no-colon",
]

RUN_DEPENDENT = {"timestamp", "uptime", "lastreload"}


def decode(data):
    d = libami.Decoder("client")
    d.feed(data)
    return [m for m in d if m.kind != "banner"]


def responses(messages):
    return [
        [(n, v) for n, v in m.items() if n.lower() not in RUN_DEPENDENT]
        for m in messages
        if m.kind == "response"
    ]


def serve_capture(scenario):
    config = libami.ManagerConfig.from_path(CAPTURES / "manager.conf")
    server = libami.Server(config, modules=list(libami.CAPTURE_MODULES), now=0.0)
    sid = server.accept("127.0.0.1:45196", now=0.0)
    out = bytearray()
    server.receive_data(sid, (CAPTURES / scenario / "client_to_server.bin").read_bytes(), now=0.0)
    server.receive_data(sid, b"", now=0.0)
    for _ in range(10):
        while (ev := server.next_event()) is not libami.NEED_DATA:
            assert not isinstance(ev, libami.ActionReceived), f"{scenario}: {ev.action.name} needs a PBX"
        out += server.data_to_send(sid)
        deadline = server.next_timeout()
        if deadline is None:
            break
        server.handle_timeout(now=deadline)
    return bytes(out)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_server_answers_like_asterisk(scenario):
    ours = serve_capture(scenario)
    theirs = (CAPTURES / scenario / "server_to_client.bin").read_bytes()
    assert ours.startswith(b"Asterisk Call Manager/11.0.0\r\n")
    expected = responses(decode(theirs))
    assert expected, "every scenario has responses"
    assert responses(decode(ours)) == expected
