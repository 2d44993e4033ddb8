"""ClientConnection against the Rust Server, in memory, on a virtual clock (every `now` is
given, so nothing depends on the real time)."""

import libami

CONF = """\
[general]
enabled = yes
authtimeout = 30

[admin]
secret = admin123
read = all
write = all

[caller]
secret = caller123
read = call
write = call
"""


class Pair:
    """A client and a server session wired together in memory."""

    def __init__(self, username="admin", secret="admin123", auth="md5", **client):
        self.now = 100.0
        self.server = libami.Server(libami.ManagerConfig.from_text(CONF), login_failure_delay=1.0, now=self.now)
        self.sid = self.server.accept(("127.0.0.1", 40000), now=self.now)
        self.client = libami.ClientConnection(username, secret, auth=auth, now=self.now, **client)
        self.client_events = []
        self.server_events = []

    def run(self, answer=None):
        """Moves bytes both ways until nothing changes; `answer(server, event)` handles actions."""
        for _ in range(50):
            moved = False
            data = self.server.data_to_send(self.sid)
            if data:
                self.client.receive_data(data)
                moved = True
            while (ev := self.client.next_event()) is not libami.NEED_DATA:
                self.client_events.append(ev)
            data = self.client.data_to_send()
            if data:
                self.server.receive_data(self.sid, data, now=self.now)
                moved = True
            while (ev := self.server.next_event()) is not libami.NEED_DATA:
                self.server_events.append(ev)
                if answer is not None and isinstance(ev, libami.ActionReceived):
                    answer(self.server, ev.action)
            if not moved:
                return

    def of(self, cls):
        return [e for e in self.client_events if isinstance(e, cls)]


def test_md5_login_and_pipelined_actions_are_correlated():
    p = Pair()
    assert p.client.state == "authenticating"
    p.run()
    assert isinstance(p.client_events[0], libami.Banner)
    (logged_in,) = p.of(libami.LoggedIn)
    assert logged_in.message["Message"] == "Authentication accepted"
    assert p.client.state == "ready"
    assert any(isinstance(e, libami.UserLoggedIn) and e.username == "admin" for e in p.server_events)

    ids = [p.client.send_action("Ping", now=p.now) for _ in range(3)]
    ids.append(p.client.send_action("Getvar", {"Variable": "X"}, action_id="mine", now=p.now))
    assert ids[-1] == "mine" and len(set(ids)) == 4

    def answer(server, action):
        assert action.name == "Getvar" and action["Variable"] == "X"
        server.respond(action, {"Variable": "X", "Value": "42"})

    p.run(answer)
    responses = {e.action_id: e for e in p.of(libami.Response)}
    assert set(responses) == set(ids)
    assert responses["mine"].message["Value"] == "42"
    assert all(responses[i].message["Ping"] == "Pong" for i in ids[:3])
    assert p.client.pending_actions == 0


def test_list_is_streamed_and_completed():
    p = Pair()
    p.run()
    aid = p.client.send_action("CoreShowChannels", now=p.now)

    def answer(server, action):
        server.list_start(action)
        for n in range(3):
            server.list_item(action, "CoreShowChannel", {"Channel": f"PJSIP/{n}"})
        server.list_complete(action, "CoreShowChannelsComplete", 3)

    p.run(answer)
    assert [e.message["Channel"] for e in p.of(libami.ListItem)] == ["PJSIP/0", "PJSIP/1", "PJSIP/2"]
    (done,) = p.of(libami.ListComplete)
    assert done.action_id == aid and done.message["ListItems"] == "3"


def test_wrong_password_fails_after_the_delay_and_closes():
    p = Pair(secret="wrong")
    p.run()
    assert p.of(libami.LoginFailed) == []
    deadline = p.server.next_timeout()
    assert deadline is not None and deadline >= p.now + 1.0
    p.server.handle_timeout(now=deadline)
    p.run()
    (failed,) = p.of(libami.LoginFailed)
    assert failed.message["Message"] == "Authentication failed"
    assert any(isinstance(e, libami.Disconnect) and e.reason == "login-failed" for e in p.server_events)
    p.client.receive_data(b"")
    p.run()
    (closed,) = p.of(libami.Closed)
    assert closed.reason == "login-failed"


def test_action_times_out_on_the_virtual_clock():
    p = Pair()
    p.run()
    aid = p.client.send_action("Getvar", {"Variable": "X"}, timeout=5.0, now=p.now)
    p.run()  # the server hands the action to the application, which never answers
    assert p.client.next_timeout() == p.now + 5.0
    p.client.handle_timeout(now=p.now + 4.999)
    p.run()
    assert p.of(libami.ActionTimedOut) == []
    p.client.handle_timeout(now=p.now + 5.0)
    p.run()
    assert p.of(libami.ActionTimedOut) == [libami.ActionTimedOut(aid)]
    assert not p.client.is_pending(aid)


def test_permission_denied_for_a_user_without_the_class():
    p = Pair("caller", "caller123", auth="plain")
    p.run()
    aid = p.client.send_action("Originate", {"Channel": "Local/1@x", "Application": "Wait", "Data": "1"}, now=p.now)
    p.run()
    (resp,) = [e for e in p.of(libami.Response) if e.action_id == aid]
    assert resp.message["Response"] == "Error"
    assert resp.message["Message"] == "Permission denied"


def test_events_reach_only_the_sessions_that_may_read_them():
    p = Pair("caller", "caller123")
    p.run()
    assert p.server.publish("Hangup", {"Channel": "PJSIP/1"}, "call") == 1
    assert p.server.publish("Reload", {"Module": "x"}, libami.Privilege.SYSTEM) == 0
    p.run()
    names = [e.name for e in p.of(libami.Event)]
    assert "Hangup" in names and "Reload" not in names


def test_actions_before_login_are_refused_locally():
    c = libami.ClientConnection()
    try:
        c.send_action("Ping")
    except libami.LocalProtocolError as e:
        assert "not logged in" in str(e)
    else:
        raise AssertionError("an action before login must be refused")
    assert c.state == "awaiting-banner"


def test_server_session_info_and_refusal_of_unknown_sessions():
    p = Pair()
    p.run()
    info = p.server.session_info(p.sid)
    assert info is not None and info["authenticated"] and info["username"] == "admin"
    assert info["write"] == libami.Privilege.ALL
    assert p.server.session_info(999) is None
    try:
        p.server.receive_data(999, b"x")
    except libami.LocalProtocolError:
        pass
    else:
        raise AssertionError("unknown session must be refused")
