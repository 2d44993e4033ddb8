//! The options a gateway (`ami proxy`, `ami bridge`) sets beyond Asterisk's behaviour: hidden
//! `ExpectedResponse`, unregistered actions for `write = all`, and the per-session counts.

use crate::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use crate::time::Instant;

use super::*;

const CONF: &str = "[general]\nenabled = yes\n\
    [admin]\nsecret = s3cret\nread = all\nwrite = all\n\
    [ops]\nsecret = s3cret\nread = all\nwrite = system,call,reporting,originate,command,agent,user,config,dtmf,cdr,dialplan,log,verbose\n\
    [viewer]\nsecret = s3cret\nread = all\nwrite = reporting\n";

fn server(options: ServerOptions) -> Server {
    let config = parse_manager_conf(CONF, &mut NoIncludes, &ConfigOptions::default()).unwrap();
    Server::new(config, options, Box::new(|| 840_486_216u32))
}

fn take(server: &mut Server, id: SessionId) -> String {
    let text = String::from_utf8_lossy(server.poll_transmit(id)).into_owned();
    let n = server.poll_transmit(id).len();
    server.consume_transmit(id, n);
    text
}

fn login(server: &mut Server, user: &str) -> SessionId {
    let now = Instant::from_millis(0);
    let id = server.accept("127.0.0.1:4000".parse().unwrap(), now).unwrap();
    let text = format!("Action: Login\r\nUsername: {user}\r\nSecret: s3cret\r\n\r\n");
    server.handle_input(id, text.as_bytes(), now);
    take(server, id);
    id
}

#[test]
fn the_expected_response_can_be_hidden() {
    for hide in [false, true] {
        let mut s =
            server(ServerOptions { hide_expected_response: hide, ..ServerOptions::default() });
        let watcher = login(&mut s, "admin");
        let now = Instant::from_millis(0);
        let id = s.accept("127.0.0.1:4001".parse().unwrap(), now).unwrap();
        s.handle_input(id, b"Action: Challenge\r\nAuthType: MD5\r\n\r\n", now);
        s.handle_input(
            id,
            b"Action: Login\r\nAuthType: MD5\r\nUsername: admin\r\nKey: 00000000000000000000000000000000\r\n\r\n",
            now,
        );
        let seen = take(&mut s, watcher);
        assert!(seen.contains("Event: ChallengeResponseFailed"), "{seen}");
        assert_eq!(seen.contains("ExpectedResponse: "), !hide, "{seen}");
        assert!(
            seen.contains("Challenge: 840486216\r\nResponse: 00000000000000000000000000000000\r\n")
        );
    }
}

#[test]
fn unregistered_actions_reach_the_application_only_for_write_all() {
    let options = ServerOptions {
        unregistered_actions: UnregisteredActions::ForWriteAll,
        ..ServerOptions::default()
    };
    let mut s = server(options);
    let now = Instant::from_millis(0);
    let admin = login(&mut s, "admin");
    let ops = login(&mut s, "ops");
    while s.poll_event().is_some() {}
    s.handle_input(admin, b"Action: FancyModuleAction\r\nActionID: f\r\nX: 1\r\n\r\n", now);
    let mut got = None;
    while let Some((sid, ev)) = s.poll_event() {
        if let ServerEvent::ActionReceived { action } = ev {
            got = Some((sid, action));
        }
    }
    let (sid, action) = got.expect("handed to the application");
    assert_eq!(sid, admin);
    assert!(!action.is_registered());
    assert_eq!(action.name(), "");
    assert_eq!(action.requested_name(), b"FancyModuleAction");
    assert_eq!(action.get("X"), Some(&b"1"[..]));
    // Almost all classes is not all: Asterisk's answer.
    s.handle_input(ops, b"Action: FancyModuleAction\r\nActionID: f\r\n\r\n", now);
    assert!(take(&mut s, ops).contains(
        "Message: Invalid/unknown command: FancyModuleAction. Use Action: ListCommands to show available commands."
    ));
    // And the default refuses everyone, as Asterisk does.
    let mut plain = server(ServerOptions::default());
    let admin = login(&mut plain, "admin");
    plain.handle_input(admin, b"Action: FancyModuleAction\r\n\r\n", now);
    assert!(take(&mut plain, admin).contains("Invalid/unknown command: FancyModuleAction"));
}

#[test]
fn sessions_count_what_they_did() {
    let mut s = server(ServerOptions { max_outbound: 400, ..ServerOptions::default() });
    let now = Instant::from_millis(0);
    let ops = login(&mut s, "ops");
    while s.poll_event().is_some() {}
    // The login, Ping and a Getvar of SHELL() (ops may write `system`) pass.
    s.handle_input(ops, b"Action: Ping\r\n\r\nAction: Getvar\r\nVariable: SHELL(id)\r\n\r\n", now);
    while s.poll_event().is_some() {}
    take(&mut s, ops);
    let counts = s.session_info(ops).unwrap().counts;
    assert_eq!((counts.actions_allowed, counts.actions_refused), (3, 0));
    // The viewer (write = reporting): Originate is refused by its class, Getvar of SHELL() by
    // the escalation check, Status passes.
    let viewer = login(&mut s, "viewer");
    s.handle_input(
        viewer,
        b"Action: Originate\r\nChannel: Local/1@x\r\nExten: 1\r\n\r\n\
          Action: Getvar\r\nVariable: SHELL(id)\r\n\r\n",
        now,
    );
    while s.poll_event().is_some() {}
    let counts = s.session_info(viewer).unwrap().counts;
    assert_eq!((counts.actions_allowed, counts.actions_refused), (1, 2), "login; Originate, SHELL");
    let admin = login(&mut s, "admin");
    while s.poll_event().is_some() {}
    let before = s.session_info(admin).unwrap().counts.events_delivered;
    // Small events fit; then the queue (400 bytes) fills and the rest are dropped, counted.
    for i in 0..10 {
        let mut ev = PublishedEvent::new("UserEvent", Privilege::USER).unwrap();
        ev.header("UserEvent", format!("E{i}")).unwrap();
        s.publish(&ev);
    }
    let counts = s.session_info(admin).unwrap().counts;
    assert!(counts.events_delivered > before);
    assert!(counts.events_dropped > 0);
    assert_eq!(counts.events_delivered - before + counts.events_dropped, 10);
}
