"""Read one role's events from `ami bridge`'s JetStream stream with nats-py and libami.Decoder.

    pip install "nats-py>=2.16" libami   # older nats-py ignore inbox_prefix for pull consumers
    CRM_PASSWORD=... python nats_consumer.py nats://127.0.0.1:4222 crm

A durable pull consumer: run it again and it resumes after the last message it acknowledged.
Each stored message is one AMI event exactly as the PBX sent it (duplicate keys, any bytes),
so it is decoded with libami rather than parsed as JSON; the bridge's facts about it (PBX, kind,
classes, per-PBX sequence) are NATS headers. bindings/python/tests/test_bridge_consumer.py runs
`events()` against a real nats-server and `ami bridge`.
"""

import asyncio
import os
import sys
from typing import AsyncIterator, Dict, Tuple

import libami
import nats
import nats.errors
import nats.js.errors

# The decoder of an AMI client expects the server's banner first.
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def decode(data: bytes) -> libami.Message:
    """The AMI message of one stored NATS message."""
    decoder = libami.Decoder()
    decoder.feed(BANNER + data)
    items = list(decoder)
    if len(items) != 2 or not isinstance(items[1], libami.Message):
        raise ValueError(f"not one AMI message: {data[:80]!r}")
    return items[1]


async def events(
    url: str, role: str, password: str, durable: str
) -> AsyncIterator[Tuple[Dict[str, str], libami.Message]]:
    """Yields `(headers, message)` for each stored message of `role`, in order per PBX.

    A message is acknowledged when the loop asks for the next one, so one that was being
    handled when the program stopped is delivered again (at least once; the `Nats-Msg-Id`
    header tells repeats apart).
    """
    nc = await nats.connect(url, user=role, password=password, inbox_prefix=f"_INBOX_{role}")
    try:
        js = nc.jetstream()
        while True:
            try:
                sub = await js.pull_subscribe(
                    f"ami.{role}.*.>", durable=durable, stream=f"AMI_{role.upper()}"
                )
                break
            except nats.js.errors.NotFoundError:
                # The bridge creates the role's stream when it starts: wait for it.
                await asyncio.sleep(0.5)
        while True:
            try:
                batch = await sub.fetch(100, timeout=5)
            except nats.errors.TimeoutError:
                continue
            for msg in batch:
                yield dict(msg.headers or {}), decode(msg.data)
                await msg.ack()
    finally:
        await nc.close()


async def main(url: str, role: str) -> None:
    password = os.environ[f"{role.upper()}_PASSWORD"]
    async for headers, event in events(url, role, password, durable=f"py-{role}"):
        if headers.get("Ami-Kind") == "gap":
            print("gap on", headers.get("Ami-Pbx"), dict(event))
        else:
            print(headers.get("Ami-Pbx"), headers.get("Ami-Kind"), event.get("event"))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
