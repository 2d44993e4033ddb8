//! In-memory tests of the server on a virtual clock: one test per rule and per spec §9 case.

use super::*;
use crate::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use proptest::prelude::*;

const CONF: &str = "\
[general]
enabled = yes
bindaddr = 127.0.0.1
[admin]
secret = s3cret
read = all
write = all
[reader]
secret = r
read = call,user
write =
[report]
secret = x
read = system,call
write = reporting
[caller]
secret = x
read = call
write = call
[orig]
secret = x
read = call
write = originate
[nopw]
secret =
read = all
write = all
[nosecret]
read = all
[single]
secret = x
read = all
write = all
allowmultiplelogin = no
[observer]
secret = o
read = security
[vm]
secret = x
read = user
[vm2]
secret = x
read = system,user
[acl]
secret = x
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.255
[mysecret]
secret = mysecret
read = all
write = all
";

/// 2026-11-22T20:40:00.000Z in Unix milliseconds.
const UNIX_OFFSET: i64 = 1_795_380_000_000;

struct H {
    server: Server,
    now: u64,
    events: Vec<(SessionId, ServerEvent)>,
}

fn config(extra_general: &str) -> ManagerConfig {
    let text = CONF.replacen("enabled = yes\n", &format!("enabled = yes\n{extra_general}"), 1);
    parse_manager_conf(&text, &mut NoIncludes, &ConfigOptions::default()).unwrap()
}

fn options() -> ServerOptions {
    ServerOptions {
        unix_offset_ms: UNIX_OFFSET,
        started_at: Some(Instant::from_millis(0)),
        last_reload_at: Some(Instant::from_millis(0)),
        ..ServerOptions::asterisk_22_capture()
    }
}

impl H {
    fn new() -> H {
        H::with("", options())
    }

    fn with(extra_general: &str, options: ServerOptions) -> H {
        let server = Server::new(config(extra_general), options, Box::new(|| 840_486_216u32));
        H { server, now: 10_000, events: Vec::new() }
    }

    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn pump(&mut self) {
        while let Some(e) = self.server.poll_event() {
            self.events.push(e);
        }
    }

    fn connect(&mut self) -> SessionId {
        self.connect_from("127.0.0.1:40000")
    }

    fn connect_from(&mut self, peer: &str) -> SessionId {
        let id = self.server.accept(peer.parse().unwrap(), self.at()).unwrap();
        assert_eq!(self.take(id), "Asterisk Call Manager/11.0.0\r\n");
        id
    }

    fn send(&mut self, id: SessionId, bytes: &str) {
        self.send_bytes(id, bytes.as_bytes());
    }

    fn send_bytes(&mut self, id: SessionId, bytes: &[u8]) {
        self.server.handle_input(id, bytes, self.at());
        self.pump();
    }

    fn take_bytes(&mut self, id: SessionId) -> Vec<u8> {
        let out = self.server.poll_transmit(id).to_vec();
        self.server.consume_transmit(id, out.len());
        self.pump();
        out
    }

    fn take(&mut self, id: SessionId) -> String {
        String::from_utf8(self.take_bytes(id)).unwrap()
    }

    fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.server.handle_timeout(self.at());
        self.pump();
    }

    /// Logs in with `Events: off` (so that nothing but the response comes back).
    fn login_quiet(&mut self, id: SessionId, user: &str, secret: &str) {
        self.send(
            id,
            &format!(
                "Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: off\r\n\r\n"
            ),
        );
        assert_eq!(self.take(id), "Response: Success\r\nMessage: Authentication accepted\r\n\r\n");
    }

    fn logged_in(&mut self, user: &str, secret: &str) -> SessionId {
        let id = self.connect();
        self.login_quiet(id, user, secret);
        id
    }

    /// Logs in with the user's read classes as event mask; returns everything written.
    fn login_full(&mut self, id: SessionId, user: &str, secret: &str) -> String {
        self.send(id, &format!("Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n"));
        self.take(id)
    }

    fn drain_events(&mut self) -> Vec<(SessionId, ServerEvent)> {
        core::mem::take(&mut self.events)
    }

    fn actions(&mut self) -> Vec<ActionRef> {
        self.drain_events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                ServerEvent::ActionReceived { action } => Some(action),
                _ => None,
            })
            .collect()
    }

    fn security_kinds(&mut self) -> Vec<SecurityEventKind> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                ServerEvent::Security(s) => Some(s.kind),
                _ => None,
            })
            .collect()
    }

    fn disconnects(&self) -> Vec<(SessionId, DisconnectReason)> {
        self.events
            .iter()
            .filter_map(|(id, e)| match e {
                ServerEvent::Disconnect { reason } => Some((*id, *reason)),
                _ => None,
            })
            .collect()
    }
}

/// Splits written bytes into messages (each ending with its blank line).
fn messages(out: &str) -> Vec<String> {
    out.split_inclusive("\r\n\r\n").map(str::to_owned).collect()
}

// ---- §9 tricky cases -------------------------------------------------------------------------

#[test]
fn case_01_banner_is_one_line_and_nothing_else() {
    let mut h = H::new();
    let id = h.server.accept("127.0.0.1:1".parse().unwrap(), h.at()).unwrap();
    assert_eq!(h.server.poll_transmit(id), b"Asterisk Call Manager/11.0.0\r\n");
    h.pump();
    assert!(h.events.is_empty());
    let mut h2 = H::with("", ServerOptions { ami_version: "13.0.0".into(), ..options() });
    let id = h2.server.accept("127.0.0.1:1".parse().unwrap(), h2.at()).unwrap();
    assert_eq!(h2.server.poll_transmit(id), b"Asterisk Call Manager/13.0.0\r\n");
}

#[test]
fn case_02_bare_lf_input_is_accepted_and_output_uses_crlf() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Login\nUsername: admin\nSecret: s3cret\nEvents: off\n\n");
    assert_eq!(h.take(id), "Response: Success\r\nMessage: Authentication accepted\r\n\r\n");
}

#[test]
fn case_03_stray_blank_line_is_missing_action_even_before_login() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Missing action in request\r\n\r\n");
    assert_eq!(h.security_kinds(), [SecurityEventKind::RequestBadFormat]);
    assert!(h.disconnects().is_empty());
}

#[test]
fn case_04_actionid_on_an_empty_message_is_echoed() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "ActionID: 5\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nActionID: 5\r\nMessage: Missing action in request\r\n\r\n"
    );
}

#[test]
fn case_05_space_before_colon_is_not_an_action() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action : Ping\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Missing action in request\r\n\r\n");
}

#[test]
fn case_06_action_names_and_headers_are_case_insensitive() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.now = 32_745;
    h.send(id, "action: pInG\r\nactionid: x\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Success\r\nActionID: x\r\nPing: Pong\r\nTimestamp: 1795380032.745000\r\n\r\n"
    );
}

#[test]
fn case_07_trailing_space_in_action_name() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Login \r\nUsername: admin\r\nSecret: s3cret\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Permission denied\r\n\r\n");
    assert!(h.disconnects().is_empty());
    h.login_quiet(id, "admin", "s3cret");
    h.send(id, "Action: Ping \r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Invalid/unknown command: Ping . Use Action: ListCommands to show available commands.\r\n\r\n"
    );
}

#[test]
fn case_08_lone_cr_is_data_and_reflected_raw() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Ping\rActionID: lf-3\r\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Invalid/unknown command: Ping\rActionID: lf-3\r. Use Action: ListCommands to show available commands.\r\n\r\n"
    );
}

#[test]
fn case_09_pre_login_action_is_denied_with_request_not_allowed() {
    let mut h = H::new();
    let obs = h.connect();
    h.login_full(obs, "observer", "o");
    h.take(obs);
    let id = h.connect_from("127.0.0.1:47350");
    h.send(id, "Action: Ping\r\nActionID: 1\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nActionID: 1\r\nMessage: Permission denied\r\n\r\n");
    assert!(h.disconnects().is_empty());
    let seen = h.take(obs);
    assert!(seen.starts_with("Event: RequestNotAllowed\r\nPrivilege: security,all\r\n"), "{seen}");
    assert!(seen.contains("\r\nAccountID: \r\n"));
    assert!(seen.contains("\r\nRemoteAddress: IPV4/TCP/127.0.0.1/47350\r\nRequestType: Action: Ping\r\nSessionTV: 1970-01-01T00:00:00.000+0000\r\n\r\n"));
}

#[test]
fn case_10_unknown_action_before_login_is_permission_denied() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Foo\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Permission denied\r\n\r\n");
    assert_eq!(h.security_kinds(), [SecurityEventKind::RequestNotAllowed]);
}

#[test]
fn case_11_first_non_empty_action_wins() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action:\r\nAction: Ping\r\nAction: Logoff\r\n\r\n");
    assert!(h.take(id).starts_with("Response: Success\r\nPing: Pong\r\n"));
    assert!(h.disconnects().is_empty());
}

#[test]
fn case_12_first_actionid_wins_even_if_empty() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Ping\r\nActionID:\r\nActionID: 9\r\n\r\n");
    assert!(h.take(id).starts_with("Response: Success\r\nPing: Pong\r\n"));
}

#[test]
fn case_13_failed_logins_answer_after_the_delay_then_close() {
    let attempts = [
        "Username: admin\r\nSecret: wrong\r\n",
        "Username: nosuchuser\r\nSecret: s3cret\r\n",
        "Username: acl\r\nSecret: x\r\n",
        "Username: admin\r\nSecret: s3cret \r\n",
        "Secret: s3cret\r\n",
        "Username: nosecret\r\nSecret: \r\n",
    ];
    let expected_event = [
        Some(SecurityEventKind::InvalidPassword),
        Some(SecurityEventKind::InvalidAccountID),
        Some(SecurityEventKind::FailedACL),
        Some(SecurityEventKind::InvalidPassword),
        None,
        None,
    ];
    for (attempt, event) in attempts.iter().zip(expected_event) {
        let mut h = H::new();
        // the ACL user only admits 127.0.0.1: come from elsewhere
        let id = h.connect_from("10.0.0.1:4000");
        h.send(id, &format!("Action: Login\r\nActionID: a\r\n{attempt}\r\n"));
        assert_eq!(h.take(id), "", "{attempt}: nothing before the delay");
        assert_eq!(h.server.poll_timeout(), Some(Instant::from_millis(11_000)));
        assert_eq!(h.security_kinds(), event.into_iter().collect::<Vec<_>>(), "{attempt}");
        assert!(h.events.iter().any(|(_, e)| matches!(e, ServerEvent::LoginFailed { .. })));
        // input during the delay is not processed
        h.send(id, "Action: Ping\r\n\r\n");
        h.advance(999);
        assert_eq!(h.take(id), "");
        h.advance(1);
        assert_eq!(
            h.take(id),
            "Response: Error\r\nActionID: a\r\nMessage: Authentication failed\r\n\r\n",
            "{attempt}"
        );
        assert_eq!(h.disconnects(), [(id, DisconnectReason::LoginFailed)]);
        assert_eq!(h.server.unauthenticated_count(), 0);
        assert!(h.server.remove(id));
    }
}

#[test]
fn case_14_username_case_insensitive_secret_case_sensitive() {
    let mut h = H::new();
    let id = h.connect();
    h.login_quiet(id, "ADMIN", "s3cret");
    assert_eq!(h.server.session_info(id).unwrap().username, b"ADMIN");
    let id = h.connect();
    h.send(id, "Action: Login\r\nUsername: admin\r\nSecret: S3CRET\r\n\r\n");
    h.advance(1000);
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Authentication failed\r\n\r\n");
}

#[test]
fn case_15_successful_login_writes_fully_booted_then_events() {
    let mut h = H::new();
    h.now = 137_000;
    let id = h.connect();
    let out = h.login_full(id, "admin", "s3cret");
    let msgs = messages(&out);
    assert_eq!(msgs[0], "Response: Success\r\nMessage: Authentication accepted\r\n\r\n");
    assert_eq!(
        msgs[1],
        "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 137\r\nLastReload: 137\r\nStatus: Fully Booted\r\n\r\n"
    );
    assert!(msgs[2].starts_with("Event: SuccessfulAuth\r\n"));
    assert_eq!(msgs.len(), 3);
    assert!(
        h.events
            .iter()
            .any(|(_, e)| matches!(e, ServerEvent::LoggedIn { username } if username == b"admin"))
    );
    // no FullyBooted with Events: off, Events: call, or without system in read
    for (user, secret, events) in
        [("admin", "s3cret", "off"), ("admin", "s3cret", "call"), ("reader", "r", "")]
    {
        let id = h.connect();
        let hdr = if events.is_empty() { String::new() } else { format!("Events: {events}\r\n") };
        h.send(id, &format!("Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n{hdr}\r\n"));
        assert_eq!(h.take(id), "Response: Success\r\nMessage: Authentication accepted\r\n\r\n");
    }
}

#[test]
fn fully_booted_passes_filters_and_has_no_timestamp() {
    let conf = "[general]\ntimestampevents = yes\n[f]\nsecret = x\nread = all\nwrite = all\neventfilter = Event: Newchannel\n";
    let config = parse_manager_conf(conf, &mut NoIncludes, &ConfigOptions::default()).unwrap();
    let mut server = Server::new(config, options(), Box::new(|| 1u32));
    let id = server.accept("127.0.0.1:1".parse().unwrap(), Instant::from_millis(5000)).unwrap();
    server.handle_input(
        id,
        b"Action: Login\r\nUsername: f\r\nSecret: x\r\n\r\n",
        Instant::from_millis(5000),
    );
    let out = String::from_utf8(server.poll_transmit(id).to_vec()).unwrap();
    assert!(out.contains("Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 5\r\n"));
    assert!(!out.contains("SuccessfulAuth"), "filtered out: {out}");
}

#[test]
fn case_16_second_login_is_already_authenticated() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Login\r\nActionID: 2\r\nUsername: admin\r\nSecret: wrong\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Success\r\nActionID: 2\r\nMessage: Already authenticated\r\n\r\n"
    );
    assert!(h.disconnects().is_empty());
}

#[test]
fn case_17_md5_challenge_flow() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Challenge\r\nAuthType: md5\r\n\r\n");
    assert_eq!(h.take(id), "Response: Success\r\nChallenge: 840486216\r\n\r\n");
    h.send(id, "Action: Challenge\r\nActionID: 2\r\nAuthType: MD5\r\n\r\n");
    assert_eq!(h.take(id), "Response: Success\r\nActionID: 2\r\nChallenge: 840486216\r\n\r\n");
    h.send(
        id,
        "Action: Login\r\nAuthType: MD5\r\nUsername: mysecret\r\nKey: 0629781fdbf109174e006f32af4b8747\r\nEvents: off\r\n\r\n",
    );
    assert_eq!(h.take(id), "Response: Success\r\nMessage: Authentication accepted\r\n\r\n");

    // upper-case key: ChallengeResponseFailed with the expected key, AccountID empty
    let obs = h.connect();
    h.login_full(obs, "observer", "o");
    h.take(obs);
    let id = h.connect();
    h.send(id, "Action: Challenge\r\nAuthType: MD5\r\n\r\n");
    h.take(id);
    h.send(
        id,
        "Action: Login\r\nAuthType: MD5\r\nUsername: mysecret\r\nKey: 0629781FDBF109174E006F32AF4B8747\r\n\r\n",
    );
    let seen = h.take(obs);
    assert!(seen.starts_with("Event: ChallengeResponseFailed\r\n"), "{seen}");
    assert!(seen.contains("\r\nAccountID: \r\n"));
    assert!(seen.contains("\r\nChallenge: 840486216\r\nResponse: 0629781FDBF109174E006F32AF4B8747\r\nExpectedResponse: 0629781fdbf109174e006f32af4b8747\r\nSessionTV: 1970-01-01T00:00:00.000+0000\r\n\r\n"));
    h.advance(1000);
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Authentication failed\r\n\r\n");

    // MD5 without a prior challenge: fails without a security event
    let id = h.connect();
    h.drain_events();
    h.send(
        id,
        "Action: Login\r\nAuthType: MD5\r\nUsername: mysecret\r\nKey: 0629781fdbf109174e006f32af4b8747\r\n\r\n",
    );
    assert!(h.security_kinds().is_empty());
    h.advance(1000);
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Authentication failed\r\n\r\n");
}

#[test]
fn case_18_challenge_without_md5_authtype() {
    let mut h = H::new();
    let id = h.connect();
    for req in ["Action: Challenge\r\n\r\n", "Action: Challenge\r\nAuthType: SHA256\r\n\r\n"] {
        h.send(id, req);
        assert_eq!(h.take(id), "Response: Error\r\nMessage: Must specify AuthType\r\n\r\n");
    }
}

#[test]
fn case_19_logoff_before_login_says_goodbye_and_closes() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Logoff\r\n\r\nAction: Ping\r\n\r\n");
    assert_eq!(h.take(id), "Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n");
    assert_eq!(h.disconnects(), [(id, DisconnectReason::Logoff)]);
    assert_eq!(h.server.unauthenticated_count(), 0);
    h.send(id, "Action: Ping\r\n\r\n");
    assert_eq!(h.take(id), "");
}

#[test]
fn case_20_overlong_line_answers_line_too_long() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    let long = "a".repeat(1020);
    h.send(id, &format!("Action: Ping\r\nX: {long}\r\nActionID: 7\r\n\r\n"));
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Failed to parse message: line too long\r\n\r\nResponse: Error\r\nActionID: 7\r\nMessage: Missing action in request\r\n\r\n"
    );
}

#[test]
fn case_21_more_than_128_lines() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    let filler = "X: y\r\n".repeat(127);
    h.send(id, &format!("Action: Ping\r\nActionID: z\r\n{filler}\r\n"));
    assert_eq!(
        h.take(id),
        "Response: Error\r\nActionID: z\r\nMessage: Too many lines in message or allocation failure\r\n\r\n"
    );
    let filler = "X: y\r\n".repeat(126);
    h.send(id, &format!("Action: Ping\r\nActionID: z\r\n{filler}\r\n"));
    assert!(h.take(id).starts_with("Response: Success\r\nActionID: z\r\nPing: Pong\r\n"));
}

#[test]
fn case_22_nul_led_line_ends_the_message() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send_bytes(id, b"Action: Ping\r\n\0junk\r\n");
    assert!(h.take(id).starts_with("Response: Success\r\nPing: Pong\r\n"));
}

#[test]
fn case_24_events_action_masks() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    let cases = [
        ("on", "Response: Success\r\nActionID: x\r\nEvents: On\r\n\r\n"),
        ("off", "Response: Success\r\nActionID: x\r\nEvents: Off\r\n\r\n"),
        ("foo", "Response: Success\r\nActionID: x\r\nEvents: Off\r\n\r\n"),
        ("Call", "Response: Success\r\nActionID: x\r\nEvents: Off\r\n\r\n"),
        ("1", "Response: Success\r\nActionID: x\r\nEvents: On\r\n\r\n"),
        ("4294967295", "Response: Error\r\nActionID: x\r\nMessage: Invalid event mask\r\n\r\n"),
    ];
    for (mask, expected) in cases {
        h.send(id, &format!("Action: Events\r\nActionID: x\r\nEventMask: {mask}\r\n\r\n"));
        assert_eq!(h.take(id), expected, "{mask}");
    }
    // `1` left system only (4294967295 did not change it)
    assert_eq!(h.server.session_info(id).unwrap().send_events, Privilege::SYSTEM);
    h.send(id, "Action: Events\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Invalid event mask\r\n\r\n");
    // "On" reflects the request, not the effective mask
    let r = h.logged_in("reader", "r");
    h.send(r, "Action: Events\r\nEventMask: system\r\n\r\n");
    assert_eq!(h.take(r), "Response: Success\r\nEvents: On\r\n\r\n");
    assert_eq!(h.server.session_info(r).unwrap().send_events, Privilege::NONE);
}

#[test]
fn brokeneventsaction_suppresses_invalid_and_all_answers() {
    let mut h = H::with("brokeneventsaction = yes\n", options());
    let id = h.logged_in("admin", "s3cret");
    for mask in ["on", "all", "4294967295", ""] {
        h.send(id, &format!("Action: Events\r\nEventMask: {mask}\r\n\r\n"));
        assert_eq!(h.take(id), "", "{mask}");
    }
    h.send(id, "Action: Events\r\nEventMask: call\r\n\r\n");
    assert_eq!(h.take(id), "Response: Success\r\nEvents: On\r\n\r\n");
    h.send(id, "Action: Events\r\nEventMask: off\r\n\r\n");
    assert_eq!(h.take(id), "Response: Success\r\nEvents: Off\r\n\r\n");
}

#[test]
fn case_25_write_permission_is_any_bit() {
    let mut h = H::new();
    let id = h.logged_in("report", "x");
    for action in ["Status", "CoreShowChannels"] {
        h.send(id, &format!("Action: {action}\r\n\r\n"));
        let got = h.actions();
        assert_eq!(got.len(), 1, "{action}");
        h.server.ack(id, &got[0], "ok").unwrap();
        h.take(id);
    }
    h.send(id, "Action: Hangup\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Permission denied\r\n\r\n");
    assert!(h.security_kinds().contains(&SecurityEventKind::RequestNotAllowed));
    let r = h.logged_in("reader", "r");
    h.send(
        r,
        "Action: Ping\r\n\r\nAction: Events\r\nEventMask: off\r\n\r\nAction: ListCommands\r\n\r\n",
    );
    let out = h.take(r);
    assert_eq!(messages(&out).len(), 3);
    assert!(!out.contains("Permission denied"));
    for action in ["WaitEvent\r\nTimeout: 0", "QueueStatus", "BridgeList"] {
        h.send(r, &format!("Action: {action}\r\n\r\n"));
        let out = h.take(r);
        assert!(!out.contains("Permission denied"), "{action}: {out}");
        for a in h.actions() {
            h.server.ack(r, &a, "ok").unwrap();
        }
        h.take(r);
    }
}

#[test]
fn case_26_read_permission_needs_all_category_bits() {
    let mut h = H::new();
    let vm = h.logged_in("vm", "x");
    let vm2 = h.logged_in("vm2", "x");
    for id in [vm, vm2] {
        h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
        h.take(id);
    }
    let mut e = PublishedEvent::new("VoicemailPasswordChange", Privilege::SYSTEM | Privilege::USER)
        .unwrap();
    e.header("Context", "default").unwrap();
    assert_eq!(h.server.publish(&e), 1);
    assert_eq!(h.take(vm), "");
    assert_eq!(
        h.take(vm2),
        "Event: VoicemailPasswordChange\r\nPrivilege: system,user,all\r\nContext: default\r\n\r\n"
    );
}

#[test]
fn case_27_userevent_response_then_event_to_user_readers() {
    let mut h = H::new();
    let sender = h.logged_in("admin", "s3cret");
    h.send(sender, "Action: Events\r\nEventMask: user\r\n\r\n");
    h.take(sender);
    let reader = h.logged_in("reader", "r");
    h.send(reader, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(reader);
    let report = h.logged_in("report", "x"); // reads system,call: no user events
    h.send(report, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(report);

    h.send(sender, "Action: UserEvent\r\nUserEvent: Foo\r\nActionID: 3\r\nBar:baz\r\n\r\n");
    let action = h.actions().pop().unwrap();
    assert_eq!(action.name(), "UserEvent");
    // the application's UserEvent: ack, then the event with every other line verbatim
    let mut e = PublishedEvent::new("UserEvent", Privilege::USER).unwrap();
    e.header("UserEvent", action.get("UserEvent").unwrap()).unwrap();
    for line in action.message().iter() {
        if !line.is(b"UserEvent") && !line.is(b"Action") {
            e.raw_line(line.line()).unwrap();
        }
    }
    h.server.ack(sender, &action, "Event Sent").unwrap();
    assert_eq!(h.server.publish(&e), 2);
    let event = "Event: UserEvent\r\nPrivilege: user,all\r\nUserEvent: Foo\r\nActionID: 3\r\nBar:baz\r\n\r\n";
    assert_eq!(
        h.take(sender),
        format!("Response: Success\r\nActionID: 3\r\nMessage: Event Sent\r\n\r\n{event}")
    );
    assert_eq!(h.take(reader), event);
    assert_eq!(h.take(report), "");
}

#[test]
fn case_28_command_output_and_blacklist() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Command\r\nActionID: c\r\nCommand: core show version\r\n\r\n");
    let a = h.actions().pop().unwrap();
    h.server.command_output(id, &a, true, b"Asterisk 22.10.1 built\n\n  indented: x\r\n").unwrap();
    assert_eq!(
        h.take(id),
        "Response: Success\r\nActionID: c\r\nMessage: Command output follows\r\nOutput: Asterisk 22.10.1 built\r\nOutput: \r\nOutput:   indented: x\r\r\n\r\n"
    );
    h.send(id, "Action: Command\r\nCommand: foo\r\n\r\n");
    let a = h.actions().pop().unwrap();
    h.server
        .command_output(
            id,
            &a,
            false,
            b"No such command 'foo' (type 'core show help foo' for other possible commands)\n",
        )
        .unwrap();
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Command output follows\r\nOutput: No such command 'foo' (type 'core show help foo' for other possible commands)\r\n\r\n"
    );
    for cmd in ["module  load x", " module unload chan_sip.so", "RESTART gracefully"] {
        h.send(id, &format!("Action: Command\r\nCommand: {cmd}\r\n\r\n"));
        assert_eq!(h.take(id), "Response: Error\r\nMessage: Command blacklisted\r\n\r\n", "{cmd}");
        assert!(h.actions().is_empty());
    }
    // empty command: the application answers it (No command provided)
    h.send(id, "Action: Command\r\n\r\n");
    assert_eq!(h.actions().len(), 1);
}

#[test]
fn case_29_filter_action() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Filter\r\nOperation: add\r\nMatchCriteria: regex\r\nFilter: X\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Filter was formatted incorrectly.  Check the syntax of the filter given.\r\n\r\n"
    );
    h.send(id, "Action: Filter\r\nOperation: Remove\r\nFilter: X\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Unknown operation\r\n\r\n");
    h.send(id, "Action: Filter\r\nOperation: Add\r\nFilter: ([\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Filter did not compile.  Check the syntax of the filter given.\r\n\r\n"
    );
    h.send(
        id,
        "Action: Filter\r\nActionID: f\r\nOperation: Add\r\nFilter: Event: Newchannel\r\n\r\n",
    );
    assert_eq!(h.take(id), "Response: Success\r\nActionID: f\r\nMessage: Success\r\n\r\n");
    h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(id);
    let nc = PublishedEvent::new("Newchannel", Privilege::CALL).unwrap();
    let hu = PublishedEvent::new("Hangup", Privilege::CALL).unwrap();
    assert_eq!(h.server.publish(&hu), 0);
    assert_eq!(h.server.publish(&nc), 1);
    assert_eq!(h.take(id), "Event: Newchannel\r\nPrivilege: call,all\r\n\r\n");
    // needs write system
    let c = h.logged_in("caller", "x");
    h.send(c, "Action: Filter\r\nOperation: Add\r\nFilter: x\r\n\r\n");
    assert_eq!(h.take(c), "Response: Error\r\nMessage: Permission denied\r\n\r\n");
}

/// A publish decides a filter list once and reuses the verdict for the sessions that share
/// it; a session that added its own filter no longer shares its user's list, and there are
/// more distinct lists here than the publish remembers.
#[test]
fn a_publish_judges_each_sessions_own_filters() {
    let mut h = H::new();
    let shared: Vec<SessionId> = (0..3).map(|_| h.logged_in("admin", "s3cret")).collect();
    let own: Vec<SessionId> = (0..20)
        .map(|i| {
            let id = h.logged_in("admin", "s3cret");
            h.send(
                id,
                &format!("Action: Filter\r\nOperation: Add\r\nFilter: Channel: PJSIP/{i}-\r\n\r\n"),
            );
            assert!(h.take(id).contains("Message: Success"));
            id
        })
        .collect();
    for &id in shared.iter().chain(&own) {
        h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
        h.take(id);
    }
    for channel in [7, 19, 0] {
        let mut e = PublishedEvent::new("Newchannel", Privilege::CALL).unwrap();
        e.header("Channel", format!("PJSIP/{channel}-00000001")).unwrap();
        assert_eq!(h.server.publish(&e), shared.len() + 1, "PJSIP/{channel}");
        for &id in &shared {
            assert!(h.take(id).contains(&format!("PJSIP/{channel}-")));
        }
        for (i, &id) in own.iter().enumerate() {
            assert_eq!(h.take(id).is_empty(), i != channel, "session {i}, PJSIP/{channel}");
        }
    }
}

#[test]
fn session_filters_are_bounded() {
    let mut h = H::with("", ServerOptions { max_session_filters: 2, ..options() });
    let id = h.logged_in("admin", "s3cret");
    for expected in
        ["Message: Success", "Message: Success", "Internal Error. Failed adding filter."]
    {
        h.send(id, "Action: Filter\r\nOperation: Add\r\nFilter: x\r\n\r\n");
        assert!(h.take(id).contains(expected));
    }
}

#[test]
fn case_32_allowmultiplelogin_no_refuses_a_second_login() {
    for second in [
        "Action: Login\r\nUsername: single\r\nSecret: x\r\n\r\n",
        "Action: Challenge\r\nAuthType: MD5\r\nUsername: SINGLE\r\n\r\n",
    ] {
        let mut h = H::new();
        h.logged_in("single", "x");
        let obs = h.connect();
        h.login_full(obs, "observer", "o");
        h.take(obs);
        let id = h.connect();
        h.send(id, second);
        assert_eq!(h.take(id), "");
        assert!(h.take(obs).starts_with("Event: SessionLimit\r\nPrivilege: security,all\r\n"));
        h.advance(1000);
        assert_eq!(h.take(id), "Response: Error\r\nMessage: Login Already In Use\r\n\r\n");
        assert_eq!(h.disconnects(), [(id, DisconnectReason::LoginInUse)]);
    }
    // users with allowmultiplelogin (the default) may log in twice
    let mut h = H::new();
    h.logged_in("admin", "s3cret");
    h.logged_in("admin", "s3cret");
}

#[test]
fn case_33_authlimit_refuses_without_banner() {
    let mut h = H::with("authlimit = 1\n", options());
    let first = h.connect();
    assert_eq!(
        h.server.accept("127.0.0.1:2".parse().unwrap(), h.at()),
        Err(Refused::AuthLimit { limit: 1 })
    );
    h.login_quiet(first, "admin", "s3cret");
    // logged-in sessions do not count
    let second = h.connect();
    assert!(h.server.accept("127.0.0.1:3".parse().unwrap(), h.at()).is_err());
    assert!(h.server.remove(second));
    h.connect();
}

#[test]
fn case_34_authtimeout_closes_silently() {
    let mut h = H::with("authtimeout = 2\n", options());
    let idle = h.connect();
    let logged = h.logged_in("admin", "s3cret");
    assert_eq!(h.server.poll_timeout(), Some(Instant::from_millis(12_000)));
    h.send(idle, "Action: Ping\r\n\r\n"); // activity does not extend it
    h.take(idle);
    h.advance(1999);
    assert!(h.disconnects().is_empty());
    h.advance(1);
    assert_eq!(h.disconnects(), [(idle, DisconnectReason::AuthTimeout)]);
    assert_eq!(h.take(idle), "");
    assert_eq!(h.server.poll_timeout(), None);
    h.advance(60_000);
    assert_eq!(h.disconnects().len(), 1, "no timeout after login: {logged:?}");
}

#[test]
fn case_36_long_actionid_is_truncated_in_events_but_not_in_ping() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    let long = "x".repeat(300);
    h.send(id, &format!("Action: Events\r\nActionID: {long}\r\nEventMask: off\r\n\r\n"));
    assert_eq!(
        h.take(id),
        format!("Response: Success\r\nActionID: {}Events: Off\r\n\r\n", &long[..245])
    );
    h.send(id, &format!("Action: Ping\r\nActionID: {long}\r\n\r\n"));
    assert!(
        h.take(id).starts_with(&format!("Response: Success\r\nActionID: {long}\r\nPing: Pong\r\n"))
    );
    // 244 bytes: the CR survives, the LF is lost
    let id244 = "y".repeat(244);
    h.send(id, &format!("Action: Events\r\nActionID: {id244}\r\nEventMask: off\r\n\r\n"));
    assert_eq!(h.take(id), format!("Response: Success\r\nActionID: {id244}\rEvents: Off\r\n\r\n"));
}

#[test]
fn case_38_waitevent() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(id);
    h.send(id, "Action: WaitEvent\r\nActionID: w\r\nTimeout: 0\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Success\r\nActionID: w\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: WaitEventComplete\r\nActionID: w\r\n\r\n"
    );
    h.send(id, "Action: WaitEvent\r\nTimeout: 0x3\r\n\r\n");
    assert_eq!(h.server.poll_timeout(), Some(Instant::from_millis(13_000)));
    h.advance(3000);
    assert_eq!(
        h.take(id),
        "Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: WaitEventComplete\r\n\r\n"
    );
    h.send(id, "Action: WaitEvent\r\nTimeout: 010\r\n\r\n");
    assert_eq!(h.server.poll_timeout(), Some(Instant::from_millis(21_000)));
    let e = PublishedEvent::new("Hangup", Privilege::CALL).unwrap();
    assert_eq!(h.server.publish(&e), 1);
    assert_eq!(
        h.take(id),
        "Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: Hangup\r\nPrivilege: call,all\r\n\r\nEvent: WaitEventComplete\r\n\r\n"
    );
    // input ends the wait too, then is processed
    h.send(id, "Action: WaitEvent\r\n\r\n");
    assert_eq!(h.take(id), "");
    h.send(id, "Action: Ping\r\n\r\n");
    let out = h.take(id);
    assert!(out.starts_with("Response: Success\r\nMessage: Waiting for Event completed.\r\n\r\nEvent: WaitEventComplete\r\n\r\nResponse: Success\r\nPing: Pong\r\n"), "{out}");
}

#[test]
fn case_39_originate_escalation() {
    let mut h = H::new();
    let id = h.logged_in("orig", "x");
    for (app, data) in [("ExecIf", "1?NoOp"), ("Playback", "SHELL"), ("System", "x")] {
        h.send(id, &format!("Action: Originate\r\nChannel: Local/1@x\r\nApplication: {app}\r\nData: {data}\r\n\r\n"));
        assert_eq!(
            h.take(id),
            "Response: Error\r\nMessage: Originate Access Forbidden: app or data blacklisted\r\n\r\n",
            "{app}"
        );
    }
    h.send(
        id,
        "Action: Originate\r\nChannel: Local/1@x\r\nApplication: Playback\r\nData: shell\r\n\r\n",
    );
    assert_eq!(h.actions().len(), 1, "data is case-sensitive");
    let mut h = H::new();
    let id = h.logged_in("orig", "x");
    h.send(
        id,
        "Action: Originate\r\nChannel: Local/1@x\r\nExten: 1\r\nContext: x\r\nPriority: 1\r\n\r\n",
    );
    assert_eq!(h.actions().len(), 1, "no check without Application");
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(
        id,
        "Action: Originate\r\nChannel: Local/1@x\r\nApplication: System\r\nData: id\r\n\r\n",
    );
    assert_eq!(h.actions().len(), 1, "system may");
}

#[test]
fn originate_refusal_keeps_asterisks_earlier_validation_errors() {
    let mut h = H::new();
    let id = h.logged_in("orig", "x");
    let long = "u".repeat(150);
    let cases = [
        (
            format!("ChannelId: {long}\r\nChannel: Local/1@x"),
            "Uniqueid length exceeds maximum of 149\n",
        ),
        ("Channel: ".to_string(), "Channel not specified"),
        ("Channel: Local/1@x\r\nTimeout: abc".to_string(), "Invalid timeout"),
        ("Channel: nochannel".to_string(), "Invalid channel"),
        (
            "Channel: Local/1@x\r\nTimeout:  -5".to_string(),
            "Originate Access Forbidden: app or data blacklisted",
        ),
    ];
    for (headers, message) in cases {
        h.send(id, &format!("Action: Originate\r\n{headers}\r\nApplication: System\r\n\r\n"));
        assert_eq!(h.take(id), format!("Response: Error\r\nMessage: {message}\r\n\r\n"));
    }
}

#[test]
fn case_40_getvar_and_status_escalation() {
    let mut h = H::new();
    let id = h.logged_in("caller", "x");
    h.send(id, "Action: Getvar\r\nVariable: SHELL(id)\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: GetVar Access Forbidden: Variable\r\n\r\n");
    h.send(id, "Action: Status\r\nVariables: EVAL(x)\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Status Access Forbidden: Variables\r\n\r\n"
    );
    h.send(id, "Action: Setvar\r\nVariable: SHELL(id)\r\nValue: 1\r\n\r\n");
    assert_eq!(h.actions().len(), 1, "Setvar has no such check");
}

#[test]
fn case_41_eof_mid_message_executes_nothing() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Logoff\r\n");
    h.server.handle_eof(id, h.at());
    h.pump();
    assert_eq!(h.take(id), "");
    assert_eq!(h.disconnects(), [(id, DisconnectReason::PeerClosed)]);
    // complete requests before the EOF are answered first
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Ping\r\n\r\nAction: Getvar\r\nVariable: X\r\n\r\n");
    h.server.handle_eof(id, h.at());
    h.pump();
    let a = h.actions().pop().unwrap();
    assert!(h.disconnects().is_empty(), "waits for the application");
    h.server.ack(id, &a, "ok").unwrap();
    h.pump();
    let out = h.take(id);
    assert!(
        out.starts_with("Response: Success\r\nPing: Pong\r\n")
            && out.ends_with("Message: ok\r\n\r\n")
    );
    assert_eq!(h.disconnects(), [(id, DisconnectReason::PeerClosed)]);
}

#[test]
fn case_42_empty_secret_and_missing_secret() {
    let mut h = H::new();
    let id = h.connect();
    h.send(id, "Action: Login\r\nUsername: nopw\r\nEvents: off\r\n\r\n");
    assert_eq!(h.take(id), "Response: Success\r\nMessage: Authentication accepted\r\n\r\n");
    let id = h.connect();
    h.send(id, "Action: Login\r\nUsername: nosecret\r\n\r\n");
    h.advance(1000);
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Authentication failed\r\n\r\n");
}

// ---- sequencing, fan-out, bounds -------------------------------------------------------------

#[test]
fn pipelined_requests_are_answered_in_order_around_application_actions() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(
        id,
        "Action: Ping\r\nActionID: p1\r\n\r\nAction: Getvar\r\nActionID: p2\r\nVariable: A\r\n\r\nAction: Ping\r\nActionID: p3\r\n\r\n",
    );
    let a = h.actions();
    assert_eq!(a.len(), 1, "one action at a time");
    assert!(!h.server.wants_input(id));
    let out = h.take(id);
    assert!(out.contains("p1") && !out.contains("p3"));
    h.server
        .respond(
            id,
            &a[0],
            &encode::Response::new("Success").with("Variable", "A").with("Value", "1"),
        )
        .unwrap();
    h.pump();
    assert!(h.server.wants_input(id));
    let out = h.take(id);
    let msgs = messages(&out);
    assert_eq!(msgs[0], "Response: Success\r\nActionID: p2\r\nVariable: A\r\nValue: 1\r\n\r\n");
    assert!(msgs[1].starts_with("Response: Success\r\nActionID: p3\r\n"));
}

#[test]
fn events_published_during_an_action_are_held_until_its_answer_and_rechecked() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(id);
    h.send(id, "Action: Originate\r\nActionID: o\r\nChannel: Local/1@x\r\nExten: 1\r\nContext: x\r\nPriority: 1\r\n\r\nAction: Events\r\nEventMask: system\r\n\r\n");
    let a = h.actions().pop().unwrap();
    assert_eq!(h.server.publish(&PublishedEvent::new("Newchannel", Privilege::CALL).unwrap()), 1);
    assert_eq!(h.server.publish(&PublishedEvent::new("Reload", Privilege::SYSTEM).unwrap()), 1);
    assert_eq!(h.take(id), "");
    h.server.ack(id, &a, "Originate successfully queued").unwrap();
    h.pump();
    assert_eq!(
        h.take(id),
        "Response: Success\r\nActionID: o\r\nMessage: Originate successfully queued\r\n\r\nEvent: Newchannel\r\nPrivilege: call,all\r\n\r\nEvent: Reload\r\nPrivilege: system,all\r\n\r\nResponse: Success\r\nEvents: On\r\n\r\n"
    );
    // SuppressEvents: held events come after the next pipelined answer
    h.send(id, "Action: Getvar\r\nSuppressEvents: yes\r\nVariable: A\r\n\r\nAction: Ping\r\n\r\n");
    let a = h.actions().pop().unwrap();
    h.server.publish(&PublishedEvent::new("Reload", Privilege::SYSTEM).unwrap());
    h.server.ack(id, &a, "ok").unwrap();
    let msgs = messages(&h.take(id));
    assert!(msgs[0].contains("Message: ok"));
    assert!(msgs[1].contains("Ping: Pong"));
    assert!(msgs[2].starts_with("Event: Reload"));
}

#[test]
fn own_security_events_come_after_the_response() {
    let mut h = H::new();
    let id = h.connect();
    h.login_full(id, "admin", "s3cret");
    h.send(id, "Action: NoSuch\r\nActionID: u\r\n\r\n");
    let msgs = messages(&h.take(id));
    assert!(msgs[0].starts_with(
        "Response: Error\r\nActionID: u\r\nMessage: Invalid/unknown command: NoSuch."
    ));
    assert!(msgs[1].starts_with("Event: RequestBadFormat\r\nPrivilege: security,all\r\n"));
}

#[test]
fn security_event_header_orders() {
    let mut h = H::new();
    h.now = 148_186;
    let id = h.connect_from("127.0.0.1:53436");
    let out = h.login_full(id, "admin", "s3cret");
    let msgs = messages(&out);
    let sid = format!("{:#x}", 0x7f00_0000_0000u64 + id.get() * 0x1d0);
    assert_eq!(
        msgs[2],
        format!(
            "Event: SuccessfulAuth\r\nPrivilege: security,all\r\nEventTV: 2026-11-22T20:42:28.186+0000\r\nSeverity: Informational\r\nService: AMI\r\nEventVersion: 1\r\nAccountID: admin\r\nSessionID: {sid}\r\nLocalAddress: IPV4/TCP/127.0.0.1/5038\r\nRemoteAddress: IPV4/TCP/127.0.0.1/53436\r\nUsingPassword: 0\r\nSessionTV: 2026-11-22T20:42:28.186+0000\r\n\r\n"
        )
    );
    h.now += 1000;
    h.send(id, "\r\n");
    let msgs = messages(&h.take(id));
    assert_eq!(
        msgs[1],
        format!(
            "Event: RequestBadFormat\r\nPrivilege: security,all\r\nEventTV: 2026-11-22T20:42:29.186+0000\r\nSeverity: Error\r\nService: AMI\r\nEventVersion: 1\r\nSessionID: {sid}\r\nLocalAddress: IPV4/TCP/127.0.0.1/5038\r\nRemoteAddress: IPV4/TCP/127.0.0.1/53436\r\nRequestType: Action: NONE\r\nSessionTV: 2026-11-22T20:42:28.186+0000\r\nAccountID: admin\r\n\r\n"
        )
    );
    // InvalidPassword is version 2 and names the Username typed
    let bad = h.connect();
    h.send(bad, "Action: Login\r\nUsername: Admin\r\nSecret: no\r\n\r\n");
    let seen = h.take(id);
    assert!(seen.contains("\r\nEventVersion: 2\r\nAccountID: Admin\r\n"), "{seen}");
}

#[test]
fn request_type_is_cut_to_63_bytes_and_unknown_message_to_511() {
    let mut h = H::new();
    let id = h.connect();
    h.login_full(id, "admin", "s3cret");
    h.take(id);
    h.drain_events();
    let name = "Z".repeat(600);
    h.send(id, &format!("Action: {name}\r\n\r\n"));
    let msgs = messages(&h.take(id));
    let expected = format!(
        "Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
    );
    assert_eq!(msgs[0], format!("Response: Error\r\nMessage: {}\r\n\r\n", &expected[..511]));
    assert!(msgs[1].contains(&format!("\r\nRequestType: Action: {}\r\n", &name[..55])));
    // a non-UTF-8 action name: Asterisk's JSON layer drops the security event
    h.drain_events();
    h.send_bytes(id, b"Action: \xff\r\n\r\n");
    let msgs = messages(&String::from_utf8_lossy(&h.take_bytes(id)));
    assert_eq!(msgs.len(), 1);
    assert_eq!(h.security_kinds(), [SecurityEventKind::RequestBadFormat]);
}

#[test]
fn publish_renders_privilege_timestamp_systemname_and_honours_disabledevents() {
    let mut h = H::with(
        "timestampevents = yes\ndisabledevents = Newexten, VarSet\n",
        ServerOptions { system_name: Some("pbx1".into()), ..options() },
    );
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(id);
    h.now = 32_745;
    let mut e = PublishedEvent::new("Hangup", Privilege::CALL).unwrap();
    e.header("Channel", "PJSIP/1-0001").unwrap().header("Cause-txt", "Normal Clearing").unwrap();
    h.server.handle_timeout(h.at());
    assert_eq!(h.server.publish(&e), 1);
    assert_eq!(
        h.take(id),
        "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1795380032.745000\r\nSystemName: pbx1\r\nChannel: PJSIP/1-0001\r\nCause-txt: Normal Clearing\r\n\r\n"
    );
    for name in ["VarSet", "Newexten"] {
        assert_eq!(h.server.publish(&PublishedEvent::new(name, Privilege::DIALPLAN).unwrap()), 0);
    }
    assert_eq!(h.server.publish(&PublishedEvent::new("NewExten", Privilege::DIALPLAN).unwrap()), 1);
}

#[test]
fn publish_skips_unauthenticated_and_filtered_sessions() {
    let conf = "[general]\n[f]\nsecret = x\nread = all\nwrite = all\neventfilter(action(exclude),name(Newchannel),header(Channel),method(starts_with)) = Local/\n[a]\nsecret = x\nread = all\n";
    let config = parse_manager_conf(conf, &mut NoIncludes, &ConfigOptions::default()).unwrap();
    let mut server = Server::new(config, options(), Box::new(|| 1u32));
    let t = Instant::from_millis(1);
    let pre = server.accept("127.0.0.1:1".parse().unwrap(), t).unwrap();
    let f = server.accept("127.0.0.1:2".parse().unwrap(), t).unwrap();
    let a = server.accept("127.0.0.1:3".parse().unwrap(), t).unwrap();
    server.handle_input(f, b"Action: Login\r\nUsername: f\r\nSecret: x\r\nEvents: call\r\n\r\n", t);
    server.handle_input(a, b"Action: Login\r\nUsername: a\r\nSecret: x\r\nEvents: call\r\n\r\n", t);
    for id in [pre, f, a] {
        let n = server.poll_transmit(id).len();
        server.consume_transmit(id, n);
    }
    let mut local = PublishedEvent::new("Newchannel", Privilege::CALL).unwrap();
    local.header("Channel", "Local/a@b-1;1").unwrap();
    assert_eq!(server.publish(&local), 1);
    assert!(server.poll_transmit(f).is_empty());
    assert!(server.poll_transmit(pre).is_empty());
    assert!(server.poll_transmit(a).starts_with(b"Event: Newchannel\r\n"));
}

#[test]
fn slow_consumer_drops_events_without_blocking_others() {
    let mut h = H::with("", ServerOptions { max_outbound: 300, ..options() });
    let slow = h.logged_in("admin", "s3cret");
    let fast = h.logged_in("admin", "s3cret");
    for id in [slow, fast] {
        h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
        h.take(id);
    }
    let mut e = PublishedEvent::new("Hangup", Privilege::CALL).unwrap();
    e.header("Channel", "x".repeat(60)).unwrap();
    let mut slow_total = 0;
    for _ in 0..10 {
        let n = h.server.publish(&e);
        assert!(n >= 1);
        h.pump();
        let out = h.take(fast);
        assert!(out.starts_with("Event: Hangup"));
        slow_total = h.server.poll_transmit(slow).len();
        assert!(slow_total <= 300);
    }
    let reports: Vec<_> = h
        .events
        .iter()
        .filter(|(id, e)| *id == slow && matches!(e, ServerEvent::SlowConsumer { .. }))
        .collect();
    assert_eq!(reports.len(), 1, "reported once");
    assert!(slow_total > 0);
    // requests wait while answers fill the queue
    h.send(slow, "Action: ListCommands\r\n\r\nAction: Ping\r\n\r\n");
    assert!(!h.server.wants_input(slow));
    let queued = String::from_utf8_lossy(h.server.poll_transmit(slow)).into_owned();
    assert!(queued.contains("(Priv: ") && !queued.contains("Pong"));
    h.take(slow); // draining resumes processing
    assert!(h.take(slow).contains("Ping: Pong"));
    assert_eq!(h.server.publish(&e), 2, "delivery resumes once drained");
}

#[test]
fn unprocessed_input_is_bounded() {
    let mut h = H::with("", ServerOptions { max_inbound: 1000, ..options() });
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Getvar\r\nVariable: x\r\n\r\n");
    assert_eq!(h.actions().len(), 1);
    h.send(id, &"Action: Ping\r\n\r\n".repeat(40));
    assert!(h.disconnects().is_empty());
    h.send(id, &"Action: Ping\r\n\r\n".repeat(40));
    assert_eq!(h.disconnects(), [(id, DisconnectReason::InputOverflow)]);
}

#[test]
fn list_answers_echo_the_actionid_where_asterisk_puts_it() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Status\r\nActionID: s\r\n\r\n");
    let a = h.actions().pop().unwrap();
    h.server.list_start(id, &a, "Channel status will follow").unwrap();
    h.server
        .list_item(id, &a, &encode::Event::new("CoreShowChannel").with("Channel", "X"))
        .unwrap();
    let status_item = encode::Event::new("Status")
        .with("Privilege", "Call")
        .with("Channel", "X")
        .with("ActionID", "s");
    h.server.list_item(id, &a, &status_item).unwrap();
    h.server.list_complete(id, &a, "StatusComplete", 2, &[("Items", "2")]).unwrap();
    assert_eq!(
        h.take(id),
        "Response: Success\r\nActionID: s\r\nEventList: start\r\nMessage: Channel status will follow\r\n\r\n\
         Event: CoreShowChannel\r\nActionID: s\r\nChannel: X\r\n\r\n\
         Event: Status\r\nPrivilege: Call\r\nChannel: X\r\nActionID: s\r\n\r\n\
         Event: StatusComplete\r\nActionID: s\r\nEventList: Complete\r\nListItems: 2\r\nItems: 2\r\n\r\n"
    );
    assert_eq!(h.server.ack(id, &a, "again"), Err(ServerError::NotPending));
}

#[test]
fn answering_calls_validate_their_input() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    let other = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Getvar\r\nVariable: x\r\n\r\n");
    let a = h.actions().pop().unwrap();
    assert!(matches!(h.server.ack(id, &a, "a\r\nEvent: X"), Err(ServerError::Encode(_))));
    assert_eq!(h.server.ack(other, &a, "x"), Err(ServerError::NotPending));
    assert_eq!(
        h.server.respond_raw(id, &a, b"Response: Success\r\n"),
        Err(ServerError::IncompleteMessage)
    );
    assert_eq!(h.take(id), "");
    h.server.respond_raw(id, &a, b"Response: Success\r\nActionID: quirk").unwrap_err();
    h.server
        .respond_raw(id, &a, b"Response: Success\r\nActionID: 12345678Events: Off\r\n\r\n")
        .unwrap();
    assert_eq!(h.take(id), "Response: Success\r\nActionID: 12345678Events: Off\r\n\r\n");
    assert!(h.server.remove(id));
    assert_eq!(h.server.ack(id, &a, "x"), Err(ServerError::UnknownSession(id)));
}

#[test]
fn shutting_down_answers_every_request() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.server.set_shutting_down(true);
    h.send(id, "Action: Ping\r\n\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Asterisk is shutting down\r\n\r\n");
    h.send(id, "\r\n");
    assert_eq!(h.take(id), "Response: Error\r\nMessage: Missing action in request\r\n\r\n");
}

#[test]
fn unregistered_actions_are_unknown_and_listcommands_lists_the_registry() {
    let mut h = H::with(
        "",
        ServerOptions { unix_offset_ms: UNIX_OFFSET, ..ServerOptions::with_modules(&["core"]) },
    );
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: QueueStatus\r\n\r\n");
    assert_eq!(
        h.take(id),
        "Response: Error\r\nMessage: Invalid/unknown command: QueueStatus. Use Action: ListCommands to show available commands.\r\n\r\n"
    );
    let r = h.logged_in("reader", "r");
    h.send(r, "Action: ListCommands\r\nActionID: l\r\n\r\n");
    let out = h.take(r);
    assert!(out.starts_with(
        "Response: Success\r\nActionID: l\r\nBridgeDestroy: Destroy a bridge.  (Priv: <none>)\r\n"
    ));
    assert!(out.ends_with("WaitEvent: Wait for an event to occur.  (Priv: <none>)\r\n\r\n"));
    assert!(!out.contains("Queue") && !out.contains("Originate"));
}

#[test]
fn remove_and_disconnect_release_the_authlimit_slot_once() {
    let mut h = H::with("authlimit = 2\n", options());
    let a = h.connect();
    let b = h.connect();
    assert_eq!(h.server.unauthenticated_count(), 2);
    h.send(a, "Action: Logoff\r\n\r\n");
    assert_eq!(h.server.unauthenticated_count(), 1);
    assert!(h.server.remove(a));
    assert_eq!(h.server.unauthenticated_count(), 1);
    assert!(h.server.remove(b));
    assert!(!h.server.remove(b));
    assert_eq!(h.server.unauthenticated_count(), 0);
}

#[test]
fn acl_is_checked_against_the_peer_address() {
    let mut h = H::new();
    let id = h.connect_from("127.0.0.1:1");
    h.login_quiet(id, "acl", "x");
    let id = h.connect_from("[::1]:1");
    h.login_quiet(id, "acl", "x"); // IPv4 rules do not apply to IPv6 peers
}

#[test]
fn scan_int_follows_sscanf() {
    assert_eq!(scan_int(b"010", true), Some(8));
    assert_eq!(scan_int(b"0x3", true), Some(3));
    assert_eq!(scan_int(b"010", false), Some(10));
    assert_eq!(scan_int(b" -5x", false), Some(-5));
    assert_eq!(scan_int(b"abc", false), None);
    assert_eq!(scan_int(b"", false), None);
    assert_eq!(scan_int(b"4294967297", false), Some(1));
}

#[test]
fn fan_out_to_a_thousand_sessions() {
    let mut h = H::with("authlimit = 2000\n", options());
    let ids: Vec<_> = (0..1000)
        .map(|_| {
            let id = h.connect();
            h.send(
                id,
                "Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\nEvents: call\r\n\r\n",
            );
            h.take(id);
            id
        })
        .collect();
    let e = PublishedEvent::new("Newchannel", Privilege::CALL).unwrap();
    assert_eq!(h.server.publish(&e), 1000);
    assert!(ids.iter().all(
        |&id| h.server.poll_transmit(id) == b"Event: Newchannel\r\nPrivilege: call,all\r\n\r\n"
    ));
}

// ---- robustness ------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Input(u8, Vec<u8>),
    Eof(u8),
    Accept,
    Advance(u16),
    Drain(u8, u16),
    Publish(u8),
    Answer,
}

fn op() -> impl Strategy<Value = Op> {
    let fragments = prop::sample::select(vec![
        &b"Action: Login\r\nUsername: admin\r\nSecret: s3cret\r\n\r\n"[..],
        b"Action: Login\r\nUsername: single\r\nSecret: x\r\n\r\n",
        b"Action: Login\r\nUsername: admin\r\nSecret: x\r\n\r\n",
        b"Action: Challenge\r\nAuthType: MD5\r\n\r\n",
        b"Action: Ping\r\n\r\n",
        b"Action: Getvar\r\nVariable: x\r\n\r\n",
        b"Action: Events\r\nEventMask: on\r\n\r\n",
        b"Action: WaitEvent\r\nTimeout: 1\r\n\r\n",
        b"Action: Filter\r\nOperation: Add\r\nFilter: ^Event\r\n\r\n",
        b"Action: Logoff\r\n\r\n",
        b"\r\n",
        b"\n",
        b"Action: ",
    ]);
    prop_oneof![
        (any::<u8>(), fragments).prop_map(|(s, f)| Op::Input(s, f.to_vec())),
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(s, b)| Op::Input(s, b)),
        any::<u8>().prop_map(Op::Eof),
        Just(Op::Accept),
        any::<u16>().prop_map(Op::Advance),
        (any::<u8>(), any::<u16>()).prop_map(|(s, n)| Op::Drain(s, n)),
        any::<u8>().prop_map(Op::Publish),
        Just(Op::Answer),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_operation_sequence_never_panics_and_stays_bounded(ops in prop::collection::vec(op(), 1..80)) {
        let max_outbound = 2000;
        let opts = ServerOptions { max_outbound, max_inbound: 4000, login_failure_delay: Duration::from_millis(300), ..options() };
        let mut server = Server::new(config("authlimit = 3\n"), opts, Box::new(|| 7u32));
        let mut now = 0u64;
        let mut ids: Vec<SessionId> = Vec::new();
        let mut pending: Vec<ActionRef> = Vec::new();
        for op in ops {
            let t = Instant::from_millis(now);
            match op {
                Op::Accept => { if let Ok(id) = server.accept("127.0.0.1:9".parse().unwrap(), t) { ids.push(id) } }
                Op::Input(s, b) => if let Some(&id) = ids.get(usize::from(s) % ids.len().max(1)) { server.handle_input(id, &b, t) },
                Op::Eof(s) => if let Some(&id) = ids.get(usize::from(s) % ids.len().max(1)) { server.handle_eof(id, t) },
                Op::Advance(ms) => { now += u64::from(ms); server.handle_timeout(Instant::from_millis(now)) }
                Op::Drain(s, n) => if let Some(&id) = ids.get(usize::from(s) % ids.len().max(1)) { server.consume_transmit(id, usize::from(n)) },
                Op::Publish(c) => { server.publish(&PublishedEvent::new("Hangup", Privilege::from_bits(u32::from(c))).unwrap()); }
                Op::Answer => if let Some(a) = pending.pop() { let _ = server.ack(a.session(), &a, "ok"); },
            }
            while let Some((id, e)) = server.poll_event() {
                match e {
                    ServerEvent::ActionReceived { action } => pending.push(action),
                    ServerEvent::Disconnect { .. } => { server.remove(id); ids.retain(|&i| i != id); }
                    _ => {}
                }
            }
            for &id in &ids {
                // events never push the queue past the bound; one built-in answer may
                prop_assert!(server.poll_transmit(id).len() <= max_outbound + 8192);
            }
            prop_assert!(server.unauthenticated_count() as usize <= ids.len());
        }
    }
}

#[test]
fn held_events_are_bounded_and_the_accepted_ones_survive() {
    let mut h = H::with("", ServerOptions { max_outbound: 300, ..options() });
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(id);
    h.send(id, "Action: Getvar\r\nVariable: x\r\n\r\n");
    let a = h.actions().pop().unwrap();
    let mut e = PublishedEvent::new("Hangup", Privilege::CALL).unwrap();
    e.header("Channel", "x".repeat(60)).unwrap();
    let taken: usize = (0..5).map(|_| h.server.publish(&e)).sum();
    assert_eq!(taken, 2);
    h.pump();
    let slow = h.events.iter().filter(|(_, e)| matches!(e, ServerEvent::SlowConsumer { .. }));
    assert_eq!(slow.count(), 1);
    h.server.ack(id, &a, "ok").unwrap();
    let msgs = messages(&h.take(id));
    assert_eq!(msgs.len(), 3);
    assert!(msgs[0].contains("Message: ok") && msgs[2].starts_with("Event: Hangup"));
    assert_eq!(h.server.publish(&e), 1, "drained: delivering again");
}

#[test]
fn publish_to_reaches_one_session_under_the_usual_rules() {
    let mut h = H::new();
    let a = h.logged_in("admin", "s3cret");
    let b = h.logged_in("admin", "s3cret");
    for id in [a, b] {
        h.send(id, "Action: Events\r\nEventMask: on\r\n\r\n");
        h.take(id);
    }
    let e = PublishedEvent::new("OriginateResponse", Privilege::CALL).unwrap();
    assert!(h.server.publish_to(b, &e));
    assert_eq!(h.take(a), "");
    assert_eq!(h.take(b), "Event: OriginateResponse\r\nPrivilege: call,all\r\n\r\n");
    // The event mask still applies: with events off the session does not take it.
    h.send(b, "Action: Events\r\nEventMask: off\r\n\r\n");
    h.take(b);
    assert!(!h.server.publish_to(b, &e));
    assert_eq!(h.take(b), "");
    // publish_filtered: only the sessions the predicate accepts.
    h.send(b, "Action: Events\r\nEventMask: on\r\n\r\n");
    h.take(b);
    assert_eq!(h.server.publish_filtered(&e, &|sid| sid == a), 1);
    assert_eq!(h.take(a), "Event: OriginateResponse\r\nPrivilege: call,all\r\n\r\n");
    assert_eq!(h.take(b), "");
    assert_eq!(h.server.publish_filtered(&e, &|_| true), 2);
    // Unknown sessions take nothing.
    h.server.remove(a);
    assert!(!h.server.publish_to(a, &e));
}

#[test]
fn write_raw_relays_parts_of_an_answer_without_completing_it() {
    let mut h = H::new();
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: CoreShowChannels\r\nActionID: c\r\n\r\nAction: Ping\r\n\r\n");
    let a = h.actions().pop().unwrap();
    assert!(matches!(
        h.server.write_raw(id, &a, b"Response: Success\r\n"),
        Err(ServerError::IncompleteMessage)
    ));
    h.server
        .write_raw(id, &a, b"Response: Success\r\nActionID: c\r\nEventList: start\r\n\r\n")
        .unwrap();
    h.pump();
    // Still pending: the pipelined Ping waits.
    assert_eq!(h.take(id), "Response: Success\r\nActionID: c\r\nEventList: start\r\n\r\n");
    h.server
        .respond_raw(id, &a, b"Event: CoreShowChannelsComplete\r\nActionID: c\r\n\r\n")
        .unwrap();
    h.pump();
    let msgs = messages(&h.take(id));
    assert_eq!(msgs[0], "Event: CoreShowChannelsComplete\r\nActionID: c\r\n\r\n");
    assert!(msgs[1].contains("Ping: Pong"));
    // Once answered, the action can take no more parts.
    assert!(h.server.write_raw(id, &a, b"Event: X\r\n\r\n").is_err());
}

/// A client that does not read a list answer cannot leave its session half-answered and
/// deaf (issue 16): when a part of the answer finds the queue full, the session is closed,
/// like Asterisk's after a write that exceeds `writetimeout`.
#[test]
fn a_list_answer_that_fills_the_queue_closes_the_session() {
    let mut h = H::with("", ServerOptions { max_outbound: 600, ..options() });
    let deaf = h.logged_in("admin", "s3cret");
    let other = h.logged_in("admin", "s3cret");
    h.send(deaf, "Action: Status\r\nActionID: s\r\n\r\nAction: Ping\r\nActionID: p\r\n\r\n");
    let a = h.actions().pop().unwrap();
    h.server.list_start(deaf, &a, "Channel status will follow").unwrap();
    let item = encode::Event::new("Status").with("Channel", "x".repeat(100));
    let mut written = 0;
    let err = loop {
        match h.server.list_item(deaf, &a, &item) {
            Ok(()) => written += 1,
            Err(e) => break e,
        }
        assert!(written < 100, "the queue bound must stop the list");
    };
    assert!(written >= 3, "items fit until the bound: {written}");
    assert!(matches!(err, ServerError::OutboundFull { queued } if queued >= 600), "{err:?}");
    h.pump();
    assert_eq!(h.disconnects(), [(deaf, DisconnectReason::OutputOverflow)]);
    // Nothing is left to send, nothing waits: the connection can close at once.
    assert!(h.server.poll_transmit(deaf).is_empty());
    assert!(!h.server.wants_input(deaf));
    // The action is over: every later part is refused, whatever the application does.
    assert_eq!(h.server.list_item(deaf, &a, &item), Err(ServerError::UnknownSession(deaf)));
    assert_eq!(
        h.server.list_complete(deaf, &a, "StatusComplete", written, &[]),
        Err(ServerError::UnknownSession(deaf))
    );
    assert!(h.server.remove(deaf));
    // Other sessions go on.
    h.send(other, "Action: Ping\r\nActionID: q\r\n\r\n");
    assert!(h.take(other).contains("Ping: Pong"));
}

/// The same bound for the proxy's relayed parts.
#[test]
fn a_relayed_part_that_finds_the_queue_full_closes_the_session() {
    let mut h = H::with("", ServerOptions { max_outbound: 200, ..options() });
    let id = h.logged_in("admin", "s3cret");
    h.send(id, "Action: CoreShowChannels\r\n\r\n");
    let a = h.actions().pop().unwrap();
    let part = format!("Event: CoreShowChannel\r\nChannel: {}\r\n\r\n", "y".repeat(150));
    // A part is queued while the queue is under the bound (it may end past it) ...
    h.server.write_raw(id, &a, part.as_bytes()).unwrap();
    h.server.write_raw(id, &a, part.as_bytes()).unwrap();
    // ... and the next one finds it full.
    assert!(matches!(
        h.server.write_raw(id, &a, part.as_bytes()),
        Err(ServerError::OutboundFull { queued }) if queued == 2 * part.len()
    ));
    h.pump();
    assert_eq!(h.disconnects(), [(id, DisconnectReason::OutputOverflow)]);
    assert!(h.server.respond_raw(id, &a, b"").is_err());
}
