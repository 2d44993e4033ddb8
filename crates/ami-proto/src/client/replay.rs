//! Replays of the real Asterisk 22 captures (tests/data/asterisk-22) through a
//! [`ClientSession`], at the recorded TCP splits, sending the same actions as the capture's
//! client (so the ActionIDs match: the session's generator is configured with the capture
//! client's prefix, `client-`, `helper-`, ...).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::tests::{Ev, actions, capture, drain, flush};
use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    /// Server to client.
    In,
    /// Client to server.
    Out,
}

#[derive(Clone, Debug)]
pub(super) struct Row {
    pub(super) t_ms: u64,
    pub(super) dir: Dir,
    pub(super) offset: usize,
    pub(super) len: usize,
    pub(super) note: String,
}

/// The rows of a connection's `timeline.tsv`.
pub(super) fn timeline(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("timeline.tsv")).unwrap();
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let secs: f64 = cols[0].parse().unwrap();
        rows.push(Row {
            t_ms: (secs * 1000.0).round() as u64,
            dir: if cols[1] == "S->C" { Dir::In } else { Dir::Out },
            offset: cols[2].parse().unwrap(),
            len: cols[3].parse().unwrap(),
            note: cols.get(4).unwrap_or(&"").trim().to_string(),
        });
    }
    rows
}

/// Every recorded connection: folders holding a `server_to_client.bin`.
fn connections() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries.into_iter().filter(|p| p.is_dir()) {
            if p.join("server_to_client.bin").exists() {
                out.push(p.clone());
            }
            walk(&p, out);
        }
    }
    let mut out = Vec::new();
    walk(&capture(""), &mut out);
    out
}

/// Every message of a client's byte stream, as a server-role decoder frames it (messages that
/// broke a limit give their kept lines).
fn client_messages(bytes: &[u8]) -> Vec<OwnedMessage> {
    let mut d = Decoder::new(Role::Server);
    d.feed(bytes);
    let mut out = Vec::new();
    while let Some(item) = d.next_frame() {
        match item {
            Ok(Frame::Message(m)) => out.push(m.to_owned_message()),
            Err(e) => out.push(e.partial().to_owned_message()),
            Ok(Frame::Banner(_)) => {}
        }
    }
    out
}

fn is(m: &OwnedMessage, name: &str, value: &str) -> bool {
    m.get(name).is_some_and(|v| v.eq_ignore_ascii_case(value.as_bytes()))
}

pub(super) struct Replay {
    pub(super) events: Vec<Ev>,
    /// Actions the session accepted: (ActionID, action name).
    pub(super) accepted: Vec<(String, String)>,
    /// Captured actions the session did not send: (name, captured ActionID).
    pub(super) refused: Vec<(String, Option<String>)>,
    /// What the session transmitted.
    pub(super) transmitted: Vec<u8>,
    /// The client's actions as recorded.
    pub(super) recorded: Vec<OwnedMessage>,
}

/// Replays one connection: server bytes at the recorded splits, the recorded actions sent at
/// the recorded times, the clock from the timeline.
pub(super) fn replay(dir: &Path) -> Replay {
    replay_in_pieces(dir, usize::MAX)
}

/// [`replay`], each recorded read further cut into pieces of `step` bytes.
fn replay_in_pieces(dir: &Path, step: usize) -> Replay {
    let server = std::fs::read(dir.join("server_to_client.bin")).unwrap();
    let client = std::fs::read(dir.join("client_to_server.bin")).unwrap();
    let rows = timeline(dir);
    let recorded = client_messages(&client);
    let prefix = recorded
        .iter()
        .filter_map(|m| m.get("ActionID"))
        .filter_map(|id| core::str::from_utf8(id).ok())
        .find_map(|id| {
            let dash = id.rfind('-')?;
            id[dash + 1..].parse::<u64>().ok()?;
            Some(id[..=dash].to_string())
        })
        .unwrap_or_else(|| "client-".to_string());
    let mut config = ClientConfig::default().with_action_id_prefix(prefix);
    // Send what the recorded client sent, even what the session would refuse by default.
    config.require_login = false;
    config.server_limits = None;
    if let Some(events) =
        recorded.iter().find(|m| is(m, "Action", "Login")).and_then(|m| m.get("Events"))
    {
        config = config.with_events(events);
    }
    let mut s = ClientSession::new(config, Instant::from_millis(0));

    let mut r = Replay {
        events: Vec::new(),
        accepted: Vec::new(),
        refused: Vec::new(),
        transmitted: Vec::new(),
        recorded: recorded.clone(),
    };
    let mut reader = Decoder::new(Role::Server);
    let mut md5_logins_pending = 0usize;
    let mut fed = 0;
    for row in &rows {
        let now = Instant::from_millis(row.t_ms);
        s.handle_timeout(now);
        r.events.extend(drain(&mut s));
        match row.dir {
            Dir::In if row.len > 0 => {
                for piece in server[row.offset..row.offset + row.len].chunks(step) {
                    s.handle_input(piece);
                    if step != usize::MAX {
                        r.events.extend(drain(&mut s));
                    }
                }
                fed += row.len;
            }
            Dir::In => {
                assert_eq!(row.note, "EOF");
                s.handle_eof();
            }
            Dir::Out => {
                reader.feed(&client[row.offset..row.offset + row.len]);
                let mut batch = Vec::new();
                while let Some(item) = reader.next_frame() {
                    match item {
                        Ok(Frame::Message(m)) => batch.push(m.to_owned_message()),
                        Err(e) => batch.push(e.partial().to_owned_message()),
                        Ok(Frame::Banner(_)) => {}
                    }
                }
                for m in batch {
                    send_recorded(&mut s, &m, now, &recorded, &mut md5_logins_pending, &mut r);
                }
            }
        }
        r.events.extend(drain(&mut s));
        r.transmitted.extend(flush(&mut s));
    }
    assert_eq!(fed, server.len(), "{}: the timeline covers the server's bytes", dir.display());
    s.handle_eof();
    r.events.extend(drain(&mut s));
    assert!(s.poll_transmit().is_empty());
    r
}

fn send_recorded(
    s: &mut ClientSession,
    m: &OwnedMessage,
    now: Instant,
    recorded: &[OwnedMessage],
    md5_logins_pending: &mut usize,
    r: &mut Replay,
) {
    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    let captured_id = m.get("ActionID").filter(|v| !v.is_empty()).map(text);
    let Some(name) = m.as_message().action() else {
        r.refused.push((String::new(), captured_id));
        return;
    };
    let name = text(name);
    let md5 = is(m, "AuthType", "MD5");
    let result = if name.eq_ignore_ascii_case("Login") && md5 && *md5_logins_pending > 0 {
        // The session sent this Login itself, after the Challenge's answer.
        *md5_logins_pending -= 1;
        return;
    } else if name.eq_ignore_ascii_case("Login") && !md5 {
        let user = m.get("Username").unwrap_or_default();
        let secret = m.get("Secret").unwrap_or_default();
        s.login(user, secret, LoginMethod::Plain)
    } else if name.eq_ignore_ascii_case("Challenge")
        && md5
        && let Some(login) =
            recorded.iter().find(|x| is(x, "Action", "Login") && is(x, "AuthType", "MD5"))
    {
        *md5_logins_pending += 1;
        let id = s.login(login.get("Username").unwrap_or_default(), "admin123", LoginMethod::Md5);
        // The Challenge took the ActionID before the Login's.
        let expected = login.get("ActionID").map(text);
        assert_eq!(id.as_ref().ok().map(ToString::to_string), expected);
        r.accepted.push((id.unwrap().to_string(), "Login".into()));
        return;
    } else {
        let mut action = Action::new(name.as_bytes());
        for h in m.as_message().iter().filter(|h| !h.is_bare() && !h.is(b"Action")) {
            action.push(h.name(), h.value());
        }
        s.send_action(&action, now)
    };
    match result {
        Ok(id) => {
            if let Some(captured) = &captured_id {
                assert_eq!(&id.to_string(), captured, "the same ActionID as the recorded client");
            }
            r.accepted.push((id.to_string(), name));
        }
        Err(_) => r.refused.push((name, captured_id)),
    }
}

fn id_of(m: &OwnedMessage) -> Option<String> {
    m.get("ActionID").filter(|v| !v.is_empty()).map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Frames the caller sees: every frame but the replies to the session's own actions (the
/// `Challenge` of an MD5 login, the only one in the captures).
fn count_frames(bytes: &[u8]) -> usize {
    let mut d = Decoder::new(Role::Client);
    d.feed(bytes);
    let mut n = 0;
    while let Some(f) = d.next_frame() {
        // A Challenge reply is `Response`, `ActionID`, `Challenge` (ListCommands output also
        // has a `Challenge:` line, among ~100 others).
        let own =
            matches!(f, Ok(Frame::Message(m)) if m.len() == 3 && m.get("Challenge").is_some());
        n += usize::from(!own);
    }
    n
}

#[test]
fn replaying_every_capture_correlates_everything_and_never_panics() {
    let conns = connections();
    assert!(conns.len() >= 35, "found {} connections", conns.len());
    for dir in conns {
        let name = dir.strip_prefix(capture("")).unwrap().display().to_string();
        let r = replay(&dir);
        let evs = &r.events;

        // One event per received frame; Closed last and once.
        let server = std::fs::read(dir.join("server_to_client.bin")).unwrap();
        let received = evs.iter().filter(|e| e.is_received()).count();
        assert_eq!(received, count_frames(&server), "{name}: one event per frame");
        assert!(matches!(evs.last(), Some(Ev::Closed(..))), "{name}: ends with Closed");
        assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Closed(..))).count(), 1, "{name}");
        assert!(!evs.iter().any(|e| matches!(e, Ev::Malformed(..) | Ev::TimedOut(_))), "{name}");

        // Exactly one final event per accepted action, none for anything else.
        let mut finals: BTreeMap<&str, usize> = BTreeMap::new();
        for id in evs.iter().filter_map(Ev::final_id) {
            *finals.entry(id).or_default() += 1;
        }
        let mut sent: BTreeMap<&str, usize> = BTreeMap::new();
        for (id, _) in &r.accepted {
            *sent.entry(id).or_default() += 1;
        }
        assert_eq!(finals, sent, "{name}: one final event per action");

        // Nothing answering an accepted action is unsolicited; unsolicited ActionIDs are the
        // ones of actions the session did not send.
        for e in evs {
            if let Ev::Unsolicited(m) = e
                && let Some(id) = id_of(m)
            {
                assert!(!sent.contains_key(id.as_str()), "{name}: {id} unsolicited");
                assert!(
                    r.refused.iter().any(|(_, c)| c.as_deref() == Some(id.as_str())),
                    "{name}: {id} unsolicited but never refused"
                );
            }
        }

        // Lists: as many items as the completion announces.
        for e in evs {
            if let Ev::ListComplete(id, m) = e {
                let items = evs.iter().filter(|x| matches!(x, Ev::ListItem(i, _) if i == id));
                let announced = std::str::from_utf8(m.get("ListItems").unwrap()).unwrap();
                assert_eq!(items.count().to_string(), announced, "{name}: list {id}");
            }
        }

        // The session sent the recorded client's actions (name and ActionID), minus the ones
        // it refused.
        let sent_actions: Vec<(String, Option<String>)> = actions(&r.transmitted)
            .iter()
            .map(|m| (String::from_utf8_lossy(m.as_message().action().unwrap()).into(), id_of(m)))
            .collect();
        let expected: Vec<(String, Option<String>)> = r
            .recorded
            .iter()
            .filter_map(|m| {
                let name = String::from_utf8_lossy(m.as_message().action()?).into_owned();
                let id = id_of(m);
                let refused = r.refused.iter().any(|(n, c)| *n == name && *c == id);
                (!refused).then_some((name, id))
            })
            .collect();
        assert_eq!(sent_actions.len(), expected.len(), "{name}: {sent_actions:?} vs {expected:?}");
        for ((sn, si), (en, ei)) in sent_actions.iter().zip(&expected) {
            assert_eq!(sn, en, "{name}");
            if ei.is_some() {
                assert_eq!(si, ei, "{name}");
            }
        }
    }
}

fn find(evs: &[Ev], pred: impl Fn(&Ev) -> bool) -> &Ev {
    evs.iter().find(|e| pred(e)).unwrap_or_else(|| panic!("not found in {evs:#?}"))
}

fn items(evs: &[Ev], id: &str) -> Vec<OwnedMessage> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::ListItem(i, m) if i == id => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn value(m: &OwnedMessage, name: &str) -> String {
    String::from_utf8_lossy(m.get(name).unwrap_or_default()).into_owned()
}

#[test]
fn replay_pipelined_actions_matches_each_response() {
    let r = replay(&capture("pipelined-actions"));
    let evs = &r.events;
    assert_eq!(evs[0], Ev::Banner(b"11.0.0".to_vec()));
    assert_eq!(evs[1], Ev::LoggedIn("client-1".into()));
    let Ev::Response { id, complete: true, msg } = &evs[2] else { panic!("{:?}", evs[2]) };
    assert_eq!((id.as_str(), value(msg, "Ping").as_str()), ("p1", "Pong"));
    let Ev::Response { id, msg, .. } = &evs[3] else { panic!("{:?}", evs[3]) };
    assert_eq!((id.as_str(), value(msg, "CoreCurrentCalls").as_str()), ("p2", "0"));
    let Ev::Command { id, success: true, legacy: false, lines } = &evs[4] else { panic!() };
    assert_eq!(id, "p3");
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with(b"System uptime:"));
    let Ev::Response { id, msg, .. } = &evs[5] else { panic!("{:?}", evs[5]) };
    assert_eq!((id.as_str(), value(msg, "Value").as_str()), ("p4", "hello"));
    assert_eq!(evs[6], Ev::ListStart("p5".into()));
    assert!(
        matches!(&evs[7], Ev::ListComplete(id, m) if id == "p5" && value(m, "ListItems") == "0")
    );
    assert_eq!(evs[8], Ev::Closed(CloseReason::PeerClosed, false));
}

#[test]
fn replay_status_and_core_show_channels_lists() {
    let r = replay(&capture("status-coreshowchannels/client"));
    let evs = &r.events;
    for id in ["client-2", "client-3"] {
        assert!(items(evs, id).is_empty());
        find(evs, |e| matches!(e, Ev::ListComplete(i, _) if i == id));
    }
    let status = items(evs, "client-4");
    assert_eq!(status.len(), 2);
    assert!(
        status.iter().all(|m| value(m, "Event") == "Status" && value(m, "Privilege") == "Call")
    );
    let one = items(evs, "client-5");
    assert_eq!(one.len(), 1);
    let vars: Vec<_> = one[0].as_message().get_all(b"Variable").map(<[u8]>::to_vec).collect();
    assert_eq!(vars, [b"PARKVAR=parked".to_vec(), b"FOO=(null)".to_vec()]);
    let Ev::Response { complete: true, msg, .. } =
        find(evs, |e| matches!(e, Ev::Response { id, .. } if id == "client-6"))
    else {
        panic!()
    };
    assert_eq!(value(msg, "Message"), "No such channel");
    let channels = items(evs, "client-7");
    assert_eq!(channels.len(), 2);
    assert!(channels.iter().all(|m| value(m, "Event") == "CoreShowChannel"));
    let hung = items(evs, "client-8");
    assert_eq!(hung.len(), 2);
    find(
        evs,
        |e| matches!(e, Ev::ListComplete(i, m) if i == "client-8" && value(m, "Event") == "ChannelsHungupListComplete"),
    );
    // Items come between their start and their completion, in order.
    let pos = |pred: &dyn Fn(&Ev) -> bool| evs.iter().position(pred).unwrap();
    let start = pos(&|e| *e == Ev::ListStart("client-4".into()));
    let end = pos(&|e| matches!(e, Ev::ListComplete(i, _) if i == "client-4"));
    assert!(evs[start + 1..end].iter().all(|e| matches!(e, Ev::ListItem(i, _) if i == "client-4")));
    // The helper's OriginateResponse reaches this connection as a plain event.
    find(
        evs,
        |e| matches!(e, Ev::Event(m) if value(m, "Event") == "OriginateResponse" && value(m, "ActionID") == "helper-2"),
    );

    let helper = replay(&capture("status-coreshowchannels/helper"));
    find(
        &helper.events,
        |e| matches!(e, Ev::Originate(i, m) if i == "helper-2" && value(m, "Response") == "Success"),
    );
}

#[test]
fn replay_async_originate_routes_originate_response() {
    let r = replay(&capture("originate-async-admin"));
    let evs = &r.events;
    let first = evs
        .iter()
        .position(|e| matches!(e, Ev::Response { id, complete: false, .. } if id == "client-2"));
    let done = evs.iter().position(
        |e| matches!(e, Ev::Originate(id, m) if id == "client-2" && value(m, "Reason") == "4"),
    );
    assert!(first.unwrap() < done.unwrap());
    // The dialplan's UserEvents and everything else in between are events.
    assert!(evs[first.unwrap() + 1..done.unwrap()].iter().all(|e| matches!(e, Ev::Event(_))));
    assert!(
        evs.iter()
            .filter(|e| matches!(e, Ev::Event(m) if value(m, "Event") == "UserEvent"))
            .count()
            >= 3
    );
    assert_eq!(evs[evs.len() - 1], Ev::Closed(CloseReason::Logoff, false));
}

#[test]
fn replay_sync_originate_ends_with_its_response() {
    let r = replay(&capture("originate-sync"));
    let Ev::Response { complete: true, .. } =
        find(&r.events, |e| matches!(e, Ev::Response { id, .. } if id == "client-2"))
    else {
        panic!("the sync Originate is complete with its response")
    };
}

#[test]
fn replay_user_event_with_copied_action_id_is_an_event() {
    let r = replay(&capture("userevent/client"));
    let evs = &r.events;
    for id in ["client-2", "client-3"] {
        let at = evs
            .iter()
            .position(|e| matches!(e, Ev::Response { id: i, complete: true, .. } if i == id));
        let ev = evs.iter().position(|e| matches!(e, Ev::Event(m) if value(m, "Event") == "UserEvent" && value(m, "ActionID") == id));
        assert!(at.unwrap() < ev.unwrap(), "{id}: response first, then the event");
    }
    let reader = replay(&capture("userevent/reader"));
    let copies = reader
        .events
        .iter()
        .filter(|e| matches!(e, Ev::Event(m) if value(m, "ActionID").starts_with("client-")));
    assert_eq!(copies.count(), 2);
}

#[test]
fn replay_wrong_password_fails_then_closes() {
    let r = replay(&capture("login-wrong-password"));
    assert_eq!(
        r.events,
        [
            Ev::Banner(b"11.0.0".to_vec()),
            Ev::LoginFailed("client-1".into(), b"Authentication failed".to_vec()),
            Ev::Closed(CloseReason::LoginFailed, false)
        ]
    );
}

#[test]
fn replay_response_without_action_id_goes_to_the_action_without_one() {
    // ping: the recorded client sent one Ping without ActionID; the session generated one, and
    // the server's answer (without ActionID) is routed to it.
    let r = replay(&capture("ping"));
    let generated: Vec<_> =
        r.accepted.iter().filter(|(_, n)| n == "Ping").map(|(i, _)| i.clone()).collect();
    assert_eq!(generated.len(), 2);
    for id in &generated {
        find(&r.events, |e| matches!(e, Ev::Response { id: i, complete: true, .. } if i == id));
    }
    // malformed-200-headers: the second Ping's ActionID was beyond line 128, so Asterisk's
    // error carries none; it still answers that Ping.
    let r = replay(&capture("malformed-200-headers"));
    let many = r.events.iter().filter(|e| matches!(e, Ev::Response { msg, .. } if value(msg, "Message").starts_with("Too many lines")));
    assert_eq!(many.count(), 2);
    assert!(!r.events.iter().any(|e| matches!(e, Ev::Unsolicited(_))));
}

#[test]
fn replay_actions_before_login_get_permission_denied() {
    let r = replay(&capture("actions-before-login"));
    let denied = r.events.iter().filter(
        |e| matches!(e, Ev::Response { msg, .. } if value(msg, "Message") == "Permission denied"),
    );
    assert_eq!(denied.count(), 5);
    assert_eq!(r.events.last(), Some(&Ev::Closed(CloseReason::Logoff, false)));
}

#[test]
fn replays_do_not_depend_on_read_boundaries() {
    for dir in connections() {
        let recorded = replay(&dir).events;
        for step in [1, 7] {
            assert_eq!(replay_in_pieces(&dir, step).events, recorded, "{}", dir.display());
        }
    }
}
