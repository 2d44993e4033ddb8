"""Shared fixtures: where the Asterisk 22 captures are, and a loopback AMI server."""

import os
import pathlib

import pytest

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
