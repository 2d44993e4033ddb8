"""Read one role's events from `ami bridge`'s JetStream stream with nats-py and libami.Decoder.

    pip install nats-py libami
    CRM_PASSWORD=... python nats_consumer.py nats://127.0.0.1:4222 crm

A durable pull consumer: run it again and it resumes after the last message it acknowledged.
"""

import asyncio
import os
import sys

import libami
import nats


async def main(url: str, role: str) -> None:
    nc = await nats.connect(
        url,
        user=role,
        password=os.environ[f"{role.upper()}_PASSWORD"],
        inbox_prefix=f"_INBOX_{role}",
    )
    js = nc.jetstream()
    sub = await js.pull_subscribe(
        f"ami.{role}.*.>", durable=f"py-{role}", stream=f"AMI_{role.upper()}"
    )
    while True:
        try:
            batch = await sub.fetch(100, timeout=5)
        except nats.errors.TimeoutError:
            continue
        for msg in batch:
            decoder = libami.Decoder()
            decoder.feed(b"Asterisk Call Manager/11.0.0\r\n" + msg.data)
            items = list(decoder)
            event = items[1]
            headers = msg.headers or {}
            kind = headers.get("Ami-Kind", "event")
            if kind == "gap":
                print("gap on", headers.get("Ami-Pbx"), dict(event))
            else:
                print(headers.get("Ami-Pbx"), kind, event.get("event"), event.get("uniqueid"))
            await msg.ack()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
