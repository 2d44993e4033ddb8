//! In-memory exchanges on a virtual clock, one test per behaviour.

use super::*;
use crate::encode::Response;

// ---- helpers shared with the replay and property tests ----

/// An owned summary of a [`ClientEvent`], for assertions.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ev {
    Banner(Vec<u8>),
    LoggedIn(String),
    LoginFailed(String, Vec<u8>),
    Response { id: String, complete: bool, msg: OwnedMessage },
    ListStart(String),
    ListItem(String, OwnedMessage),
    ListComplete(String, OwnedMessage),
    Command { id: String, success: bool, legacy: bool, lines: Vec<Vec<u8>> },
    Originate(String, OwnedMessage),
    Event(OwnedMessage),
    Unsolicited(OwnedMessage),
    TimedOut(String),
    Aborted(String, CloseReason),
    Malformed(Option<String>, MalformedError),
    Closed(CloseReason, bool),
}

impl Ev {
    pub(super) fn of(e: &ClientEvent<'_>) -> Ev {
        let s = |id: &ActionId| id.to_string();
        let o = |m: &Message<'_>| m.to_owned_message();
        match e {
            ClientEvent::Banner { line, version } => {
                assert!(line.ends_with(version));
                Ev::Banner(version.to_vec())
            }
            ClientEvent::LoggedIn { action_id, .. } => Ev::LoggedIn(s(action_id)),
            ClientEvent::LoginFailed { action_id, message } => {
                Ev::LoginFailed(s(action_id), message.get("Message").unwrap_or_default().to_vec())
            }
            ClientEvent::Response { action_id, message, complete } => {
                Ev::Response { id: s(action_id), complete: *complete, msg: o(message) }
            }
            ClientEvent::ListStart { action_id, .. } => Ev::ListStart(s(action_id)),
            ClientEvent::ListItem { action_id, message } => Ev::ListItem(s(action_id), o(message)),
            ClientEvent::ListComplete { action_id, message } => {
                Ev::ListComplete(s(action_id), o(message))
            }
            ClientEvent::CommandOutput { action_id, output } => Ev::Command {
                id: s(action_id),
                success: output.is_success(),
                legacy: output.is_legacy(),
                lines: output.lines().map(<[u8]>::to_vec).collect(),
            },
            ClientEvent::OriginateResponse { action_id, message } => {
                Ev::Originate(s(action_id), o(message))
            }
            ClientEvent::Event(m) => Ev::Event(o(m)),
            ClientEvent::Unsolicited(m) => Ev::Unsolicited(o(m)),
            ClientEvent::ActionTimedOut { action_id } => Ev::TimedOut(s(action_id)),
            ClientEvent::ActionAborted { action_id, reason } => Ev::Aborted(s(action_id), *reason),
            ClientEvent::Malformed { action_id, error, .. } => {
                Ev::Malformed(action_id.as_ref().map(s), *error)
            }
            ClientEvent::Closed { reason, truncated } => Ev::Closed(*reason, *truncated),
        }
    }

    /// The action this event ends (independent of `ClientEvent::is_final`, to check it).
    pub(super) fn final_id(&self) -> Option<&str> {
        match self {
            Ev::LoggedIn(id)
            | Ev::LoginFailed(id, _)
            | Ev::ListComplete(id, _)
            | Ev::Command { id, .. }
            | Ev::Originate(id, _)
            | Ev::TimedOut(id)
            | Ev::Aborted(id, _)
            | Ev::Response { id, complete: true, .. } => Some(id),
            Ev::Malformed(id, _) => id.as_deref(),
            _ => None,
        }
    }

    /// True for events that carry a received message (or the banner).
    pub(super) fn is_received(&self) -> bool {
        !matches!(self, Ev::TimedOut(_) | Ev::Aborted(..) | Ev::Closed(..))
    }
}

/// Drains every event, checking `is_final` and `action_id` against the summary.
pub(super) fn drain(s: &mut ClientSession) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        let ev = Ev::of(&e);
        assert_eq!(e.is_final(), ev.final_id().is_some(), "{ev:?}");
        if let Some(id) = ev.final_id() {
            assert_eq!(e.action_id().map(ToString::to_string).as_deref(), Some(id));
        }
        out.push(ev);
        assert!(out.len() < 1_000_000, "poll_event never ends");
    }
    out
}

/// Takes everything the session wants to send.
pub(super) fn flush(s: &mut ClientSession) -> Vec<u8> {
    let out = s.poll_transmit().to_vec();
    s.consume_transmit(out.len());
    assert!(s.poll_transmit().is_empty());
    out
}

/// The actions in bytes sent by a client, decoded as a server reads them.
pub(super) fn actions(bytes: &[u8]) -> Vec<OwnedMessage> {
    let limits = DecoderLimits { max_line: 1 << 20, max_headers: 1 << 16, max_message: 1 << 24 };
    let mut d = Decoder::with_limits(Role::Server, limits).unwrap();
    d.feed(bytes);
    let mut out = Vec::new();
    while let Some(Ok(Frame::Message(m))) = d.next_frame() {
        out.push(m.to_owned_message());
    }
    assert!(!d.is_mid_message(), "a partial action was transmitted");
    out
}

pub(super) fn capture(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/asterisk-22").join(path)
}

const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn config() -> ClientConfig {
    ClientConfig::default().with_action_id_prefix("c-")
}

fn reply(status: &str, id: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut r = Response::new(status);
    if !id.is_empty() {
        r.push("ActionID", id);
    }
    for (n, v) in fields {
        r.push(*n, *v);
    }
    r.to_bytes().unwrap()
}

fn event(name: &str, fields: &[(&str, &str)]) -> Vec<u8> {
    let mut e = crate::encode::Event::new(name);
    for (n, v) in fields {
        e.push(*n, *v);
    }
    e.to_bytes().unwrap()
}

/// A session past the banner and a successful plain login (ActionID `c-1`).
fn logged_in(config: ClientConfig) -> ClientSession {
    let mut s = ClientSession::new(config, t(0));
    s.handle_input(BANNER);
    s.login("admin", "s3cret", LoginMethod::Plain).unwrap();
    flush(&mut s);
    s.handle_input(&reply("Success", "c-1", &[("Message", "Authentication accepted")]));
    let evs = drain(&mut s);
    assert_eq!(evs, [Ev::Banner(b"11.0.0".to_vec()), Ev::LoggedIn("c-1".into())]);
    assert_eq!(s.state(), ClientState::Ready);
    s
}

fn get<'m>(m: &'m OwnedMessage, name: &str) -> &'m [u8] {
    m.get(name).unwrap_or_default()
}

fn response(evs: &[Ev], i: usize) -> (&str, bool, &OwnedMessage) {
    match &evs[i] {
        Ev::Response { id, complete, msg } => (id, *complete, msg),
        other => panic!("not a response: {other:?}"),
    }
}

// ---- login ----

#[test]
fn plain_login_sends_username_secret_and_events_then_is_ready() {
    let mut s = ClientSession::new(config().with_events("off"), t(0));
    assert_eq!(s.state(), ClientState::AwaitingBanner);
    s.handle_input(BANNER);
    assert_eq!(drain(&mut s), [Ev::Banner(b"11.0.0".to_vec())]);
    assert_eq!(s.state(), ClientState::Connected);
    assert_eq!(s.banner(), Some(&b"Asterisk Call Manager/11.0.0"[..]));
    let id = s.login("admin", "s3cret", LoginMethod::Plain).unwrap();
    assert_eq!(id, "c-1");
    assert_eq!(s.state(), ClientState::Authenticating);
    assert_eq!(
        flush(&mut s),
        b"Action: Login\r\nActionID: c-1\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: off\r\n\r\n"
    );
    s.handle_input(&reply("Success", "c-1", &[("Message", "Authentication accepted")]));
    s.handle_input(&event(
        "FullyBooted",
        &[("Privilege", "system,all"), ("Status", "Fully Booted")],
    ));
    let evs = drain(&mut s);
    assert_eq!(evs[0], Ev::LoggedIn("c-1".into()));
    assert!(matches!(&evs[1], Ev::Event(m) if get(m, "Event") == b"FullyBooted"));
    assert_eq!(s.state(), ClientState::Ready);
    assert_eq!(s.pending_actions(), 0);
}

#[test]
fn login_may_be_queued_before_the_banner() {
    let mut s = ClientSession::new(config(), t(0));
    s.login("admin", "s3cret", LoginMethod::Plain).unwrap();
    assert_eq!(s.state(), ClientState::Authenticating);
    assert!(!s.poll_transmit().is_empty());
    s.handle_input(BANNER);
    assert_eq!(drain(&mut s), [Ev::Banner(b"11.0.0".to_vec())]);
    assert_eq!(s.state(), ClientState::Authenticating);
}

#[test]
fn plain_login_failed_reports_the_message_then_the_close() {
    let mut s = ClientSession::new(config(), t(0));
    s.handle_input(BANNER);
    s.login("admin", "wrong", LoginMethod::Plain).unwrap();
    // An action pipelined behind the login is accepted, and aborted by the close.
    let ping = s.send_action(&Action::new("Ping"), t(1)).unwrap();
    s.handle_input(&reply("Error", "c-1", &[("Message", "Authentication failed")]));
    let evs = drain(&mut s);
    assert_eq!(
        evs,
        [
            Ev::Banner(b"11.0.0".to_vec()),
            Ev::LoginFailed("c-1".into(), b"Authentication failed".to_vec())
        ]
    );
    assert_eq!(s.state(), ClientState::Connected);
    assert_eq!(s.send_action(&Action::new("Ping"), t(2)), Err(LocalError::NotLoggedIn));
    s.handle_eof();
    assert_eq!(
        drain(&mut s),
        [
            Ev::Aborted(ping.to_string(), CloseReason::LoginFailed),
            Ev::Closed(CloseReason::LoginFailed, false)
        ]
    );
    assert_eq!(s.state(), ClientState::Closed);
}

#[test]
fn already_authenticated_on_a_second_login_is_a_success() {
    let mut s = logged_in(config());
    let id = s.login("admin", "anything", LoginMethod::Plain).unwrap();
    assert_eq!(s.state(), ClientState::Ready);
    s.handle_input(&reply(
        "Success",
        id.to_string().as_str(),
        &[("Message", "Already authenticated")],
    ));
    assert_eq!(drain(&mut s), [Ev::LoggedIn(id.to_string())]);
    assert_eq!(s.state(), ClientState::Ready);
}

#[test]
fn a_second_login_while_one_is_in_flight_is_refused() {
    let mut s = ClientSession::new(config(), t(0));
    s.login("admin", "s3cret", LoginMethod::Md5).unwrap();
    assert_eq!(s.login("admin", "s3cret", LoginMethod::Plain), Err(LocalError::LoginInProgress));
    assert_eq!(
        s.send_action(&Action::new("Login").with("Username", "x"), t(0)),
        Err(LocalError::LoginInProgress)
    );
}

#[test]
fn md5_login_sends_challenge_then_login_with_the_key() {
    let mut s = ClientSession::new(config().with_events("call"), t(0));
    s.handle_input(BANNER);
    let id = s.login("admin", "mysecret", LoginMethod::Md5).unwrap();
    assert_eq!(id, "c-2");
    assert_eq!(flush(&mut s), b"Action: Challenge\r\nActionID: c-1\r\nAuthType: MD5\r\n\r\n");
    assert_eq!(s.pending_actions(), 1);
    s.handle_input(&reply("Success", "c-1", &[("Challenge", "840486216")]));
    let evs = drain(&mut s);
    assert_eq!(evs.len(), 1, "the Challenge reply is the session's own: no event");
    assert_eq!(
        flush(&mut s),
        &b"Action: Login\r\nActionID: c-2\r\nAuthType: MD5\r\nUsername: admin\r\n\
           Key: 0629781fdbf109174e006f32af4b8747\r\nEvents: call\r\n\r\n"[..]
    );
    s.handle_input(&reply("Success", "c-2", &[("Message", "Authentication accepted")]));
    assert_eq!(drain(&mut s), [Ev::LoggedIn("c-2".into())]);
    assert_eq!(s.state(), ClientState::Ready);
}

#[test]
fn md5_login_against_the_real_capture_sends_the_same_bytes() {
    let dir = capture("login-md5-ok");
    let server = std::fs::read(dir.join("server_to_client.bin")).unwrap();
    let expected = std::fs::read(dir.join("client_to_server.bin")).unwrap();
    let mut s = ClientSession::new(ClientConfig::default().with_action_id_prefix("client-"), t(0));
    let login = s.login("admin", "admin123", LoginMethod::Md5).unwrap();
    let mut sent = flush(&mut s);
    let mut evs = Vec::new();
    for line in super::replay::timeline(&dir).iter().filter(|r| r.dir == super::replay::Dir::In) {
        s.handle_input(&server[line.offset..line.offset + line.len]);
        evs.extend(drain(&mut s));
        if s.state() == ClientState::Ready && !evs.iter().any(|e| matches!(e, Ev::Response { .. }))
        {
            s.logoff().unwrap();
        }
        sent.extend(flush(&mut s));
    }
    s.handle_eof();
    evs.extend(drain(&mut s));
    // Same ActionIDs (client-1, -2, -3), same key for the recorded challenge: the same bytes.
    assert_eq!(String::from_utf8_lossy(&sent), String::from_utf8_lossy(&expected));
    assert_eq!(evs[0], Ev::Banner(b"11.0.0".to_vec()));
    assert_eq!(evs[1], Ev::LoggedIn(login.to_string()));
    assert!(matches!(&evs[2], Ev::Event(m) if get(m, "Event") == b"FullyBooted"));
    assert!(matches!(&evs[3], Ev::Event(m) if get(m, "Event") == b"SuccessfulAuth"));
    let (id, complete, msg) = response(&evs, 4);
    assert_eq!((id, complete, get(msg, "Response")), ("client-3", true, &b"Goodbye"[..]));
    assert_eq!(evs[5], Ev::Closed(CloseReason::Logoff, false));
    assert_eq!(evs.len(), 6);
}

#[test]
fn md5_challenge_refused_is_a_login_failure() {
    let mut s = ClientSession::new(config(), t(0));
    let id = s.login("admin", "x", LoginMethod::Md5).unwrap();
    flush(&mut s);
    s.handle_input(BANNER);
    s.handle_input(&reply("Error", "c-1", &[("Message", "Must specify AuthType")]));
    let evs = drain(&mut s);
    assert_eq!(evs[1], Ev::LoginFailed(id.to_string(), b"Must specify AuthType".to_vec()));
    assert_eq!(s.state(), ClientState::Connected);
    assert_eq!(s.pending_actions(), 0);
    assert!(flush(&mut s).is_empty(), "no Login after a refused challenge");
}

#[test]
fn login_refuses_credentials_that_cannot_be_encoded() {
    let mut s = ClientSession::new(config(), t(0));
    for method in [LoginMethod::Plain, LoginMethod::Md5] {
        let err = s.login("admin\r\nAction: Command", "x", method).unwrap_err();
        assert!(matches!(err, LocalError::Encode(_)), "{err:?}");
    }
    assert!(s.poll_transmit().is_empty());
    assert_eq!(s.state(), ClientState::AwaitingBanner);
    assert_eq!(s.login("admin", "x", LoginMethod::Plain).unwrap(), "c-1", "no ID was used up");
}

// ---- sending ----

#[test]
fn actions_other_than_login_challenge_logoff_are_refused_before_login() {
    let mut s = ClientSession::new(config(), t(0));
    s.handle_input(BANNER);
    drain(&mut s);
    assert_eq!(s.send_action(&Action::new("Ping"), t(0)), Err(LocalError::NotLoggedIn));
    let challenge = Action::new("Challenge").with("AuthType", "MD5");
    assert_eq!(s.send_action(&challenge, t(0)).unwrap(), "c-1");
    // Once a login is started, actions may be pipelined behind it.
    s.login("admin", "s3cret", LoginMethod::Plain).unwrap();
    assert!(s.send_action(&Action::new("Ping"), t(0)).is_ok());
    // Without require_login everything goes.
    let mut cfg = config();
    cfg.require_login = false;
    let mut s = ClientSession::new(cfg, t(0));
    assert!(s.send_action(&Action::new("Ping"), t(0)).is_ok());
}

#[test]
fn generated_action_ids_are_unique_and_skip_pending_caller_ids() {
    let mut s = logged_in(config());
    let caller = s.send_action(&Action::new("Ping").with("ActionID", "c-3"), t(0)).unwrap();
    assert_eq!(caller, "c-3");
    let a = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let b = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    assert_eq!((a.to_string(), b.to_string()), ("c-2".into(), "c-4".into()));
    let sent = actions(&flush(&mut s));
    let ids: Vec<_> = sent.iter().map(|m| get(m, "ActionID").to_vec()).collect();
    assert_eq!(ids, [b"c-3".to_vec(), b"c-2".to_vec(), b"c-4".to_vec()]);
}

#[test]
fn caller_supplied_action_id_is_kept_duplicates_refused_and_empty_replaced() {
    let mut s = logged_in(config());
    let action = Action::new("Getvar").with("Variable", "X").with("ActionID", "mine");
    assert_eq!(s.send_action(&action, t(0)).unwrap(), "mine");
    assert_eq!(s.send_action(&action, t(0)), Err(LocalError::DuplicateActionId));
    let empty = Action::new("Getvar").with("ActionID", "").with("Variable", "Y");
    let id = s.send_action(&empty, t(0)).unwrap();
    assert_eq!(
        flush(&mut s),
        [
            &b"Action: Getvar\r\nVariable: X\r\nActionID: mine\r\n\r\n"[..],
            b"Action: Getvar\r\nActionID: c-2\r\nVariable: Y\r\n\r\n"
        ]
        .concat()
    );
    assert_eq!(id, "c-2");
}

#[test]
fn encode_errors_name_the_callers_field() {
    let mut s = logged_in(config());
    let bad = Action::new("Setvar").with("Variable", "X").with("Value", "a\r\nAction: Command");
    let Err(LocalError::Encode(e)) = s.send_action(&bad, t(0)) else { panic!("accepted") };
    assert_eq!(e.field, 2);
    assert!(s.poll_transmit().is_empty());
    assert_eq!(s.pending_actions(), 0);
    assert_eq!(s.send_action(&Action::new("Ping"), t(0)).unwrap(), "c-2");
}

#[test]
fn actions_beyond_asterisk_limits_are_refused() {
    let mut s = logged_in(config());
    let long = "x".repeat(1024 - "Value: \r\n".len());
    assert!(s.send_action(&Action::new("Setvar").with("Value", long.as_str()), t(0)).is_ok());
    let long = long + "x";
    assert_eq!(
        s.send_action(&Action::new("Setvar").with("Value", long.as_str()), t(0)),
        Err(LocalError::ExceedsServerLimits(FrameErrorKind::LineTooLong { limit: 1024 }))
    );
    let mut many = Action::new("Originate");
    for i in 0..127 {
        many.push("Variable", format!("v{i}=1"));
    }
    // Action + ActionID + 127 = 129 lines.
    assert_eq!(
        s.send_action(&many, t(0)),
        Err(LocalError::ExceedsServerLimits(FrameErrorKind::TooManyHeaders { limit: 128 }))
    );
    let mut cfg = config();
    cfg.server_limits = None;
    let mut s = logged_in(cfg);
    assert!(s.send_action(&many, t(0)).is_ok());
}

#[test]
fn too_many_pending_actions_are_refused() {
    let mut s = logged_in(config().with_max_in_flight(2));
    s.send_action(&Action::new("Ping"), t(0)).unwrap();
    s.send_action(&Action::new("Ping"), t(0)).unwrap();
    assert_eq!(
        s.send_action(&Action::new("Ping"), t(0)),
        Err(LocalError::TooManyPending { limit: 2 })
    );
    s.handle_input(&reply("Success", "c-2", &[("Ping", "Pong")]));
    drain(&mut s);
    assert!(s.send_action(&Action::new("Ping"), t(0)).is_ok());
}

#[test]
fn the_transmit_buffer_is_bounded_and_drains_in_parts() {
    let mut cfg = config();
    cfg.max_transmit = 70;
    let mut s = logged_in(cfg);
    let ping = Action::new("Ping"); // 31 bytes with its ActionID
    s.send_action(&ping, t(0)).unwrap();
    s.send_action(&ping, t(0)).unwrap();
    assert_eq!(s.send_action(&ping, t(0)), Err(LocalError::TransmitBufferFull { limit: 70 }));
    let len = s.poll_transmit().len();
    s.consume_transmit(10);
    assert_eq!(s.poll_transmit().len(), len - 10);
    s.consume_transmit(usize::MAX);
    assert!(s.poll_transmit().is_empty());
    assert!(s.send_action(&ping, t(0)).is_ok());
}

// ---- correlation ----

#[test]
fn pipelined_responses_are_matched_by_action_id() {
    let mut s = logged_in(config());
    let a = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let b = s.send_action(&Action::new("CoreStatus"), t(0)).unwrap();
    let c = s.send_action(&Action::new("Getvar").with("Variable", "X"), t(0)).unwrap();
    // Answered in order, in a single read.
    let mut wire = reply("Success", "c-2", &[("Ping", "Pong")]);
    wire.extend(reply("Success", "c-3", &[("CoreCurrentCalls", "0")]));
    wire.extend(reply("Success", "c-4", &[("Variable", "X"), ("Value", "1")]));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    let ids: Vec<_> = (0..3).map(|i| response(&evs, i).0.to_string()).collect();
    assert_eq!(ids, [a.to_string(), b.to_string(), c.to_string()]);
    assert_eq!(get(response(&evs, 2).2, "Value"), b"1");
    assert_eq!(s.pending_actions(), 0);
}

#[test]
fn events_between_an_action_and_its_response_stay_events() {
    let mut s = logged_in(config());
    let id = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let mut wire = event("Newchannel", &[("Channel", "PJSIP/1-0001")]);
    // Even one that happens to carry the pending ActionID (another client's UserEvent).
    wire.extend(event("UserEvent", &[("UserEvent", "x"), ("ActionID", "c-2")]));
    wire.extend(reply("Success", "c-2", &[("Ping", "Pong")]));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert!(matches!(&evs[0], Ev::Event(m) if get(m, "Event") == b"Newchannel"));
    assert!(matches!(&evs[1], Ev::Event(m) if get(m, "Event") == b"UserEvent"));
    assert_eq!(response(&evs, 2).0, id.to_string());
}

#[test]
fn response_without_action_id_answers_the_oldest_waiting_action() {
    let mut s = logged_in(config());
    let list = s.send_action(&Action::new("Status"), t(0)).unwrap();
    let a = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let b = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let mut wire = reply("Success", "c-2", &[("EventList", "start")]);
    wire.extend(event("StatusComplete", &[("ActionID", "c-2"), ("EventList", "Complete")]));
    s.handle_input(&wire[..wire.len() - 10]); // the list is still open
    s.handle_input(&[]);
    let evs = drain(&mut s);
    assert_eq!(evs, [Ev::ListStart(list.to_string())]);
    let mut rest = wire[wire.len() - 10..].to_vec();
    rest.extend(reply("Error", "", &[("Message", "Failed to parse message: line too long")]));
    rest.extend(reply("Success", "", &[("Ping", "Pong")]));
    rest.extend(reply("Success", "", &[("Ping", "Pong")]));
    s.handle_input(&rest);
    let evs = drain(&mut s);
    assert!(matches!(&evs[0], Ev::ListComplete(id, _) if *id == list.to_string()));
    assert_eq!(response(&evs, 1).0, a.to_string());
    assert_eq!(response(&evs, 2).0, b.to_string());
    assert!(matches!(&evs[3], Ev::Unsolicited(_)), "nothing waits any more: {:?}", evs[3]);
}

#[test]
fn responses_matching_no_action_are_unsolicited() {
    let mut s = logged_in(config());
    s.handle_input(&reply("Success", "nobody", &[("Ping", "Pong")]));
    assert!(matches!(&drain(&mut s)[..], [Ev::Unsolicited(m)] if get(m, "ActionID") == b"nobody"));
}

// ---- lists ----

#[test]
fn event_lists_stream_items_then_complete() {
    let mut s = logged_in(config());
    let id = s.send_action(&Action::new("CoreShowChannels"), t(0)).unwrap();
    s.handle_input(&reply("Success", "c-2", &[("EventList", "Start"), ("Message", "follow")]));
    assert_eq!(drain(&mut s), [Ev::ListStart(id.to_string())]);
    for i in 0..3 {
        s.handle_input(&event(
            "CoreShowChannel",
            &[("ActionID", "c-2"), ("Channel", &i.to_string())],
        ));
        let evs = drain(&mut s);
        assert!(
            matches!(&evs[..], [Ev::ListItem(x, m)] if *x == id.to_string() && get(m, "Channel") == i.to_string().as_bytes())
        );
    }
    assert!(s.is_pending(&id));
    s.handle_input(&event(
        "CoreShowChannelsComplete",
        &[("ActionID", "c-2"), ("EventList", "Complete"), ("ListItems", "3")],
    ));
    let evs = drain(&mut s);
    assert!(
        matches!(&evs[..], [Ev::ListComplete(x, m)] if *x == id.to_string() && get(m, "ListItems") == b"3")
    );
    assert!(!s.is_pending(&id));
}

#[test]
fn a_list_action_refused_ends_with_its_response() {
    let mut s = logged_in(config());
    let id = s.send_action(&Action::new("Status").with("Channel", "nosuch"), t(0)).unwrap();
    let mut list = ListCollector::new(id.clone(), 10);
    s.handle_input(&reply("Error", "c-2", &[("Message", "No such channel")]));
    while let Some(e) = s.poll_event() {
        assert!(list.handle(&e));
        assert!(e.is_final());
    }
    assert_eq!(list.outcome(), Some(ListOutcome::NotAList));
    assert_eq!(list.response().and_then(|m| m.get("Message")), Some(&b"No such channel"[..]));
    assert!(list.items().is_empty());
}

#[test]
fn list_collector_caps_items_and_reports_timeouts() {
    let mut s = logged_in(config());
    let id = s.send_action(&Action::new("Status"), t(0)).unwrap();
    let mut list = ListCollector::new(id, 2);
    let mut wire = reply("Success", "c-2", &[("EventList", "start")]);
    for _ in 0..5 {
        wire.extend(event("Status", &[("ActionID", "c-2")]));
    }
    s.handle_input(&wire);
    while let Some(e) = s.poll_event() {
        list.handle(&e);
    }
    assert_eq!((list.items().len(), list.dropped(), list.is_finished()), (2, 3, false));
    assert!(list.overflowed());
    s.handle_timeout(t(30_000));
    while let Some(e) = s.poll_event() {
        list.handle(&e);
    }
    assert_eq!(list.outcome(), Some(ListOutcome::TimedOut));
    assert_eq!(list.into_items().len(), 2);
}

// ---- command output ----

#[test]
fn command_output_current_form() {
    let mut s = logged_in(config());
    let id =
        s.send_action(&Action::new("Command").with("Command", "core show uptime"), t(0)).unwrap();
    s.handle_input(&reply(
        "Success",
        "c-2",
        &[
            ("Message", "Command output follows"),
            ("Output", "System uptime: 2 minutes"),
            ("Output", ""),
        ],
    ));
    let evs = drain(&mut s);
    assert_eq!(
        evs,
        [Ev::Command {
            id: id.to_string(),
            success: true,
            legacy: false,
            lines: vec![b"System uptime: 2 minutes".to_vec(), b"".to_vec()]
        }]
    );
}

#[test]
fn command_output_legacy_form() {
    let mut s = logged_in(config());
    let id =
        s.send_action(&Action::new("Command").with("Command", "core show uptime"), t(0)).unwrap();
    s.handle_input(
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: c-2\r\n\
          System uptime: 2 minutes\n\nLast reload: 1 minute\n--END COMMAND--\r\n\r\n",
    );
    let evs = drain(&mut s);
    assert_eq!(
        evs,
        [Ev::Command {
            id: id.to_string(),
            success: true,
            legacy: true,
            lines: vec![
                b"System uptime: 2 minutes".to_vec(),
                b"".to_vec(),
                b"Last reload: 1 minute".to_vec()
            ]
        }]
    );
}

#[test]
fn command_errors_without_output_are_plain_responses() {
    let mut s = logged_in(config());
    let id = s.send_action(&Action::new("Command"), t(0)).unwrap();
    s.handle_input(&reply("Error", "c-2", &[("Message", "No command provided")]));
    let evs = drain(&mut s);
    let (x, complete, msg) = response(&evs, 0);
    assert_eq!(
        (x, complete, get(msg, "Message")),
        (id.to_string().as_str(), true, &b"No command provided"[..])
    );
}

// ---- originate ----

#[test]
fn async_originate_waits_for_originate_response() {
    let mut s = logged_in(config());
    let action = Action::new("Originate").with("Channel", "Local/1@x").with("Async", "true");
    let id = s.send_action(&action, t(0)).unwrap();
    s.handle_input(&reply("Success", "c-2", &[("Message", "Originate successfully queued")]));
    let evs = drain(&mut s);
    assert!(!response(&evs, 0).1, "not complete yet");
    assert!(s.is_pending(&id));
    let mut wire = event("Newchannel", &[("Channel", "Local/1@x-0001;1")]);
    wire.extend(event("UserEvent", &[("ActionID", "c-2")])); // not an OriginateResponse
    wire.extend(event("OriginateResponse", &[("ActionID", "c-2"), ("Response", "Success")]));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert!(matches!(&evs[0], Ev::Event(_)));
    assert!(matches!(&evs[1], Ev::Event(_)));
    assert!(
        matches!(&evs[2], Ev::Originate(x, m) if *x == id.to_string() && get(m, "Response") == b"Success")
    );
    assert!(!s.is_pending(&id));
}

#[test]
fn sync_or_refused_originate_ends_with_its_response() {
    let mut s = logged_in(config());
    let sync = s.send_action(&Action::new("Originate").with("Channel", "Local/1@x"), t(0)).unwrap();
    let refused = Action::new("Originate").with("Async", "yes");
    let refused = s.send_action(&refused, t(0)).unwrap();
    let mut wire = reply("Success", "c-2", &[("Message", "Originate successfully queued")]);
    wire.extend(reply("Error", "c-3", &[("Message", "Channel not specified")]));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert_eq!((response(&evs, 0).0, response(&evs, 0).1), (sync.to_string().as_str(), true));
    assert_eq!((response(&evs, 1).0, response(&evs, 1).1), (refused.to_string().as_str(), true));
    assert_eq!(s.pending_actions(), 0);
}

#[test]
fn user_event_with_copied_action_id_is_an_event_after_its_response() {
    let mut s = logged_in(config());
    let id = s.send_action(&Action::new("UserEvent").with("UserEvent", "MyEvent"), t(0)).unwrap();
    let mut wire = reply("Success", "c-2", &[("Message", "Event Sent")]);
    wire.extend(event(
        "UserEvent",
        &[("Privilege", "user,all"), ("UserEvent", "MyEvent"), ("ActionID", "c-2")],
    ));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert_eq!(response(&evs, 0).0, id.to_string());
    assert!(matches!(&evs[1], Ev::Event(m) if get(m, "ActionID") == b"c-2"));
}

// ---- time ----

#[test]
fn actions_time_out_and_late_answers_are_unsolicited() {
    let mut s = logged_in(config());
    let ping = s.send_action(&Action::new("Ping"), t(1_000)).unwrap();
    let list = s.send_action(&Action::new("Status"), t(2_000)).unwrap();
    assert_eq!(s.poll_timeout(), Some(t(31_000)));
    s.handle_timeout(t(30_999));
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(t(31_000));
    assert_eq!(drain(&mut s), [Ev::TimedOut(ping.to_string())]);
    assert_eq!(s.poll_timeout(), Some(t(32_000)));
    s.handle_timeout(t(40_000));
    assert_eq!(drain(&mut s), [Ev::TimedOut(list.to_string())]);
    assert_eq!(s.poll_timeout(), None);
    let mut wire = reply("Success", "c-2", &[("Ping", "Pong")]);
    wire.extend(event("Status", &[("ActionID", "c-3")]));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert!(matches!(&evs[..], [Ev::Unsolicited(_), Ev::Event(_)]), "{evs:?}");
}

#[test]
fn a_response_already_received_wins_over_its_timeout() {
    let mut s = logged_in(config());
    let ping = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    s.handle_input(&reply("Success", "c-2", &[("Ping", "Pong")]));
    // The caller did not drain before the timer fired.
    s.handle_timeout(t(60_000));
    let evs = drain(&mut s);
    assert_eq!(evs.len(), 1);
    assert_eq!(response(&evs, 0).0, ping.to_string());
}

#[test]
fn per_action_timeouts_override_the_default() {
    let mut s = logged_in(config());
    let short = Action::new("Ping");
    let short = s.send_action_with_timeout(&short, t(0), Some(Duration::from_millis(5))).unwrap();
    let never = s.send_action_with_timeout(&Action::new("Ping"), t(0), None).unwrap();
    assert_eq!(s.poll_timeout(), Some(t(5)));
    s.handle_timeout(t(1_000_000));
    assert_eq!(drain(&mut s), [Ev::TimedOut(short.to_string())]);
    assert!(s.is_pending(&never));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn async_originate_deadline_includes_the_ring_timeout() {
    let mut s = logged_in(config());
    let a = Action::new("Originate").with("Async", "1").with("Timeout", "10000");
    s.send_action(&a, t(0)).unwrap();
    assert_eq!(s.poll_timeout(), Some(t(40_000)));
    let b = Action::new("Originate").with("Async", "on");
    s.send_action(&b, t(0)).unwrap();
    s.handle_timeout(t(40_000));
    assert_eq!(drain(&mut s), [Ev::TimedOut("c-2".into())]);
    assert_eq!(s.poll_timeout(), Some(t(60_000)));
}

#[test]
fn login_timeout_leaves_the_session_unauthenticated() {
    let mut s = ClientSession::new(config(), t(0));
    let id = s.login("admin", "x", LoginMethod::Md5).unwrap();
    s.handle_timeout(t(30_000));
    assert_eq!(drain(&mut s), [Ev::TimedOut(id.to_string())]);
    assert_eq!(s.state(), ClientState::AwaitingBanner);
    s.handle_input(BANNER);
    drain(&mut s);
    assert_eq!(s.state(), ClientState::Connected);
    // A late challenge answer is unsolicited; no Login is sent.
    flush(&mut s);
    s.handle_input(&reply("Success", "c-1", &[("Challenge", "1")]));
    assert!(matches!(&drain(&mut s)[..], [Ev::Unsolicited(_)]));
    assert!(flush(&mut s).is_empty());
}

#[test]
fn keepalive_pings_when_silent_and_its_answer_is_internal() {
    let ka = Keepalive { interval: Duration::from_secs(10), timeout: Duration::from_secs(5) };
    let mut s = logged_in(config().with_keepalive(Some(ka)));
    assert_eq!(s.poll_timeout(), Some(t(10_000)));
    s.handle_timeout(t(10_000));
    assert_eq!(flush(&mut s), b"Action: Ping\r\nActionID: c-2\r\n\r\n");
    assert_eq!(s.pending_actions(), 0, "the keepalive is not the caller's");
    assert_eq!(s.poll_timeout(), Some(t(15_000)));
    s.handle_timeout(t(12_000));
    assert!(flush(&mut s).is_empty(), "one keepalive at a time");
    s.handle_input(&reply("Success", "c-2", &[("Ping", "Pong")]));
    assert_eq!(drain(&mut s), [], "the keepalive's Pong is the session's own: no event");
    // Sending is not hearing: with an action pending, the next keepalive is still due 10 s
    // after the last byte received (12 s), before the action's own deadline (43 s).
    let id = s.send_action(&Action::new("Ping"), t(13_000)).unwrap();
    assert_eq!(s.poll_timeout(), Some(t(22_000)), "the keepalive runs while actions are pending");
    s.handle_input(&reply("Success", id.to_string().as_str(), &[]));
    drain(&mut s);
    assert_eq!(s.poll_timeout(), Some(t(23_000)), "what is received postpones it");
}

#[test]
fn a_silent_server_is_noticed_while_an_action_is_pending() {
    let ka = Keepalive { interval: Duration::from_secs(10), timeout: Duration::from_secs(5) };
    let mut s = logged_in(config().with_keepalive(Some(ka)).with_action_timeout(None));
    // An action without a time limit that is never answered: before, the keepalive never ran.
    let id = s.send_action(&Action::new("Getvar").with("Variable", "X"), t(1_000)).unwrap();
    flush(&mut s);
    s.handle_timeout(t(10_000));
    assert_eq!(flush(&mut s), b"Action: Ping\r\nActionID: c-3\r\n\r\n");
    s.handle_timeout(t(15_000));
    assert_eq!(
        drain(&mut s),
        [
            Ev::Aborted(id.to_string(), CloseReason::KeepaliveTimeout),
            Ev::Closed(CloseReason::KeepaliveTimeout, false)
        ]
    );
}

#[test]
fn the_keepalive_waits_for_a_blocking_action_ahead_of_it() {
    // Asterisk runs a synchronous Originate before reading the next action, and answers in
    // order: a Ping sent behind it cannot be answered before the Originate is.
    let ka = Keepalive { interval: Duration::from_secs(10), timeout: Duration::from_secs(5) };
    let mut s = logged_in(config().with_keepalive(Some(ka)));
    let originate = Action::new("Originate").with("Channel", "Local/delayed@amitest");
    let id = s.send_action_with_timeout(&originate, t(0), Some(Duration::from_secs(60))).unwrap();
    flush(&mut s);
    s.handle_timeout(t(10_000));
    assert_eq!(flush(&mut s), b"Action: Ping\r\nActionID: c-3\r\n\r\n");
    // No Timeout header: Asterisk waits up to 30 s for the answer; the Ping then has its 5 s.
    assert_eq!(s.poll_timeout(), Some(t(35_000)), "the Ping waits for the Originate");
    s.handle_timeout(t(34_000));
    assert_eq!(drain(&mut s), [], "not dead while the Originate may still run");
    s.handle_input(&reply(
        "Success",
        id.to_string().as_str(),
        &[("Message", "Originate successfully queued")],
    ));
    s.handle_input(&reply("Success", "c-3", &[("Ping", "Pong")]));
    let evs = drain(&mut s);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(s.state(), ClientState::Ready);
}

#[test]
fn consecutive_timeouts_declare_the_server_dead() {
    let config = config()
        .with_action_timeout(Some(Duration::from_secs(1)))
        .with_max_consecutive_timeouts(Some(3));
    let mut s = logged_in(config);
    // Two time out, then one is answered: the count starts again.
    let a = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let b = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    s.handle_timeout(t(1_000));
    assert_eq!(drain(&mut s), [Ev::TimedOut(a.to_string()), Ev::TimedOut(b.to_string())]);
    let c = s.send_action(&Action::new("Ping"), t(1_000)).unwrap();
    s.handle_input(&reply("Success", c.to_string().as_str(), &[]));
    drain(&mut s);
    let ids: Vec<_> =
        (0..3).map(|_| s.send_action(&Action::new("Ping"), t(2_000)).unwrap()).collect();
    let late = s.send_action(&Action::new("Ping"), t(2_500)).unwrap();
    s.handle_timeout(t(3_000));
    let mut want: Vec<Ev> = ids.iter().map(|id| Ev::TimedOut(id.to_string())).collect();
    want.push(Ev::Aborted(late.to_string(), CloseReason::Unresponsive));
    want.push(Ev::Closed(CloseReason::Unresponsive, false));
    assert_eq!(drain(&mut s), want);
    assert_eq!(s.state(), ClientState::Closed);
}

#[test]
fn keepalive_timeout_aborts_everything_and_closes() {
    let ka = Keepalive { interval: Duration::from_secs(10), timeout: Duration::from_secs(5) };
    let mut s = logged_in(config().with_keepalive(Some(ka)));
    s.handle_timeout(t(10_000));
    flush(&mut s);
    let id = s.send_action(&Action::new("Ping"), t(11_000)).unwrap();
    s.handle_timeout(t(15_000));
    assert_eq!(
        drain(&mut s),
        [
            Ev::Aborted(id.to_string(), CloseReason::KeepaliveTimeout),
            Ev::Closed(CloseReason::KeepaliveTimeout, false)
        ]
    );
    assert_eq!(s.state(), ClientState::Closed);
    assert!(s.poll_transmit().is_empty());
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.send_action(&Action::new("Ping"), t(16_000)), Err(LocalError::Closed));
}

// ---- the end of a connection ----

#[test]
fn logoff_gets_goodbye_then_close() {
    let mut s = logged_in(config());
    let id = s.logoff().unwrap();
    assert_eq!(s.state(), ClientState::LoggingOff);
    assert_eq!(flush(&mut s), b"Action: Logoff\r\nActionID: c-2\r\n\r\n");
    assert_eq!(s.send_action(&Action::new("Ping"), t(0)), Err(LocalError::Closed));
    assert_eq!(s.logoff(), Err(LocalError::Closed));
    s.handle_input(&reply("Goodbye", "c-2", &[("Message", "Thanks for all the fish.")]));
    s.handle_eof();
    let evs = drain(&mut s);
    let (x, complete, msg) = response(&evs, 0);
    assert_eq!(
        (x, complete, get(msg, "Response")),
        (id.to_string().as_str(), true, &b"Goodbye"[..])
    );
    assert_eq!(evs[1], Ev::Closed(CloseReason::Logoff, false));
    assert_eq!(s.state(), ClientState::Closed);
    assert!(drain(&mut s).is_empty());
}

#[test]
fn logoff_before_login_is_allowed() {
    let mut s = ClientSession::new(config(), t(0));
    s.handle_input(BANNER);
    assert!(s.logoff().is_ok());
}

#[test]
fn eof_mid_message_drops_it_and_aborts_pending_actions() {
    let mut s = logged_in(config());
    let a = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let b = s.send_action(&Action::new("Status"), t(0)).unwrap();
    s.handle_input(b"Response: Success\r\nActionID: c-2\r\nPing: Po");
    assert!(drain(&mut s).is_empty());
    s.handle_eof();
    assert_eq!(
        drain(&mut s),
        [
            Ev::Aborted(a.to_string(), CloseReason::PeerClosed),
            Ev::Aborted(b.to_string(), CloseReason::PeerClosed),
            Ev::Closed(CloseReason::PeerClosed, true)
        ]
    );
    // Nothing after the close.
    s.handle_input(&reply("Success", "c-2", &[]));
    s.handle_eof();
    s.handle_timeout(t(100_000));
    assert!(drain(&mut s).is_empty());
}

#[test]
fn messages_received_before_eof_are_reported_before_the_close() {
    let mut s = logged_in(config());
    let a = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    s.handle_input(&reply("Success", "c-2", &[("Ping", "Pong")]));
    s.handle_input(&event("Shutdown", &[]));
    s.handle_eof(); // without draining first
    let evs = drain(&mut s);
    assert_eq!(response(&evs, 0).0, a.to_string());
    assert!(matches!(&evs[1], Ev::Event(_)));
    assert_eq!(evs[2], Ev::Closed(CloseReason::PeerClosed, false));
}

#[test]
fn garbage_from_the_server_is_malformed_and_the_stream_goes_on() {
    let mut cfg = config();
    cfg.decoder_limits = DecoderLimits { max_line: 64, max_headers: 8, max_message: 4096 };
    let mut s = logged_in(cfg);
    let id = s.send_action(&Action::new("Ping"), t(0)).unwrap();
    let mut wire = b"\x00\xff garbage without colon\r\nmore\r\n\r\n".to_vec();
    wire.extend(b"Action: Ping\r\n\r\n");
    wire.extend(b"Event: Big\r\nX: ");
    wire.extend([b'y'; 200]);
    wire.extend(b"\r\n\r\n\r\n\r\n");
    wire.extend(reply("Success", "c-2", &[("Ping", "Pong")]));
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert_eq!(
        evs[..3],
        [
            Ev::Malformed(None, MalformedError::NotResponseOrEvent),
            Ev::Malformed(None, MalformedError::NotResponseOrEvent),
            Ev::Malformed(None, MalformedError::Limit(FrameErrorKind::LineTooLong { limit: 64 }))
        ]
    );
    assert_eq!(response(&evs, 3).0, id.to_string());
    assert_eq!(evs.len(), 4);
    assert_eq!(s.state(), ClientState::Ready);
}

#[test]
fn an_oversized_response_still_ends_its_action() {
    let mut cfg = config();
    cfg.decoder_limits = DecoderLimits { max_line: 1024, max_headers: 4, max_message: 4096 };
    let mut s = logged_in(cfg);
    let id = s.send_action(&Action::new("Command"), t(0)).unwrap();
    let mut wire = b"Response: Success\r\nActionID: c-2\r\n".to_vec();
    for _ in 0..10 {
        wire.extend(b"Output: line\r\n");
    }
    wire.extend(b"\r\n");
    s.handle_input(&wire);
    let evs = drain(&mut s);
    assert_eq!(
        evs,
        [Ev::Malformed(
            Some(id.to_string()),
            MalformedError::Limit(FrameErrorKind::TooManyHeaders { limit: 4 })
        )]
    );
    assert_eq!(s.pending_actions(), 0);
}

#[test]
fn a_server_without_banner_is_still_usable() {
    let mut s = ClientSession::new(config(), t(0));
    s.login("admin", "s3cret", LoginMethod::Plain).unwrap();
    s.handle_input(&reply("Success", "c-1", &[("Message", "Authentication accepted")]));
    assert_eq!(drain(&mut s), [Ev::LoggedIn("c-1".into())]);
    assert_eq!(s.banner(), None);
}

#[test]
fn events_are_final_exactly_when_the_summary_says() {
    // `drain` asserts is_final/action_id against Ev::final_id on every event of every test;
    // this covers the variants no other test reaches.
    let owned = OwnedMessage::from(Message::new(b"", &[], Role::Client, None));
    let e = ClientEvent::Malformed {
        action_id: None,
        error: MalformedError::NotResponseOrEvent,
        message: owned.as_message(),
    };
    assert!(!e.is_final());
    assert!(e.message().is_some());
    let closed = ClientEvent::Closed { reason: CloseReason::PeerClosed, truncated: false };
    assert!(!closed.is_final() && closed.action_id().is_none() && closed.message().is_none());
}

#[test]
fn action_id_compares_with_text_and_bytes() {
    let id = ActionId::from("abc");
    assert_eq!(id, "abc");
    assert_eq!(id, b"abc"[..]);
    assert_eq!(id, ActionId::from(b"abc".to_vec()));
    assert_eq!(format!("{id} {id:?}"), "abc ActionId(\"abc\")");
    let text = LocalError::TooManyPending { limit: 3 }.to_string();
    assert_eq!(text, "too many pending actions (limit 3)");
}
