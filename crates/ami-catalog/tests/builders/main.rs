//! Every documented required parameter is required by its builder: `new` takes exactly the
//! required parameters of the facts extract, in documented order, and writes them.

#[rustfmt::skip]
mod calls;

use ami_catalog::{CatalogAction, action_spec};
use serde_json::Value as Json;

fn facts() -> Json {
    serde_json::from_str(include_str!("../../../../catalog/asterisk.json")).expect("facts JSON")
}

#[test]
fn every_builder_requires_exactly_the_documented_required_parameters() {
    let facts = facts();
    let documented = facts["actions"].as_array().unwrap();
    let calls = calls::all();
    assert_eq!(calls.len(), documented.len(), "one builder per documented action");
    let mut required_total = 0;
    for (action, (name, argc, built)) in documented.iter().zip(&calls) {
        assert_eq!(action["name"], *name);
        let required: Vec<&str> = action["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["required"] == true)
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(*argc, required.len(), "{name}: new() takes the required parameters");
        assert_eq!(built.name(), name.as_bytes());
        let fields: Vec<(&[u8], &[u8])> = built.fields.iter().collect();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = required
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_bytes().to_vec(), format!("v{i}").into_bytes()))
            .collect();
        let got: Vec<(Vec<u8>, Vec<u8>)> =
            fields.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        assert_eq!(got, expected, "{name}: new() writes its required parameters in order");
        let spec = action_spec(name.as_bytes()).unwrap();
        let spec_required: Vec<&str> = spec.required().map(|p| p.name).collect();
        assert_eq!(spec_required, required, "{name}");
        required_total += required.len();
    }
    // 157 `required="true"` parameters written in the 154 actions' own syntax, and 3 more
    // that xi:include brings in (Hangup's Channel, MWIGet's Mailbox, ...).
    assert_eq!(required_total, 160);
}

#[test]
fn setters_replace_repeatables_add_and_families_number() {
    use ami_catalog::actions::{AOCMessage, Originate, UserEvent};
    let o = Originate::new("Local/1@a").exten("1").exten("2").variable("A=1").variable("B=2");
    let a = o.as_action();
    assert_eq!(a.fields.iter().filter(|(n, _)| *n == b"Exten").count(), 1);
    assert_eq!(a.get("Exten"), Some(&b"2"[..]));
    assert_eq!(a.fields.iter().filter(|(n, _)| *n == b"Variable").count(), 2);
    let aoc = AOCMessage::new("D").unit_amount(0, "5").unit_type(0, "1").unit_amount(1, "7");
    assert_eq!(aoc.as_action().get("UnitAmount(1)"), Some(&b"7"[..]));
    assert_eq!(aoc.as_action().get("UnitType(0)"), Some(&b"1"[..]));
    let ev = UserEvent::new("Deploy").header("Stage", "done");
    assert_eq!(
        ev.to_bytes().unwrap(),
        b"Action: UserEvent\r\nUserEvent: Deploy\r\nStage: done\r\n\r\n"
    );
}

#[test]
fn builders_encode_through_the_injection_proof_encoder() {
    use ami_catalog::actions::{Command, Login};
    use ami_proto::encode::EncodeErrorKind;
    let err = Login::new("admin").secret("x\r\nAction: Command").to_bytes().unwrap_err();
    assert_eq!(err.kind, EncodeErrorKind::ForbiddenByteInValue(b'\r'));
    let err = Command::new("core show version").header("Bad:Name", "v").to_bytes().unwrap_err();
    assert_eq!(err.kind, EncodeErrorKind::ColonInName);
    let mut out = b"kept".to_vec();
    assert!(Command::new("x\0y").encode_into(&mut out).is_err());
    assert_eq!(out, b"kept");
}
