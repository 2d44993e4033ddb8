"""Typed events and actions with libami.aio: checked by ``mypy --strict`` in ``make python-test``.

Prints every hangup with its cause, and originates a call, on the AMI at 127.0.0.1:5038.
"""

import asyncio

import libami.aio
from libami import actions, events


def describe(event: events.TypedEvent) -> str:
    match event:
        case events.Hangup(channel=channel, cause=cause, cause_txt=why):
            return f"{channel} hung up: {cause} {why}"
        case events.Newchannel(channel=channel, caller_id_num=number):
            return f"new channel {channel} from {number}"
        case events.UnknownEvent(name):
            return f"undocumented event {name}"
        case _:
            return f"{event.NAME}: {event.get('Uniqueid')}"


async def main() -> None:
    async with libami.aio.connect("127.0.0.1", 5038, "admin", "admin123") as ami:
        await ami.action(actions.Originate(channel="Local/start@amitest", application="Wait",
                                           data="1", async_="true", variable=["A=1"]))
        async with ami.events(typed=True) as stream:
            async for event in stream:
                print(describe(event))
                if isinstance(event, events.Hangup) and event.channel is not None:
                    print(event.channel.upper(), event.message.get("Tenantid"))
                    break


if __name__ == "__main__":
    asyncio.run(main())
