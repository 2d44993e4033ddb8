"""The documented nats-py consumer (docs/bridge/nats_consumer.py) against the real thing: a
nats-server (Debian's 2.9, JetStream on a temporary store, docs/bridge/nats-server.conf), an
`ami mock` PBX placing calls, and `ami bridge` between them; all on free loopback ports,
stopped by PID.

The `ami` binary is $LIBAMI_AMI_BIN (the Makefile builds it); nats-server comes from `make
nats-server`.
"""

import asyncio
import importlib.util
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import libami

ROOT = pathlib.Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs" / "bridge"
PASSWORDS = {"BRIDGE_PASSWORD": "bridge-pw", "OPS_PASSWORD": "ops-pw", "CRM_PASSWORD": "crm-pw"}


def _consumer_module():
    spec = importlib.util.spec_from_file_location("nats_consumer", DOCS / "nats_consumer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, within: float) -> None:
    end = time.monotonic() + within
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {within} s")


def _ami_bin() -> str:
    path = os.environ.get("LIBAMI_AMI_BIN")
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("set LIBAMI_AMI_BIN to the `ami` binary (make python-test does)")
    return path


class _Procs:
    """Children stopped by PID (SIGTERM, then SIGKILL) when the test ends."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.dir = directory
        self.children: list = []

    def spawn(self, name: str, args: list, env=None) -> subprocess.Popen:
        log = open(self.dir / f"{name}.log", "wb")
        child = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **(env or {})}
        )
        log.close()
        self.children.append((name, child))
        return child

    def log(self, name: str) -> str:
        return (self.dir / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for _, child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


@pytest.fixture
def fleet():
    if shutil.which("nats-server") is None:
        raise AssertionError("nats-server is missing: run `make nats-server` (apt-get, as root)")
    directory = pathlib.Path(tempfile.mkdtemp(prefix="ami-py-bridge-"))
    procs = _Procs(directory)
    try:
        nats_port, pbx_port = _free_port(), _free_port()
        procs.spawn(
            "nats",
            ["nats-server", "-c", str(DOCS / "nats-server.conf"), "-a", "127.0.0.1",
             "-p", str(nats_port), "-sd", str(directory / "js")],
            env=PASSWORDS,
        )
        _wait_port(nats_port, 10)
        procs.spawn(
            "pbx1",
            [_ami_bin(), "mock", "--listen", f"127.0.0.1:{pbx_port}", "-q",
             "--calls-per-second", "5"],
        )
        _wait_port(pbx_port, 10)
        conf = directory / "bridge.conf"
        conf.write_text(
            f"[nats]\nservers = nats://127.0.0.1:{nats_port}\nuser = bridge\n"
            "password_env = BRIDGE_PASSWORD\nstorage = memory\n\n"
            f"[upstream:pbx1]\nhost = 127.0.0.1\nport = {pbx_port}\nusername = operator\n"
            "secret = operator-secret\nauth = plain\n\n"
            "[ops]\nread = all\nwrite = all\n\n[crm]\nread = call\nwrite = originate\n"
        )
        procs.spawn(
            "bridge", [_ami_bin(), "bridge", "--config", str(conf), "--name", "py-test"],
            env=PASSWORDS,
        )
        yield f"nats://127.0.0.1:{nats_port}", procs
    finally:
        procs.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _take(url: str, role: str, durable: str, count: int, within: float) -> list:
    consumer = _consumer_module()
    got: list = []

    async def collect() -> None:
        agen = consumer.events(url, role, PASSWORDS[f"{role.upper()}_PASSWORD"], durable)
        try:
            async for headers, message in agen:
                got.append((headers, message))
                if len(got) >= count:
                    return
        finally:
            await agen.aclose()

    await asyncio.wait_for(collect(), within)
    return got


def _positions(headers: list) -> list:
    """Each message's place in its PBX's stream, from `Ami-Seq` (`TOKEN:SEQ`), as a sortable
    `(rank, seq)`; None for a message without one (gap markers, snapshots).

    A session numbers its events under a token of its own until the bridge's anchor event
    reaches it, then from 1 again under the anchor's token (crates/ami-cli/src/bridge/ids.rs):
    the mock PBX's calls can come before the anchor. Numbers grow within a token, and a token
    ranks after the ones seen before it.
    """
    ranks: dict = {}
    out = []
    for h in headers:
        if "Ami-Seq" not in h:
            out.append(None)
            continue
        token, seq = h["Ami-Seq"].rsplit(":", 1)
        out.append((ranks.setdefault(token, len(ranks)), int(seq)))
    return out


def test_documented_consumer_reads_a_roles_events(fleet):
    url, procs = fleet
    try:
        got = asyncio.run(_take(url, "crm", "py-crm", 60, 60))
    except (asyncio.TimeoutError, OSError) as e:
        raise AssertionError(f"{e!r}\nbridge log:\n{procs.log('bridge')}") from e
    kinds = [h.get("Ami-Kind") for h, _ in got]
    # The first connection to a PBX is announced like every later one: a gap marker first.
    assert kinds[0] == "gap", kinds[:5]
    events = [(h, m) for h, m in got if h.get("Ami-Kind") == "event"]
    assert len(events) >= 40, kinds
    ids = [h["Nats-Msg-Id"] for h, _ in got]
    assert len(set(ids)) == len(ids), "a message was delivered twice"
    for headers, message in events:
        assert isinstance(message, libami.Message)
        assert headers["Ami-Pbx"] == "pbx1"
        # The role reads `call` only: every event it gets is of class call (and may be more).
        classes = headers["Ami-Class"].split(",")
        assert "call" in classes, (headers, dict(message))
        assert message.get("event") == headers["Ami-Event"]
        # Like Asterisk, every class of the event must be readable: its classes are within call.
        assert libami.Privilege(int(headers["Ami-Class-Bits"])) in libami.Privilege.CALL
    # Per-PBX order: the events' positions only grow (a token, once left, never comes back).
    places = _positions([h for h, _ in events])
    assert places == sorted(places) and len(set(places)) == len(places), places
    # A call-only role never sees the cdr or system events the mock's calls also produce.
    assert not any(m.get("event") in ("Cdr", "FullyBooted") for _, m in events)


def test_durable_consumer_resumes_after_what_it_acknowledged(fleet):
    url, _ = fleet
    first = asyncio.run(_take(url, "ops", "py-ops", 10, 60))
    second = asyncio.run(_take(url, "ops", "py-ops", 10, 60))
    a = [h["Nats-Msg-Id"] for h, _ in first]
    b = [h["Nats-Msg-Id"] for h, _ in second]
    # What the first run acknowledged never comes again; the last one it was handed (not
    # acknowledged: the loop stopped before asking for the next) comes back only after
    # JetStream's ack wait, so the second run starts with newer messages.
    assert not set(a[:-1]) & set(b), (a, b)
    # Positions ranked over both runs, in the order JetStream delivered them.
    places = _positions([h for h, _ in first[:-1] + second])
    acked, later = places[: len(first) - 1], places[len(first) - 1 :]
    last_acked = max((p for p in acked if p is not None), default=(-1, -1))
    events = [p for (h, _), p in zip(second, later) if h.get("Ami-Kind") == "event"]
    assert all(p is not None and p > last_acked for p in events), (a, b)
