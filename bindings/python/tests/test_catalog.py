"""The generated catalog in Python: every captured event typed, every documented required
parameter required, frozen classes with ``__match_args__``, and ``aio`` delivering typed events
and sending action objects."""

import asyncio
import json
import pathlib

import pytest

import libami
import libami.aio
from conftest import MANAGER_CONF, capture_files

FACTS = json.loads((pathlib.Path(__file__).resolve().parents[3] / "catalog/asterisk.json").read_text())
#: Events the captured server sent that Asterisk does not document: app_queue's list items and
#: the items of Hangup's answer to a channel regex.
UNDOCUMENTED = {"ChannelHungup", "ChannelsHungupListComplete", "QueueMember", "QueueStatusComplete",
                "QueueSummary", "QueueSummaryComplete"}


def captured_events():
    for path in capture_files("server_to_client.bin"):
        d = libami.Decoder("client")
        d.feed(path.read_bytes())
        for item in d:
            if isinstance(item, libami.Message) and item.kind == "event":
                yield item


def test_every_captured_event_is_typed_and_its_fields_read_the_message():
    typed = unknown = 0
    for message in captured_events():
        event = libami.events.typed(message)
        assert event.message is message
        if isinstance(event, libami.events.UnknownEvent):
            unknown += 1
            assert event.name in UNDOCUMENTED
            continue
        typed += 1
        assert event.NAME.lower() == message.name.lower()
        for attribute, header in zip(event.__match_args__, [f for f in event.FIELDS if "{}" not in f]):
            assert getattr(event, attribute) == message.get(header), (event.NAME, header)
    # The same figures as the Rust test: 706 events in the captures, 10 undocumented.
    assert (typed, unknown) == (696, 10)


def test_typed_classes_match_the_facts():
    documented = {e["name"]: e for e in FACTS["events"]}
    assert len(libami.events.EVENTS) == len(documented)
    for name, spec in documented.items():
        cls = libami.events.EVENTS[name.lower()]
        assert cls.NAME == name
        assert cls.READ_CLASS == libami.Privilege.parse(",".join(spec["read_class"]), strict=True)
        assert list(cls.FIELDS) == [f.get("indexed", f["name"]) for f in spec["fields"]]
    assert libami.events.ASTERISK_VERSION == FACTS["asterisk_version"]


def test_typed_events_are_frozen():
    """(Matching them with ``match``, Python 3.10 syntax: test_pattern_matching.py.)"""
    message = libami.Message.parse(b"Event: Hangup\r\nChannel: PJSIP/1-0001\r\nCause: 16\r\nX-Site: lab\r\n\r\n")
    event = libami.events.typed(message)
    assert isinstance(event, libami.events.Hangup)
    assert (event.channel, event.cause, event.cause_txt) == ("PJSIP/1-0001", "16", None)
    assert event.get("x-site") == "lab"
    with pytest.raises(AttributeError):
        event.channel = "other"
    with pytest.raises(AttributeError):
        event.message = message
    assert event == libami.events.typed(message)
    assert "channel='PJSIP/1-0001'" in repr(event)
    other = libami.events.typed(libami.Message.parse(b"Event: MyEvent\r\nA: 1\r\n\r\n"))
    assert isinstance(other, libami.events.UnknownEvent) and other.name == "MyEvent"
    with pytest.raises(ValueError):
        libami.events.typed(libami.Message.parse(b"Response: Success\r\n\r\n"))
    rtcp = libami.events.typed(libami.Message.parse(b"Event: RTCPSent\r\nReport1DLSR: 0.5\r\n\r\n"))
    assert rtcp.report_dlsr(1) == "0.5" and rtcp.report_dlsr(0) is None


def test_every_documented_required_parameter_is_required():
    required_total = 0
    for spec in FACTS["actions"]:
        cls = libami.actions.ACTIONS[spec["name"].lower()]
        assert cls.NAME == spec["name"]
        required = [p["name"] for p in spec["parameters"] if p["required"]]
        assert list(cls.REQUIRED) == required
        keywords = {header: keyword for keyword, header, _ in cls.PARAMETERS}
        full = {keywords[r]: f"v{i}" for i, r in enumerate(required)}
        action = cls(**full)
        assert [h for h, _ in action.fields] == required
        for r in required:
            partial = {k: v for k, v in full.items() if k != keywords[r]}
            with pytest.raises(TypeError, match=keywords[r]):
                cls(**partial)
        required_total += len(required)
    assert required_total == 160


def test_actions_encode_through_the_native_encoder():
    o = libami.actions.Originate(channel="PJSIP/100", exten="200", context="default", priority=1,
                                 variable=["A=1", "B=2"], async_="true", headers={"X-Tag": "t"})
    assert o.encode() == (b"Action: Originate\r\nChannel: PJSIP/100\r\nExten: 200\r\nContext: default\r\n"
                          b"Priority: 1\r\nVariable: A=1\r\nVariable: B=2\r\nAsync: true\r\nX-Tag: t\r\n\r\n")
    assert o.AUTHORITY == libami.Privilege.ORIGINATE
    u = libami.actions.UpdateConfig(src_filename="a.conf", dst_filename="a.conf", action={1: "NewCat", 0: "Append"})
    assert [h for h, _ in u.fields][-2:] == ["Action-000000", "Action-000001"]
    with pytest.raises(libami.LocalProtocolError):
        libami.actions.Command(command="x\r\nAction: Originate").encode()
    with pytest.raises(TypeError):
        libami.actions.Ping(nonsense=1)
    with pytest.raises(TypeError):
        libami.actions.Originate(channel="x", variable="A=1")
    with pytest.raises(AttributeError):
        o.fields = ()


def test_aio_typed_events_and_action_objects():
    async def handler(request):
        if request.name == "Getvar":
            request.respond({"Variable": request["Variable"], "Value": "42"})
        else:
            request.error("Not supported here")

    async def main():
        async with await libami.aio.serve(MANAGER_CONF, handler, port=0, login_failure_delay=0.05) as server:
            async with libami.aio.connect("127.0.0.1", server.port, "admin", "admin123") as ami:
                answer = await ami.action(libami.actions.Getvar(variable="X"))
                assert answer["Value"] == "42"
                stream = ami.events("Hangup", "MyEvent", typed=True)
                raw = ami.events("Hangup")
                server.publish("Hangup", {"Channel": "PJSIP/7", "Cause": "16"}, "call")
                server.publish("MyEvent", {"A": "1"}, "call")
                first = await stream.get(10)
                assert isinstance(first, libami.events.Hangup)
                assert (first.channel, first.cause) == ("PJSIP/7", "16")
                assert isinstance(await stream.get(10), libami.events.UnknownEvent)
                assert isinstance(await raw.get(10), libami.Event)

    asyncio.run(asyncio.wait_for(main(), 60))


def test_live_typed_events_of_a_real_call_and_action_objects(asterisk):
    """A real call on the live Asterisk: sent as an ``actions.Originate``, every event of it
    typed (only the events Asterisk does not document come as ``UnknownEvent``)."""

    async def main():
        async with libami.aio.connect(asterisk.host, asterisk.port, "admin", "admin123") as ami:
            stream = ami.events(typed=True)
            reply = await ami.action(libami.actions.Originate(
                channel="Local/start@amitest", application="Wait", data="10", async_="true"))
            assert reply["Response"] == "Success"
            kinds, hangups = set(), 0
            while hangups < 4:
                event = await stream.get(30)
                if isinstance(event, libami.events.UnknownEvent):
                    assert event.name in UNDOCUMENTED, event.message.items()
                    continue
                kinds.add(event.NAME)
                for attribute, header in zip(event.__match_args__, [f for f in event.FIELDS if "{}" not in f]):
                    assert getattr(event, attribute) == event.message.get(header)
                if isinstance(event, libami.events.Hangup):
                    assert isinstance(event.channel, str) and event.channel.startswith("Local/")
                    hangups += 1
            assert {"Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "UserEvent", "Hangup"} <= kinds

    asyncio.run(asyncio.wait_for(main(), 90))
