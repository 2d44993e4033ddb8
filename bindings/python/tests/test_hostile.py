"""libami.aio and libami.blocking against scripted hostile or broken servers on loopback."""

import asyncio
import resource
import socket
import threading
import time

import pytest

import libami
import libami.aio
import libami.blocking

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Scripted:
    """A TCP server whose every connection runs `script(conn)` in a thread."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self._script = script
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self._script(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop = True
        self.sock.close()


def read_action(conn):
    """One message up to its blank line; its ActionID."""
    buf = b""
    while not buf.endswith(b"\r\n\r\n"):
        b = conn.recv(1)
        if not b:
            raise OSError("closed")
        buf += b
    for line in buf.decode().split("\r\n"):
        if line.startswith("ActionID: "):
            return line[10:]
    return None


def logged_in(conn):
    conn.sendall(BANNER)
    aid = read_action(conn)
    conn.sendall(f"Response: Success\r\nActionID: {aid}\r\nMessage: Authentication accepted\r\n\r\n".encode())


def endless_list(conn):
    logged_in(conn)
    aid = read_action(conn)
    conn.sendall(f"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n".encode())
    item = f"Event: CoreShowChannel\r\nActionID: {aid}\r\nChannel: PJSIP/1\r\nPad: {'x' * 900}\r\n\r\n".encode()
    chunk = item * 100
    sent = 0
    while sent < 200 << 20:
        conn.sendall(chunk)
        sent += len(chunk)


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("flavour", ["aio", "blocking"])
def test_an_endless_list_is_capped_and_memory_stays_bounded(flavour):
    server = Scripted(endless_list)
    before = max_rss_mib()
    try:
        if flavour == "aio":

            async def main():
                async with libami.aio.connect(
                    "127.0.0.1", server.port, "u", "s", auth="plain", reconnect=False, max_list_bytes=8 << 20
                ) as ami:
                    with pytest.raises(libami.aio.ResponseTooLarge) as err:
                        await ami.action_list("CoreShowChannels")
                    return err.value

            err = run(main())
        else:
            with libami.blocking.connect(
                "127.0.0.1", server.port, "u", "s", auth="plain", max_list_bytes=8 << 20
            ) as ami:
                with pytest.raises(libami.blocking.ResponseTooLarge) as caught:
                    ami.action_list("CoreShowChannels")
                err = caught.value
    finally:
        server.close()
    assert err.limit == "bytes" and err.size > 8 << 20
    assert "too large" in str(err)
    # The cap is 8 MiB of messages; the server had up to 200 MiB to send.
    assert max_rss_mib() - before < 120, f"peak RSS grew by {max_rss_mib() - before:.0f} MiB"


def test_a_greeting_that_is_not_ami_fails_at_once_with_what_was_received():
    def http(conn):
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        time.sleep(10)

    server = Scripted(http)
    try:
        started = time.monotonic()
        with pytest.raises(libami.aio.NotAnAmiServer) as err:
            run(libami.aio.connect("127.0.0.1", server.port, "u", "s", reconnect=False, connect_timeout=8))
        assert "is not an AMI server" in str(err.value) and "HTTP server" in str(err.value)
        with pytest.raises(libami.blocking.NotAnAmiServer):
            libami.blocking.connect("127.0.0.1", server.port, "u", "s", connect_timeout=8)
        assert time.monotonic() - started < 6, "both at once, not after the connect timeout"
    finally:
        server.close()


def test_timeouts_say_what_was_awaited():
    def silent(conn):
        time.sleep(10)

    server = Scripted(silent)
    try:
        with pytest.raises(TimeoutError) as err:
            run(libami.aio.connect("127.0.0.1", server.port, "u", "s", reconnect=False, connect_timeout=0.3))
        assert "AMI banner" in str(err.value) and f"127.0.0.1:{server.port}" in str(err.value)
        with pytest.raises(TimeoutError) as err:
            libami.blocking.connect("127.0.0.1", server.port, "u", "s", connect_timeout=0.3)
        assert "AMI banner" in str(err.value)
    finally:
        server.close()


def test_a_silent_server_is_noticed_while_an_action_waits():
    def mute(conn):
        logged_in(conn)
        while conn.recv(4096):
            pass

    server = Scripted(mute)
    try:

        async def main():
            async with libami.aio.connect(
                "127.0.0.1", server.port, "u", "s", auth="plain", keepalive=0.3, keepalive_timeout=0.3,
                backoff=0.05, max_backoff=0.1,
            ) as ami:
                started = time.monotonic()
                with pytest.raises(libami.aio.ConnectionLost):
                    await ami.action("Getvar", {"Variable": "X"}, timeout=60)
                assert time.monotonic() - started < 20
                await ami.wait_connected(timeout=10)
                assert ami.connections >= 2

        run(main())
    finally:
        server.close()


def test_a_flapping_server_is_not_hammered():
    def flap(conn):
        logged_in(conn)

    server = Scripted(flap)
    try:

        async def main():
            ami = await libami.aio.connect("127.0.0.1", server.port, "u", "s", auth="plain", backoff=0.05, max_backoff=0.4)
            await asyncio.sleep(2.0)
            await ami.close()

        run(main())
        # Waits of at least 25, 50, 100, 200, then 200 ms: at most 13 connections in 2 s (a
        # reset after every login would allow about 40).
        assert 3 <= server.connections <= 13, server.connections
    finally:
        server.close()
