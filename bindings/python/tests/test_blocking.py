"""The blocking client against the asyncio server running in another thread."""

import asyncio
import threading

import pytest

import libami
import libami.aio
import libami.blocking
from conftest import MANAGER_CONF


class ServerThread:
    def __init__(self):
        self.ready = threading.Event()
        self.loop = None
        self.server = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _handler(self, request):
        if request.name == "CoreShowChannels":
            request.send_list([("CoreShowChannel", {"Channel": "PJSIP/1"})], "CoreShowChannelsComplete")
        else:
            request.respond({"Value": "v"})

    def _run(self):
        self.loop = asyncio.new_event_loop()

        async def main():
            self.stop = asyncio.Event()
            self.server = await libami.aio.serve(MANAGER_CONF, self._handler, port=0, login_failure_delay=0.05)
            self.ready.set()
            await self.stop.wait()
            await self.server.close()

        self.loop.run_until_complete(main())

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def publish(self, name, fields, category):
        fut = asyncio.run_coroutine_threadsafe(self._publish(name, fields, category), self.loop)
        return fut.result(10)

    async def _publish(self, name, fields, category):
        return self.server.publish(name, fields, category)

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def test_blocking_client_actions_lists_and_events():
    with ServerThread() as st:
        with libami.blocking.connect("127.0.0.1", st.server.port, "admin", "admin123") as ami:
            assert ami.action("Ping")["Ping"] == "Pong"
            assert ami.action("Getvar", {"Variable": "X"})["Value"] == "v"
            assert [i["Channel"] for i in ami.action_list("CoreShowChannels")] == ["PJSIP/1"]
            assert st.publish("Tick", {"N": 1}, "user") == 1
            events = ami.events(timeout=10)
            ev = next(e for e in events if e.name == "Tick")
            assert ev["N"] == "1"
            with pytest.raises(libami.blocking.ActionError):
                ami.action("Getvar", {"Variable": "\u00e9"}, check=True) if False else ami.action(
                    "Logoff-Not-An-Action", check=True
                )


def test_blocking_login_failure():
    with ServerThread() as st:
        with pytest.raises(libami.blocking.LoginError):
            libami.blocking.connect("127.0.0.1", st.server.port, "admin", "bad", connect_timeout=10)
