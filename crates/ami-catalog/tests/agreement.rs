//! The catalog, the facts extract and `ami_proto::authority` agree.

use ami_catalog::{EventKind, action_spec, actions, event_spec, events};
use ami_proto::authority::{self, Escalation};
use ami_proto::perm::{Privilege, Strictness, parse_perm};
use serde_json::Value as Json;

fn facts() -> Json {
    serde_json::from_str(include_str!("../../../catalog/asterisk.json")).expect("facts JSON")
}

fn strs(v: &Json) -> Vec<&str> {
    v.as_array().map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default()
}

/// Every documented action is in the authority table and every authority entry is documented,
/// with the same spelling; the catalog records the table's authority and escalation; the
/// module registering it is one of those documenting it.
#[test]
fn every_documented_action_has_its_authority() {
    let facts = facts();
    let documented = facts["actions"].as_array().unwrap();
    assert_eq!(documented.len(), 154);
    assert_eq!(authority::ACTIONS.len(), documented.len());
    for (action, info) in documented.iter().zip(authority::ACTIONS.iter()) {
        let name = action["name"].as_str().unwrap();
        assert_eq!(name, info.name, "same set, same order, same spelling");
        assert!(strs(&action["modules"]).contains(&info.module), "{name}: module {}", info.module);
        let spec = action_spec(name.as_bytes()).unwrap();
        assert_eq!(spec.authority, info.authority, "{name}");
        assert_eq!(spec.escalation, Escalation::of(name.as_bytes()), "{name}");
    }
    let with_checks: Vec<&str> =
        actions().iter().filter(|a| a.escalation.is_some()).map(|a| a.name).collect();
    assert_eq!(with_checks, ["Command", "Getvar", "Originate", "Status"]);
}

/// Where `ami_proto::authority` knows an event's category (from the code), the catalog's read
/// class (from the documentation, corrected where the code says otherwise) is the same.
#[test]
fn event_read_classes_agree_with_the_authority_table() {
    let mut compared = 0;
    for spec in events() {
        if let Some(category) = authority::event_category(spec.name.as_bytes()) {
            assert_eq!(spec.read_class, category, "{}", spec.name);
            compared += 1;
        }
        assert!(!spec.read_class.is_empty(), "{}", spec.name);
    }
    // The authority table's 121 events less the 10 CC* events, which Asterisk does not
    // document.
    assert_eq!(compared, 111);
    assert_eq!(event_spec(b"Newexten").unwrap().name, "Newexten");
    assert_eq!(
        event_spec(b"VoicemailPasswordChange").unwrap().read_class,
        Privilege::SYSTEM | Privilege::USER
    );
}

/// The generated tables say what the facts extract says.
#[test]
fn tables_match_the_facts() {
    let facts = facts();
    assert_eq!(facts["asterisk_version"], ami_catalog::ASTERISK_VERSION);
    for action in facts["actions"].as_array().unwrap() {
        let spec = action_spec(action["name"].as_str().unwrap().as_bytes()).unwrap();
        assert_eq!(strs(&action["modules"]), spec.modules);
        assert_eq!(strs(&action["since"]), spec.since);
        let params = action["parameters"].as_array().unwrap();
        assert_eq!(params.len(), spec.parameters.len(), "{}", spec.name);
        for (p, s) in params.iter().zip(spec.parameters) {
            let name = p["indexed"].as_str().or(p["name"].as_str()).unwrap();
            assert_eq!(name, s.name);
            assert_eq!(p["required"] == true, s.required);
            assert_eq!(p["repeatable"] == true, s.repeatable);
            assert_eq!(p["default"].as_str(), s.default);
        }
        assert_eq!(strs(&action["list_items"]), spec.list_items);
        assert_eq!(action["list_complete"].as_str(), spec.list_complete);
    }
    let documented = facts["events"].as_array().unwrap();
    assert_eq!(documented.len(), events().len());
    assert_eq!(EventKind::ALL.len(), events().len());
    for (event, kind) in documented.iter().zip(EventKind::ALL) {
        let spec = kind.spec();
        assert_eq!(event["name"], spec.name);
        assert_eq!(EventKind::from_name(spec.name.to_ascii_uppercase().as_bytes()), Some(kind));
        let labels = strs(&event["read_class"]).join(",");
        let class = parse_perm(&labels, Strictness::Strict).unwrap().privilege;
        assert_eq!(class, spec.read_class, "{}", spec.name);
        let fields: Vec<&str> = event["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["indexed"].as_str().or(f["name"].as_str()).unwrap())
            .collect();
        assert_eq!(fields, spec.fields, "{}", spec.name);
    }
}

/// Every correction of the documentation names its evidence in the Asterisk source.
#[test]
fn corrections_cite_the_source() {
    let facts = facts();
    let corrections = facts["corrections"].as_array().unwrap();
    assert!(corrections.len() >= 3);
    for c in corrections {
        let evidence = c["evidence"].as_str().unwrap();
        let file = evidence.split([':', ' ']).next().unwrap();
        assert!(["main/", "apps/", "res/", "channels/"].iter().any(|d| file.starts_with(d)), "{c}");
    }
}

/// The facts extract holds no prose: every string is a name, a version, a label, a module, a
/// header template, a default value or a source location.
#[test]
fn the_facts_hold_no_prose() {
    fn walk(v: &Json, key: &str, bad: &mut Vec<String>) {
        match v {
            Json::String(s) => {
                let words = s.split_whitespace().count();
                let allowed =
                    matches!(key, "source" | "evidence" | "subject" | "documented" | "used");
                if words > 1 && !allowed {
                    bad.push(format!("{key}: {s}"));
                }
            }
            Json::Array(items) => items.iter().for_each(|i| walk(i, key, bad)),
            Json::Object(map) => map.iter().for_each(|(k, i)| walk(i, k, bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk(&facts(), "", &mut bad);
    assert!(bad.is_empty(), "{bad:?}");
}
