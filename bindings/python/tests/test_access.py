"""Permissions, ACLs, manager.conf and event filters."""

import pytest

import libami
from conftest import CAPTURES


def test_privilege_parse_and_render():
    p = libami.Privilege.parse("call,cdr")
    assert p.render() == "call,cdr,all"
    assert str(p) == "call,cdr,all"
    assert p.labels() == ["call", "cdr"]
    assert p.to_config_list() == "call,cdr"
    assert libami.Privilege.CALL in p and libami.Privilege.SYSTEM not in p
    assert "cdr" in p
    assert (libami.Privilege.CALL | libami.Privilege.CDR) == p
    assert (p & "call") == libami.Privilege.CALL
    assert libami.Privilege.parse("none") == libami.Privilege() and not libami.Privilege()
    assert libami.Privilege.parse("all") == libami.Privilege.ALL
    assert libami.Privilege.from_label("agi") == libami.Privilege.AGI
    assert libami.Privilege.from_label("nope") is None


def test_privilege_quirks_are_reported_and_strict_mode_refuses_them():
    # `,call` grants everything in Asterisk: the empty element quirk.
    assert libami.Privilege.parse(",call") == libami.Privilege.ALL
    assert any("empty" in d for d in libami.Privilege.diagnose(",call"))
    with pytest.raises(libami.ConfigError):
        libami.Privilege.parse(",call", strict=True)


def test_can_run_uses_the_action_authority():
    write = libami.Privilege.parse("call,reporting")
    assert write.can_run("Hangup")
    assert write.can_run("CoreShowChannels")
    assert not write.can_run("Originate")  # needs originate
    assert not write.can_run("NoSuchAction")
    assert libami.Privilege.parse("originate").can_run("originate")  # case-insensitive
    assert libami.action_authority("Originate") == libami.Privilege.ORIGINATE
    assert libami.action_authority("Ping") == libami.Privilege()
    assert libami.action_authority("NoSuchAction") is None


def test_can_read_needs_every_bit_of_the_category():
    assert libami.Privilege.parse("call").can_read("Hangup")
    assert not libami.Privilege.parse("system").can_read("Hangup")
    assert libami.event_category("Hangup") == libami.Privilege.CALL


def test_acl_last_match_decides_and_no_rule_allows():
    acl = libami.Acl([("deny", "0.0.0.0/0"), ("permit", "10.0.0.0/8")])
    assert acl.permits("10.1.2.3")
    assert not acl.permits("192.0.2.7")
    assert len(acl) == 2
    assert libami.Acl().permits("192.0.2.7")
    lone = libami.Acl([("permit", "10.0.0.0/8")])
    assert lone.permits("192.0.2.7")  # a lone permit restricts nothing
    assert lone.diagnostics()


def test_acl_refuses_bad_rules():
    with pytest.raises(libami.ConfigError):
        libami.Acl([("permit", "10.0.0.0/33")])
    with pytest.raises(ValueError):
        libami.Acl().permits("not-an-ip")


def test_config_from_text(manager_conf):
    cfg = libami.ManagerConfig.from_text(manager_conf)
    assert [u.name for u in cfg.users] == ["admin", "caller", "reporter"]
    caller = cfg.user("CALLER")
    assert caller is not None
    assert caller.read == libami.Privilege.CALL
    assert caller.write == libami.Privilege.parse("call,reporting")
    assert caller.secret == "caller123"
    assert caller.can_run("Hangup") and not caller.can_run("Originate")
    assert cfg.general["enabled"] is True and cfg.general["port"] == 5038
    assert cfg.user("nobody") is None


def test_config_reports_dangerous_quirks():
    cfg = libami.ManagerConfig.from_text("[general]\nenabled=yes\n[m]\nsecret=x\nread=,call\nwrite=system,command\n")
    text = "\n".join(cfg.diagnostics)
    assert "empty element" in text
    assert "shell access" in text
    with pytest.raises(libami.ConfigError):
        libami.ManagerConfig.from_text("[general]\nenabled=yes\n[m]\nsecret=x\nread=,call\n", strict=True)


def test_config_syntax_error_names_the_line():
    with pytest.raises(libami.ConfigError) as e:
        libami.ManagerConfig.from_text("[general\nenabled=yes\n")
    assert "manager.conf" in str(e.value)


def test_config_from_path_with_include(tmp_path):
    (tmp_path / "users.conf").write_text("[admin]\nsecret=s\nread=all\nwrite=all\npermit=127.0.0.1/32\n")
    main = tmp_path / "manager.conf"
    main.write_text("[general]\nenabled=yes\n#include users.conf\n")
    cfg = libami.ManagerConfig.from_path(main)
    admin = cfg.user("admin")
    assert admin is not None and admin.permits("127.0.0.1")
    with pytest.raises(libami.ConfigError):
        libami.ManagerConfig.from_path(tmp_path / "missing.conf")


def test_config_of_the_captures():
    cfg = libami.ManagerConfig.from_path(CAPTURES / "manager.conf")
    denied = cfg.user("denied")
    assert denied is not None
    assert denied.permits("10.1.2.3") and not denied.permits("127.0.0.1")
    reader = cfg.user("reader")
    assert reader is not None and reader.write == libami.Privilege()
    filtered = cfg.user("filtered")
    assert filtered is not None and len(filtered.filters) > 0


def ev(text: bytes) -> libami.Message:
    return libami.Message.parse(text)


def test_event_filters():
    include = libami.EventFilter("Channel: PJSIP/")
    assert include.matches(ev(b"Event: Newchannel\r\nChannel: PJSIP/1\r\n\r\n"))
    assert not include.matches(ev(b"Event: Newchannel\r\nChannel: IAX2/1\r\n\r\n"))
    assert not include.is_exclude
    structured = libami.EventFilter("", key="eventfilter(action(exclude),name(Hangup))")
    assert structured.is_exclude

    s = libami.FilterSet([include, structured])
    assert len(s) == 2
    assert s.should_send(ev(b"Event: Newchannel\r\nChannel: PJSIP/1\r\n\r\n"))
    assert not s.should_send(ev(b"Event: Newchannel\r\nChannel: IAX2/1\r\n\r\n"))
    assert not s.should_send(ev(b"Event: Hangup\r\nChannel: PJSIP/1\r\n\r\n"))
    # An Event object works as well as a Message.
    assert s.should_send(libami.Event(ev(b"Event: Newchannel\r\nChannel: PJSIP/2\r\n\r\n")))
    # No include filter: everything passes unless excluded.
    only_exclude = libami.FilterSet(["!Event: Hangup"])
    assert only_exclude.should_send(ev(b"Event: Newchannel\r\n\r\n"))
    assert not only_exclude.should_send(ev(b"Event: Hangup\r\n\r\n"))


def test_bad_filter_is_a_config_error():
    with pytest.raises(libami.ConfigError):
        libami.EventFilter("(unclosed")
