"""The manager.conf editor from Python: ManagerConfig.edit(), keyword arguments, text results,
refusals with their line, atomic writes, generated secrets."""

import os
import stat

import pytest

import libami
from conftest import CAPTURES

CONFORMANCE = (CAPTURES / "manager.conf").read_text()


def test_round_trip_is_byte_identical():
    ed = libami.ManagerConfig.from_text(CONFORMANCE).edit()
    assert ed.text == CONFORMANCE
    assert ed.changed_files == {}
    assert list(ed.files) == ["manager.conf"]


def test_add_user_with_keywords_gives_exactly_those_rights():
    ed = libami.ManagerConfig.from_text(CONFORMANCE).edit()
    report = ed.add_user(
        "crm",
        secret="Zk4hW9qLr2Vx7Tn3",
        read="call,cdr",
        write=["originate"],
        permit=["10.0.0.0/8"],
        eventfilters=["Event: Hangup", ("eventfilter(name(DialEnd))", "")],
        writetimeout=250,
        setvars={"CRM": "1"},
    )
    assert ed.text.startswith(CONFORMANCE)
    assert ed.text[len(CONFORMANCE):] == (
        "\n[crm]\nsecret = Zk4hW9qLr2Vx7Tn3\nread = call,cdr\nwrite = originate\n"
        "deny = 0.0.0.0/0\ndeny = ::/0\npermit = 10.0.0.0/8\neventfilter = Event: Hangup\n"
        "eventfilter(name(DialEnd)) =\nwritetimeout = 250\nsetvar = CRM=1\n"
    )
    assert [f.code for f in report.findings] == ["originate-escalation"]
    assert report.findings[0].severity == "warning" and report.findings[0].user == "crm"
    assert report.files == ["manager.conf"]
    crm = ed.config.user("CRM")
    assert crm.read == libami.Privilege.CALL | libami.Privilege.CDR
    assert crm.write == libami.Privilege.ORIGINATE
    assert crm.permits("10.1.2.3") and not crm.permits("127.0.0.1") and not crm.permits("::1")
    # The plain loader agrees.
    again = libami.ManagerConfig.from_text(ed.text).user("crm")
    assert again.secret == "Zk4hW9qLr2Vx7Tn3"


def test_update_keeps_comments_and_none_removes_a_key():
    text = "[general]\nenabled = yes\n[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp ; rotated\nread = all\ndisplayconnects = no\n"
    ed = libami.ManagerConfig.from_text(text).edit()
    report = ed.update_user("A", secret="Wm2Lr8Tz5YpKq3x9", read=libami.Privilege.CALL, displayconnects=None)
    assert ed.text == "[general]\nenabled = yes\n[a]\nsecret = Wm2Lr8Tz5YpKq3x9 ; rotated\nread = call\n"
    assert any("manager reload" in n for n in report.notes)
    report = ed.update_user("a", secret=None)
    assert ed.config.user("a").secret is None
    assert "never-login" in [f.code for f in report.findings]
    ed.rename_user("a", "b")
    ed.set_enabled(False)
    assert ed.text == "[general]\nenabled = no\n[b]\nread = call\n"
    ed.remove_user("b")
    assert ed.config.users == []


def test_quirks_and_bad_values_are_refused_with_the_line():
    ed = libami.ManagerConfig.from_text(CONFORMANCE).edit()
    for bad in [",call", "sys,call", "Call", "call,,cdr"]:
        with pytest.raises(ValueError):
            ed.update_user("reader", read=bad)
    with pytest.raises(libami.ConfigEditError) as e:
        ed.add_user("admin")
    assert e.value.line == 13 and e.value.file == "manager.conf"
    assert "already used" in str(e.value)
    with pytest.raises(libami.ConfigEditError) as e:
        ed.update_user("reader", secret="")
    assert "empty secret" in str(e.value)
    with pytest.raises(libami.ConfigEditError):
        ed.update_user("reader", acl=[("permit", "10.0.0.1:5038")])
    with pytest.raises(TypeError):
        ed.update_user("reader", colour="blue")
    with pytest.raises(TypeError):
        ed.update_user("reader", permit=["10.0.0.0/8"], acl=[])
    assert ed.text == CONFORMANCE
    assert isinstance(e.value, libami.ConfigError)


def test_strict_refuses_dangerous_grants():
    ed = libami.ManagerConfig.from_text("[general]\nenabled = yes\n").edit(strict=True)
    with pytest.raises(libami.ConfigEditError) as e:
        ed.add_user("root", secret="Kq3x9Wm2Lr8Tz5Yp", write="system", permit=["127.0.0.1"])
    assert "shell-write" in str(e.value)


def test_generate_secret():
    a, b = libami.generate_secret(), libami.generate_secret(20)
    assert len(a) == 32 and len(b) == 20 and a != b
    assert a.isalnum() and a.isascii()
    for bad in (15, 257):
        with pytest.raises(ValueError):
            libami.generate_secret(bad)


def test_write_is_atomic_keeps_the_mode_and_edits_includes(tmp_path):
    conf = tmp_path / "manager.conf"
    conf.write_text("[general]\nenabled = yes\n#include users.conf\n")
    users = tmp_path / "users.conf"
    users.write_text("[bob]\r\nsecret = B0b-Secret-2024x\r\nread = all\r\n")
    os.chmod(conf, 0o640)
    ed = libami.ManagerConfig.from_path(conf).edit()
    ed.update_user("bob", read="call")
    ed.add_user("crm", secret=libami.generate_secret(), read="cdr", permit=["10.0.0.0/8"])
    written = ed.write()
    assert written == [str(users), str(conf)]
    assert users.read_bytes() == b"[bob]\r\nsecret = B0b-Secret-2024x\r\nread = call\r\n"
    assert conf.read_text().startswith("[general]\nenabled = yes\n#include users.conf\n\n[crm]\n")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manager.conf", "users.conf"]
    # A configuration loaded from text is written where asked; a new file is private.
    ed = libami.ManagerConfig.from_text("[general]\nenabled = no\n").edit()
    ed.set_enabled(True)
    with pytest.raises(ValueError):
        ed.write()
    new = tmp_path / "new.conf"
    assert ed.write(new) == [str(new)]
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
    assert new.read_text() == "[general]\nenabled = yes\n"


def test_a_file_that_is_not_utf8_is_not_edited(tmp_path):
    conf = tmp_path / "manager.conf"
    conf.write_bytes(b"; caf\xe9\n[general]\nenabled = yes\n")
    cfg = libami.ManagerConfig.from_path(conf)
    with pytest.raises(libami.ConfigEditError):
        cfg.edit()
