"""The asyncio client against the asyncio server over real loopback TCP."""

import asyncio

import pytest

import libami
import libami.aio
from conftest import MANAGER_CONF


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Backend:
    """A handler standing in for a PBX: Getvar, CoreShowChannels, Status (held on request)."""

    def __init__(self):
        self.release = None  # an asyncio.Event holding Getvar answers while unset

    async def __call__(self, request):
        if request.name == "Getvar":
            if self.release is not None:
                await self.release.wait()
            request.respond({"Variable": request["Variable"], "Value": request["Variable"].lower()})
        elif request.name == "CoreShowChannels":
            items = [("CoreShowChannel", {"Channel": f"PJSIP/{n}", "Context": "default"}) for n in range(5)]
            request.send_list(items, "CoreShowChannelsComplete")
        elif request.name == "Hangup":
            raise RuntimeError("no such channel")
        else:
            request.error("Not supported here")


async def start(handler=None, **options):
    options.setdefault("login_failure_delay", 0.05)
    return await libami.aio.serve(MANAGER_CONF, handler or Backend(), port=0, **options)


def test_md5_login_and_pipelined_actions_are_correlated():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123") as ami:
                assert ami.connected and ami.banner == "Asterisk Call Manager/11.0.0"
                names = [f"VAR{n}" for n in range(40)]
                answers = await asyncio.gather(*(ami.action("Getvar", {"Variable": v}) for v in names))
                assert [a["Variable"] for a in answers] == names
                assert [a["Value"] for a in answers] == [v.lower() for v in names]
                assert len({a.action_id for a in answers}) == 40
                pong = await ami.action("Ping")
                assert pong["Ping"] == "Pong"
            logins = [n for n in server.notices if isinstance(n, libami.UserLoggedIn)]
            assert [n.username for n in logins] == ["admin"]
            assert any(isinstance(n, libami.SecurityNotice) and n.kind == "SuccessfulAuth" for n in server.notices)

    run(main())


def test_plain_login_and_a_collected_list():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123", auth="plain") as ami:
                items = await ami.action_list("CoreShowChannels")
                assert [i["Channel"] for i in items] == [f"PJSIP/{n}" for n in range(5)]
                assert all(i.name == "CoreShowChannel" for i in items)

    run(main())


def test_refused_actions_raise_action_error():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "caller", "caller123") as ami:
                with pytest.raises(libami.aio.ActionError) as refused:
                    await ami.action("Originate", {"Channel": "Local/1@default", "Exten": "1", "Context": "default", "Priority": 1})
                assert refused.value.response["Message"] == "Permission denied"
                with pytest.raises(libami.aio.ActionError) as failed:
                    await ami.action("Hangup", {"Channel": "PJSIP/9"})
                assert "no such channel" in failed.value.response["Message"]
                not_checked = await ami.action("Hangup", {"Channel": "PJSIP/9"}, check=False)
                assert not_checked["Response"] == "Error"

    run(main())


def test_wrong_secret_raises_login_error():
    async def main():
        async with await start() as server:
            with pytest.raises(libami.aio.LoginError):
                await libami.aio.connect("127.0.0.1", server.port, "admin", "wrong", reconnect=False)

    run(main())


def test_events_are_filtered_by_permissions_for_two_users():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "caller", "caller123") as caller, \
                    libami.aio.connect("127.0.0.1", server.port, "reporter", "reporter123") as reporter:
                names = ("Report1", "Call1", "System1", "Done")
                caller_events = caller.events(*names)
                reporter_events = reporter.events(*names)
                assert server.publish("Report1", {"N": 1}, "reporting") == 1
                assert server.publish("Call1", {"N": 2}, "call") == 1
                assert server.publish("System1", {"N": 3}, libami.Privilege.SYSTEM) == 1
                assert server.publish("Done", {}, "call") == 1
                assert server.publish("Done", {}, "reporting") == 1
                got_caller = [(await caller_events.get(10)).name for _ in range(2)]
                got_reporter = [(await reporter_events.get(10)).name for _ in range(3)]
                assert got_caller == ["Call1", "Done"]
                assert got_reporter == ["Report1", "System1", "Done"]

    run(main())


def test_event_filter_callable_and_backpressure_never_loses_a_response():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123") as ami:
                odd = ami.events("Tick", filter=lambda e: int(e["N"]) % 2 == 1, maxsize=2)
                for n in range(10):
                    server.publish("Tick", {"N": n}, "user")
                # Nobody reads the stream: its oldest events go, the responses do not.
                answers = await asyncio.gather(*(ami.action("Getvar", {"Variable": f"V{n}"}) for n in range(20)))
                assert len(answers) == 20
                assert [(await odd.get(10))["N"] for _ in range(2)] == ["7", "9"]
                assert odd.dropped == 3
                odd.close()
                assert [e async for e in odd] == []

    run(main())


def test_reconnects_and_logs_in_again_after_the_server_drops_the_connection():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123", backoff=0.01) as ami:
                ticks = ami.events("Tick")
                assert (await ami.action("Ping"))["Ping"] == "Pong"
                server.drop_connections()
                while ami.connections < 2:
                    await asyncio.sleep(0.01)
                assert (await ami.action("Ping"))["Ping"] == "Pong"
                server.publish("Tick", {"N": 1}, "user")
                assert (await ticks.get(10))["N"] == "1"  # subscriptions survive the reconnect
            logins = [n for n in server.notices if isinstance(n, libami.UserLoggedIn)]
            assert len(logins) == 2

    run(main())


def test_action_timeout_and_the_connection_stays_usable():
    async def main():
        backend = Backend()
        backend.release = asyncio.Event()
        async with await start(backend) as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123") as ami:
                with pytest.raises(TimeoutError):
                    await ami.action("Getvar", {"Variable": "SLOW"}, timeout=0.2)
                backend.release.set()
                # The late answer is unsolicited; the next action gets its own answer.
                answer = await ami.action("Getvar", {"Variable": "NEXT"})
                assert answer["Value"] == "next"

    run(main())


def test_actions_in_flight_fail_with_connection_lost_when_the_server_drops():
    async def main():
        backend = Backend()
        backend.release = asyncio.Event()
        async with await start(backend) as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123", reconnect=False) as ami:
                pending = asyncio.ensure_future(ami.action("Getvar", {"Variable": "X"}))
                while not any(isinstance(t, asyncio.Task) for t in server._tasks):
                    await asyncio.sleep(0.01)
                server.drop_connections()
                with pytest.raises(libami.aio.ConnectionLost):
                    await pending
            backend.release.set()

    run(main())


def test_connect_timeout_when_nothing_answers():
    async def main():
        async def silent(reader, writer):
            await reader.read()  # never sends a banner
            writer.close()

        listener = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await libami.aio.connect("127.0.0.1", port, "admin", "x", connect_timeout=0.2, reconnect=False)
        listener.close()
        await listener.wait_closed()

    run(main())


def make_tls_contexts(tmp_path):
    """A self-signed certificate for 127.0.0.1 (made with the openssl tool) and the two contexts."""
    import shutil
    import ssl
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl tool is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    return server_ctx, client_ctx


def test_tls_client_and_server(tmp_path):
    server_ctx, client_ctx = make_tls_contexts(tmp_path)

    async def main():
        server = await libami.aio.serve(MANAGER_CONF, Backend(), port=0, ssl=server_ctx)
        async with server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123", ssl=client_ctx) as ami:
                assert (await ami.action("Ping"))["Ping"] == "Pong"
                items = await ami.action_list("CoreShowChannels")
                assert len(items) == 5
            # A client that does not trust the certificate cannot connect.
            import ssl

            with pytest.raises(ssl.SSLError):
                await libami.aio.connect(
                    "127.0.0.1", server.port, "admin", "admin123", ssl=ssl.create_default_context(), reconnect=False
                )

    run(main())


def test_more_pipelined_actions_than_max_in_flight_wait_instead_of_failing():
    async def main():
        async with await start() as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123", max_in_flight=8) as ami:
                answers = await asyncio.gather(*(ami.action("Getvar", {"Variable": f"V{n}"}) for n in range(100)))
                assert [a["Value"] for a in answers] == [f"v{n}" for n in range(100)]

    run(main())
