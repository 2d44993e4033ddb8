//! Every event of the Asterisk 22 captures parses into its typed form, and every documented
//! field's getter returns exactly what the message holds.

use std::path::Path;

use ami_catalog::{CatalogEvent, TypedEvent, events::Hangup};
use ami_proto::{Decoder, Frame, MessageKind, Role};

/// Events the captured server sent that Asterisk does not document (app_queue's list items).
const UNDOCUMENTED: [&str; 4] =
    ["QueueMember", "QueueStatusComplete", "QueueSummary", "QueueSummaryComplete"];

fn captures() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ami-proto/tests/data/asterisk-22");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("server_to_client.bin"))
        .filter(|p| p.exists())
        .collect();
    files.sort();
    files
}

#[test]
fn every_captured_event_is_typed() {
    let (mut typed, mut other) = (0, 0);
    let mut kinds = std::collections::BTreeSet::new();
    for file in captures() {
        let bytes = std::fs::read(&file).unwrap();
        let mut decoder = Decoder::new(Role::Client);
        decoder.feed(&bytes);
        while let Some(frame) = decoder.next_frame() {
            let Ok(Frame::Message(m)) = frame else { continue };
            let Some(event) = TypedEvent::from_message(&m) else {
                assert_ne!(m.kind(), MessageKind::Event);
                continue;
            };
            let name = String::from_utf8_lossy(m.event().unwrap()).into_owned();
            match event.kind() {
                Some(kind) => {
                    typed += 1;
                    kinds.insert(kind);
                    assert!(kind.name().eq_ignore_ascii_case(&name));
                    for (header, value) in event.fields() {
                        assert_eq!(
                            value.map(|v| v.as_bytes()),
                            m.get(header),
                            "{}: {name}.{header}",
                            file.display()
                        );
                    }
                }
                None => {
                    other += 1;
                    assert!(UNDOCUMENTED.contains(&name.as_str()), "{name} is not typed");
                    assert_eq!(event.message().raw(), m.raw());
                }
            }
        }
    }
    // The captures hold 379 events (`grep -ac "^Event: "`) of 37 names, 4 undocumented.
    assert_eq!((typed, kinds.len(), other), (375, 33, 4));
}

#[test]
fn views_answer_only_their_own_event_and_keep_unknown_fields() {
    let mut decoder = Decoder::new(Role::Client);
    decoder.feed(b"Event: hangup\r\nChannel: A\r\nTenantid: t1\r\n\r\nResponse: Success\r\n\r\n");
    let Some(Ok(Frame::Message(m))) = decoder.next_frame() else { panic!() };
    let h = Hangup::from_message(&m).expect("names match case-insensitively");
    assert_eq!(h.channel().unwrap(), "A");
    assert_eq!(h.get("tenantid").unwrap(), "t1");
    assert_eq!(h.cause(), None);
    assert_eq!(Hangup::spec().name, "Hangup");
    assert!(ami_catalog::events::Newchannel::from_message(&m).is_none());
    let Some(Ok(Frame::Message(r))) = decoder.next_frame() else { panic!() };
    assert!(TypedEvent::from_message(&r).is_none());
    assert!(Hangup::from_message(&r).is_none());
}

#[test]
fn numbered_fields_are_read_without_allocating_names() {
    let mut decoder = Decoder::new(Role::Client);
    decoder.feed(
        b"Event: RTCPSent\r\nReportCount: 2\r\nReport0DLSR: 0.5\r\nReport1DLSR: 1.25\r\n\r\n",
    );
    let Some(Ok(Frame::Message(m))) = decoder.next_frame() else { panic!() };
    let Some(TypedEvent::RTCPSent(r)) = TypedEvent::from_message(&m) else { panic!() };
    assert_eq!(r.report_dlsr(0).unwrap(), "0.5");
    assert_eq!(r.report_dlsr(1).unwrap().parse::<f64>(), Some(1.25));
    assert_eq!(r.report_dlsr(2), None);
    assert_eq!(r.report_dlsr(u32::MAX), None);
}
