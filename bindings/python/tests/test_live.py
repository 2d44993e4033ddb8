"""libami.aio and libami.blocking against a real Asterisk 22 (the `asterisk` fixture).

Calls are real: `Local/simple@amitest` answers, sets a variable, sends a UserEvent, plays a
second of silence and hangs up; `Local/park@amitest` stays up for 30 s. Each test follows only
its own call (by the channel's Uniqueid/Linkedid), since the Asterisk is shared.
"""

import asyncio
import time
import uuid

import pytest

import libami
import libami.aio
import libami.blocking


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class CallEvents:
    """Events of one call, known by the Uniqueid of its first channel (from the
    OriginateResponse): those that carry the call's Linkedid in any header (LocalBridge has
    `LocalOneLinkedid`), and those that name one of its channels (Cdr has no Linkedid)."""

    def __init__(self):
        self.all = []

    def add(self, ev):
        self.all.append(ev)

    def names(self, uniqueid):
        linkedid = next((e.get("Linkedid") for e in self.all if e.get("Uniqueid") == uniqueid), None)
        if linkedid is None:
            return []
        channels = {e.get("Channel") for e in self.all if e.get("Linkedid") == linkedid}
        return [
            e.name
            for e in self.all
            if any(v == linkedid for _, v in e.message.items()) or (e.name == "Cdr" and e.get("Channel") in channels)
        ]

    def done(self, uniqueid):
        """Both Local halves hung up and both CDRs posted."""
        names = self.names(uniqueid)
        return names.count("Hangup") == 2 and names.count("Cdr") == 2


def test_aio_logins_both_ways_and_refusals(asterisk):
    async def main():
        for auth in ("md5", "plain"):
            async with libami.aio.connect(asterisk.host, asterisk.port, "admin", "admin123", auth=auth) as ami:
                assert ami.banner == "Asterisk Call Manager/11.0.0"
                assert (await ami.action("Ping"))["Ping"] == "Pong"
        # A wrong secret and the ACL-refused user: Asterisk answers after its 1 s delay.
        for user, secret in (("admin", "wrong"), ("denied", "denied123")):
            started = time.monotonic()
            with pytest.raises(libami.aio.LoginError) as refused:
                await libami.aio.connect(asterisk.host, asterisk.port, user, secret, reconnect=False)
            assert time.monotonic() - started >= 0.9, "Asterisk sleeps 1 s before refusing"
            assert refused.value.response["Message"] == "Authentication failed"

    run(main())


def test_aio_actions_and_a_call_with_its_events(asterisk):
    async def main():
        async with libami.aio.connect(asterisk.host, asterisk.port, "admin", "admin123") as ami:
            settings = await ami.action("CoreSettings")
            assert settings["AsteriskVersion"] == "22.10.1"
            status = await ami.action("CoreStatus")
            assert int(status["CoreCurrentCalls"]) >= 0
            version = await ami.command("core show version")
            assert version and version[0].startswith("Asterisk 22.10.1")
            var = "PYTEST_" + uuid.uuid4().hex[:8].upper()
            await ami.action("Setvar", {"Variable": var, "Value": "a b=c"})
            assert (await ami.action("Getvar", {"Variable": var}))["Value"] == "a b=c"
            with pytest.raises(libami.aio.ActionError) as err:
                await ami.action("Getvar", {"Channel": "Local/none@nowhere-1", "Variable": "X"})
            assert err.value.response["Message"] == "No such channel"

            # An async Originate: its final answer is the OriginateResponse; the call's events
            # (Newchannel ... Hangup, Cdr) arrive on the event stream.
            stream = ami.events()
            answer = await ami.action(
                "Originate",
                {"Channel": "Local/simple@amitest", "Application": "Wait", "Data": "1", "Async": "true"},
                timeout=30,
            )
            assert answer.name == "OriginateResponse" and answer["Response"] == "Success", dict(answer.items())
            call = CallEvents()
            async with stream:
                while not call.done(answer["Uniqueid"]):
                    call.add(await stream.get(timeout=20))
            seen = call.names(answer["Uniqueid"])
            for name in ("Newchannel", "LocalBridge", "VarSet", "UserEvent", "Hangup", "Cdr"):
                assert name in seen, seen

    run(main())


def test_aio_lists_while_a_call_is_up(asterisk):
    async def main():
        async with libami.aio.connect(asterisk.host, asterisk.port, "admin", "admin123") as ami:
            stream = ami.events("VarSet", filter=lambda e: e.get("Variable") == "PARKVAR")
            answer = await ami.action(
                "Originate",
                {"Channel": "Local/park@amitest", "Application": "Wait", "Data": "30", "Async": "true"},
                timeout=30,
            )
            assert answer["Response"] == "Success"
            names = []
            try:
                # Once the dialplan has set PARKVAR (the OriginateResponse comes at the answer,
                # before the next priority runs).
                async with stream:
                    while True:
                        varset = await stream.get(timeout=20)
                        if varset["Linkedid"] == answer["Uniqueid"]:
                            break
                channels = await ami.action_list("CoreShowChannels")
                names = [c["Channel"] for c in channels]
                assert varset["Channel"] in names, names
                status = await ami.action_list("Status")
                assert {s["Channel"] for s in status} >= {n for n in names if n.startswith("Local/park@")}
                got = await ami.action("Getvar", {"Channel": varset["Channel"], "Variable": "PARKVAR"})
                assert got["Value"] == "parked"
            finally:
                for n in names:
                    if n.startswith("Local/park@amitest-"):
                        await ami.action("Hangup", {"Channel": n}, check=False)

    run(main())


def test_aio_recovers_after_asterisk_restarts(private_asterisk):
    ast = private_asterisk

    async def main():
        async with libami.aio.connect(ast.host, ast.port, "admin", "admin123", backoff=0.1, max_backoff=0.5) as ami:
            assert (await ami.action("Ping"))["Ping"] == "Pong"
            await asyncio.get_running_loop().run_in_executor(None, ast.restart)
            await ami.wait_connected(timeout=20)
            assert (await ami.action("Ping"))["Ping"] == "Pong"
            assert ami.connections == 2

    run(main())


def test_blocking_client_actions_lists_and_events(asterisk):
    with libami.blocking.connect(asterisk.host, asterisk.port, "admin", "admin123") as ami:
        assert ami.action("Ping")["Ping"] == "Pong"
        assert ami.action("CoreSettings")["AmiVersion"] == "11.0.0"
        answer = ami.action(
            "Originate",
            {"Channel": "Local/simple@amitest", "Application": "Wait", "Data": "1", "Async": "true"},
            timeout=30,
        )
        assert answer["Response"] == "Success"
        call = CallEvents()
        for ev in ami.events(timeout=20):
            call.add(ev)
            if call.done(answer["Uniqueid"]):
                break
        names = call.names(answer["Uniqueid"])
        assert "Newchannel" in names and names.count("Hangup") == 2, names
        items = ami.action_list("CoreShowChannels")
        assert isinstance(items, list)
    # The reader may run no action at all: Permission denied, as Asterisk says it.
    with libami.blocking.connect(asterisk.host, asterisk.port, "reader", "reader123") as ami:
        with pytest.raises(libami.aio.ActionError) as err:
            ami.action("Originate", {"Channel": "Local/simple@amitest", "Application": "Wait"})
        assert err.value.response["Message"] == "Permission denied"
