//! The catalog against the real Asterisk 22 (tests/live/asterisk.sh through ami-testkit):
//! what ListCommands lists, with its privileges, and every event of a real call, typed.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ami_catalog::actions::{ListCommands, Originate};
use ami_catalog::{CatalogAction, TypedEvent, action_spec, actions};
use ami_proto::perm::{Privilege, Strictness, parse_perm};
use ami_proto::{HeaderSlot, Role, Status, parse_message};
use ami_testkit::{ADMIN, RawAmi, header};

/// Events Asterisk sends that it does not document (see tests/captures.rs).
const UNDOCUMENTED: [&str; 6] = [
    "ChannelHungup",
    "ChannelsHungupListComplete",
    "QueueMember",
    "QueueStatusComplete",
    "QueueSummary",
    "QueueSummaryComplete",
];

fn send(ami: &mut RawAmi, action: impl CatalogAction) {
    ami.send(&action.to_bytes().expect("encodable")).unwrap();
}

/// Every action the real server lists for `admin` (write = all) is documented, spelled the
/// same and registered with the catalog's authority; every documented action of the core is
/// listed (the modules of the others may not be loaded).
#[test]
fn list_commands_of_the_real_asterisk_agree_with_the_catalog() {
    let ast = ami_testkit::shared();
    let mut ami = RawAmi::connect(ast.addr()).unwrap();
    ami.login(ADMIN, Some("off")).unwrap();
    send(&mut ami, ListCommands::new().action_id("catalog-lc"));
    let reply = ami
        .read_until(Duration::from_secs(10), |m| header(m, "ActionID") == Some("catalog-lc"))
        .unwrap()
        .pop()
        .unwrap();
    let mut listed = BTreeSet::new();
    for line in reply.lines().filter(|l| l.contains(" (Priv: ")) {
        let (name, rest) = line.split_once(": ").unwrap();
        let privs = rest.rsplit_once(" (Priv: ").unwrap().1.trim_end_matches(')');
        let authority = match privs {
            "<none>" => Privilege::NONE,
            p => parse_perm(p.strip_suffix(",all").unwrap(), Strictness::Strict).unwrap().privilege,
        };
        let spec = action_spec(name.as_bytes()).unwrap_or_else(|| panic!("{name} undocumented"));
        assert_eq!(spec.name, name, "spelling");
        assert_eq!(spec.authority, authority, "{name}");
        listed.insert(name.to_string());
    }
    let core: Vec<&str> =
        actions().iter().filter(|a| a.modules.contains(&"core")).map(|a| a.name).collect();
    for name in &core {
        assert!(listed.contains(*name), "{name} is documented in the core but not listed");
    }
    assert!(listed.len() > core.len(), "modules' actions are listed too: {listed:?}");
}

/// A real call (Local/start@amitest dialling Local/answer@amitest): every event of it is typed,
/// and every documented field's getter returns what the message holds.
#[test]
fn every_event_of_a_real_call_is_typed() {
    let ast = ami_testkit::shared();
    let mut ami = RawAmi::connect(ast.addr()).unwrap();
    ami.login(ADMIN, Some("on")).unwrap();
    let call = Originate::new("Local/start@amitest").application("Wait").data("10").async_("true");
    send(&mut ami, call.action_id("catalog-call"));
    let mut kinds = BTreeSet::new();
    let (mut typed, mut hangups) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    // Four channels hang up; the CDRs and the last events follow within a second.
    while hangups < 4 && Instant::now() < deadline {
        let Some(text) = ami.read_message(Duration::from_secs(15)).unwrap() else { break };
        let bytes = format!("{text}\r\n");
        let mut slots = [HeaderSlot::EMPTY; 256];
        let Ok(Status::Complete((_, m))) =
            parse_message(Role::Client, bytes.as_bytes(), &mut slots)
        else {
            panic!("unparsable: {text}");
        };
        let Some(event) = TypedEvent::from_message(&m) else { continue };
        let name = String::from_utf8_lossy(m.event().unwrap()).into_owned();
        let Some(kind) = event.kind() else {
            assert!(UNDOCUMENTED.contains(&name.as_str()), "{name} is not typed:\n{text}");
            continue;
        };
        typed += 1;
        kinds.insert(kind.name());
        for (field, value) in event.fields() {
            assert_eq!(value.map(|v| v.as_bytes()), m.get(field), "{name}.{field}");
        }
        if let TypedEvent::Hangup(h) = event {
            assert!(h.channel().is_some_and(|c| c.to_string().starts_with("Local/")));
            hangups += 1;
        }
    }
    assert_eq!(hangups, 4, "the call's four channels hung up within 30 s");
    for want in ["Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "UserEvent", "Hangup"] {
        assert!(kinds.contains(want), "{want} missing from {kinds:?}");
    }
    assert!(typed > 50, "{typed} typed events");
}
