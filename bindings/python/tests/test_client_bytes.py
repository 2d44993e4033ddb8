"""ClientConnection fed with hand-written server bytes: correlation rules that need a PBX (async
Originate, Command output in both wire forms, keepalive, truncated input, malformed input)."""

import libami

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def ready(**options):
    """A connection that logged in with a plain login, at virtual time 0."""
    c = libami.ClientConnection("admin", "s", auth="plain", now=0.0, **options)
    login = c.data_to_send()
    assert login.startswith(b"Action: Login\r\nActionID: ami-1\r\n")
    c.receive_data(BANNER + b"Response: Success\r\nActionID: ami-1\r\nMessage: Authentication accepted\r\n\r\n")
    events = drain(c)
    assert isinstance(events[0], libami.Banner) and isinstance(events[1], libami.LoggedIn)
    return c


def drain(c):
    out = []
    while (ev := c.next_event()) is not libami.NEED_DATA:
        out.append(ev)
    return out


def test_async_originate_stays_pending_until_its_originate_response():
    c = ready()
    aid = c.send_action("Originate", {"Channel": "Local/1@x", "Exten": "1", "Async": "yes"}, now=0.0)
    c.receive_data(f"Response: Success\r\nActionID: {aid}\r\nMessage: Originate successfully queued\r\n\r\n".encode())
    (first,) = drain(c)
    assert first == libami.Response(aid, first.message, False)
    assert c.is_pending(aid)
    c.receive_data(f"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {aid}\r\nResponse: Success\r\n\r\n".encode())
    (final,) = drain(c)
    assert isinstance(final, libami.OriginateResponse) and final.message["Response"] == "Success"
    assert not c.is_pending(aid)


def test_command_output_in_both_wire_forms():
    c = ready()
    current = c.send_action("Command", {"Command": "core show version"}, now=0.0)
    legacy = c.send_action("Command", {"Command": "core show uptime"}, now=0.0)
    c.receive_data(
        f"Response: Success\r\nActionID: {current}\r\nMessage: Command output follows\r\n"
        f"Output: Asterisk 22.10.1\r\nOutput: built by me\r\n\r\n".encode()
    )
    c.receive_data(
        f"Response: Follows\r\nPrivilege: Command\r\nActionID: {legacy}\r\n"
        "System uptime: 1 hour\nLast reload: 1 hour\n--END COMMAND--\r\n\r\n".encode()
    )
    a, b = drain(c)
    assert isinstance(a, libami.CommandOutput), a
    assert (a.action_id, a.lines, a.success) == (current, ["Asterisk 22.10.1", "built by me"], True)
    assert isinstance(b, libami.CommandOutput) and b.action_id == legacy
    assert b.lines == ["System uptime: 1 hour", "Last reload: 1 hour"]


def test_keepalive_ping_and_its_timeout_close_the_session():
    c = ready(keepalive_interval=10.0, keepalive_timeout=2.0)
    assert c.data_to_send() == b""
    due = c.next_timeout()
    assert due == 10.0
    c.handle_timeout(now=due)
    ping = c.data_to_send()
    assert ping.startswith(b"Action: Ping\r\n")
    c.handle_timeout(now=due + 2.0)
    events = drain(c)
    assert events[-1] == libami.Closed("keepalive-timeout", False)
    assert c.state == "closed"


def test_eof_aborts_pending_actions_and_reports_a_truncated_message():
    c = ready()
    aid = c.send_action("Ping", now=0.0)
    c.receive_data(b"Response: Succ")
    c.receive_data(b"")
    events = drain(c)
    assert events == [libami.ActionAborted(aid, "peer-closed"), libami.Closed("peer-closed", True)]
    # Nothing is accepted after the close.
    try:
        c.send_action("Ping", now=0.0)
    except libami.LocalProtocolError:
        pass
    else:
        raise AssertionError("a closed session must refuse actions")


def test_unsolicited_and_malformed_messages_are_reported_not_dropped():
    c = ready()
    c.receive_data(b"Response: Success\r\nActionID: nobody\r\nPing: Pong\r\n\r\n")
    c.receive_data(b"Garbage line without meaning\r\n\r\n")
    unsolicited, malformed = drain(c)
    assert isinstance(unsolicited, libami.Unsolicited) and unsolicited.message.action_id == "nobody"
    assert isinstance(malformed, libami.Malformed) and malformed.action_id is None
    assert "neither" in malformed.error
