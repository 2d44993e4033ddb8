//! Every event of the Asterisk 22 captures parses into its typed form, and every documented
//! field's getter returns exactly what the message holds.

use std::path::{Path, PathBuf};

use ami_catalog::{CatalogEvent, TypedEvent, events::Hangup};
use ami_proto::{Decoder, Frame, MessageKind, Role};

/// Events the captured server sent that Asterisk does not document: app_queue's list items and
/// the items of Hangup's answer to a channel regex (`main/manager.c`).
const UNDOCUMENTED: [&str; 6] = [
    "ChannelHungup",
    "ChannelsHungupListComplete",
    "QueueMember",
    "QueueStatusComplete",
    "QueueSummary",
    "QueueSummaryComplete",
];

/// Every `server_to_client.bin` under the captures, at any depth.
fn captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.file_name().is_some_and(|n| n == "server_to_client.bin") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../ami-proto/tests/data/asterisk-22"),
        &mut files,
    );
    files.sort();
    assert_eq!(files.len(), 40);
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
    // The captures hold 706 events (`grep -ac "^Event: "`) of 47 names, 6 of them (10 events)
    // undocumented.
    assert_eq!((typed, kinds.len(), other), (696, 41, 10));
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
