"""Shared fixtures: where the Asterisk 22 captures are, a loopback AMI server, and the live
Asterisk (tests/live/asterisk.sh: a private real Asterisk 22 per test session)."""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

# Structural pattern matching (`match`) is Python 3.10 syntax: on 3.9, which libami supports,
# that module cannot even be parsed; everything else runs there.
collect_ignore = [] if sys.version_info >= (3, 10) else ["test_pattern_matching.py"]

HERE = pathlib.Path(__file__).resolve().parent
# The Asterisk 22 captures: $LIBAMI_CAPTURES, or their place in the source tree.
if "LIBAMI_CAPTURES" in os.environ:
    CAPTURES = pathlib.Path(os.environ["LIBAMI_CAPTURES"])
else:
    CAPTURES = HERE.parents[2] / "crates/ami-proto/tests/data/asterisk-22"

MANAGER_CONF = """\
[general]
enabled = yes

[admin]
secret = admin123
read = all
write = all

[caller]
secret = caller123
read = call
write = call,reporting

[reporter]
secret = reporter123
read = reporting,system
write = reporting
"""


def capture_files(name):
    """Every server_to_client.bin or client_to_server.bin of the captures."""
    return sorted(CAPTURES.glob(f"**/{name}"))


@pytest.fixture
def manager_conf():
    return MANAGER_CONF


# ---- the live Asterisk -------------------------------------------------------------------------
# The harness is the repository's tests/live/asterisk.sh ($LIBAMI_LIVE_HARNESS when the tests run
# from elsewhere); Asterisk itself is $LIBAMI_ASTERISK, which `make asterisk` builds. Nothing is
# skipped: without them the live tests fail, saying so.
LIVE_HARNESS = pathlib.Path(
    os.environ.get("LIBAMI_LIVE_HARNESS", HERE.parents[2] / "tests/live/asterisk.sh")
)


class LiveAsterisk:
    """A private real Asterisk on loopback (the conformance users and dialplan)."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ami-py-")
        out = self._harness("start", self.dir + "/ast")
        port, pid = out.split()
        self.port = int(port)
        self.pid = int(pid)

    def _harness(self, *args: str) -> str:
        env = dict(os.environ, LIBAMI_OWNER_PID=str(os.getpid()))
        proc = subprocess.run(
            ["bash", str(LIVE_HARNESS), *args], capture_output=True, text=True, env=env, timeout=120
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{LIVE_HARNESS} {' '.join(args)} failed:\n{proc.stderr}")
        return proc.stdout

    def cli(self, command: str) -> str:
        """Runs an Asterisk CLI command in this instance (``asterisk -rx``)."""
        return self._harness("cli", self.dir + "/ast", command)

    def restart(self) -> None:
        """Stops it and starts it again on the same port (connections are cut)."""
        _, pid = self._harness("restart", self.dir + "/ast").split()
        self.pid = int(pid)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return self._harness("log", self.dir + "/ast", str(lines))
        except RuntimeError as e:
            return str(e)

    def stop(self, failed: bool) -> None:
        if failed:
            print(f"---- the live Asterisk (port {self.port}), its log tail:\n{self.log_tail()}")
        self._harness("stop", self.dir + "/ast")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def asterisk(request):
    """The test session's live Asterisk, shared by the tests that do not restart it."""
    ast = LiveAsterisk()
    yield ast
    ast.stop(request.session.testsfailed > 0)


@pytest.fixture
def private_asterisk(request):
    """A live Asterisk of the test's own (for restarts)."""
    ast = LiveAsterisk()
    failed_before = request.session.testsfailed
    yield ast
    ast.stop(request.session.testsfailed > failed_before)
