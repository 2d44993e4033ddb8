//! The bytes that cross the proxy: upstream answers with the client's ActionID restored in
//! place, and upstream events re-published through the core's fan-out with their lines kept.

use ami_proto::Message;
use ami_proto::authority::event_category;
use ami_proto::perm::Privilege;
use ami_proto::server::PublishedEvent;

/// The category an upstream event was published with: its `Privilege:` classes (`all`
/// ignored), else the catalog's category for its name.
pub fn category_of(m: &Message<'_>) -> Privilege {
    match m.get("Privilege") {
        Some(p) => {
            let text = String::from_utf8_lossy(p);
            text.split(',')
                .filter(|l| !l.trim().eq_ignore_ascii_case("all"))
                .filter_map(|l| Privilege::from_label(l.trim()))
                .fold(Privilege::from_bits(0), Privilege::union)
        }
        None => m.event().and_then(event_category).unwrap_or(Privilege::from_bits(0)),
    }
}

/// A message's bytes with every `ActionID` header set to the client's (or removed if it had
/// none); every other byte as it came, the legacy Command output included.
pub fn rewrite(m: &Message<'_>, down_id: Option<&[u8]>) -> Vec<u8> {
    let raw = m.raw();
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut pos = 0;
    for (slot, h) in m.slots().iter().zip(m.iter()) {
        if h.is_bare() || !h.is(b"ActionID") {
            continue;
        }
        let line = slot.line_range();
        out.extend_from_slice(raw.get(pos..line.start).unwrap_or_default());
        match down_id {
            Some(id) => {
                out.extend_from_slice(b"ActionID: ");
                out.extend_from_slice(id);
                pos = line.end;
            }
            None => {
                // Drop the line with its terminator.
                let rest = raw.get(line.end..).unwrap_or_default();
                let term = if rest.starts_with(b"\r\n") {
                    2
                } else {
                    usize::from(rest.starts_with(b"\n"))
                };
                pos = line.end + term;
            }
        }
    }
    out.extend_from_slice(raw.get(pos..).unwrap_or_default());
    out
}

/// An upstream event for the core's fan-out: its lines kept as they came, except `Event` and
/// `Privilege` (the core writes them) and, when `down_id` is `Some`, the ActionID (set to the
/// client's, or removed).
pub fn published_with(m: &Message<'_>, down_id: Option<Option<&[u8]>>) -> Option<PublishedEvent> {
    let name = m.event()?;
    let mut ev = PublishedEvent::new(name, category_of(m)).ok()?;
    for h in m.iter() {
        if !h.is_bare() && (h.is(b"Event") || h.is(b"Privilege")) {
            continue;
        }
        if !h.is_bare() && h.is(b"ActionID") {
            match down_id {
                Some(Some(id)) => {
                    ev.header("ActionID", id).ok()?;
                    continue;
                }
                Some(None) => continue,
                None => {}
            }
        }
        ev.raw_line(h.line()).ok()?;
    }
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::with_message as with;

    #[test]
    fn rewrite_restores_the_clients_action_id_in_place() {
        with(b"Event: Status\r\nChannel: X\r\nActionID: ami-proxy-7\r\n\r\n", |m| {
            assert_eq!(
                rewrite(&m, Some(b"mine")),
                b"Event: Status\r\nChannel: X\r\nActionID: mine\r\n\r\n"
            );
            assert_eq!(rewrite(&m, None), b"Event: Status\r\nChannel: X\r\n\r\n");
        });
        // Legacy command output: bare lines kept as they are.
        with(
            b"Response: Follows\r\nActionID: ami-proxy-1\r\nline one\r\n--END COMMAND--\r\n\r\n",
            |m| {
                assert_eq!(
                    rewrite(&m, Some(b"c")),
                    b"Response: Follows\r\nActionID: c\r\nline one\r\n--END COMMAND--\r\n\r\n"
                );
            },
        );
    }

    #[test]
    fn categories_come_from_the_privilege_header() {
        with(b"Event: Newchannel\r\nPrivilege: call,all\r\n\r\n", |m| {
            assert_eq!(category_of(&m), Privilege::CALL)
        });
        with(b"Event: X\r\nPrivilege: system,user,all\r\n\r\n", |m| {
            assert_eq!(category_of(&m), Privilege::SYSTEM.union(Privilege::USER));
        });
        // No header: the catalog's category of the name.
        with(b"Event: Cdr\r\n\r\n", |m| assert_eq!(Some(category_of(&m)), event_category(b"Cdr")));
        with(b"Event: Unknown\r\n\r\n", |m| assert!(category_of(&m).is_empty()));
    }

    #[test]
    fn published_events_keep_their_lines() {
        with(b"Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: X\r\nActionID: ami-proxy-3\r\nH:no space\r\n\r\n", |m| {
            let ev = published_with(&m, Some(Some(b"a1"))).unwrap();
            assert_eq!(ev.name(), b"UserEvent");
            assert_eq!(ev.category(), Privilege::USER);
            assert_eq!(ev.body(), b"UserEvent: X\r\nActionID: a1\r\nH:no space\r\n");
            let ev = published_with(&m, None).unwrap();
            assert_eq!(ev.body(), b"UserEvent: X\r\nActionID: ami-proxy-3\r\nH:no space\r\n");
        });
    }
}
