//! libami's clients against libami's server, several at once, in memory on a virtual clock.
//!
//! Covers what issue 4 asks of client/server pairs: login with both methods and every failure
//! kind, ActionID correlation under pipelining, lists, timeouts, keepalive, authlimit,
//! authtimeout, allowmultiplelogin, refused actions that never reach the application, and
//! permission-filtered fan-out to several users.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use ami_proto::client::{
    ActionId, ClientConfig, ClientEvent, ClientSession, ClientState, Keepalive, LoginMethod,
};
use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use ami_proto::encode::{Action, Event, Response};
use ami_proto::perm::Privilege;
use ami_proto::server::{PublishedEvent, Server, ServerEvent, ServerOptions, SessionId};
use ami_proto::time::{Duration, Instant};

const CONF: &str = "\
[general]
enabled = yes
authlimit = 3
authtimeout = 5

[admin]
secret = s3cret
read = all
write = all

[reader]
secret = r3ad
read = call,cdr
write =

[sys]
secret = sys
read = system
write = system

[limited]
secret = lim
read = call
write = originate,call

[filtered]
secret = f1lt
read = all
write = all
eventfilter(name(Hangup)) =

[nosecret]
read = all

[office]
secret = off
deny = 0.0.0.0/0
permit = 10.0.0.0/8

[solo]
secret = one
allowmultiplelogin = no
read = call
";

struct Peer {
    id: SessionId,
    client: ClientSession,
    log: Vec<String>,
    /// The server told the application to close this connection.
    server_closed: bool,
}

/// A server, its application and the clients connected to it.
struct Net {
    server: Server,
    peers: Vec<Peer>,
    now: Instant,
    /// Every action the application received, as `user:Action`.
    app_saw: Vec<String>,
    /// Actions the application leaves unanswered (to exercise timeouts).
    ignore: &'static [&'static str],
    security: Vec<String>,
}

impl Net {
    fn new() -> Net {
        let conf = parse_manager_conf(CONF, &mut NoIncludes, &ConfigOptions::default()).unwrap();
        let rng = Box::new(|| 840_486_216u32);
        Net {
            server: Server::new(conf, ServerOptions::default(), rng),
            peers: Vec::new(),
            now: Instant::from_millis(10_000),
            app_saw: Vec::new(),
            ignore: &[],
            security: Vec::new(),
        }
    }

    /// Connects a client from `peer`; `None` if the server refused the connection.
    fn connect(&mut self, peer: &str, config: ClientConfig) -> Option<usize> {
        let addr: SocketAddr = peer.parse().unwrap();
        let id = self.server.accept(addr, self.now).ok()?;
        let client = ClientSession::new(config, self.now);
        self.peers.push(Peer { id, client, log: Vec::new(), server_closed: false });
        Some(self.peers.len() - 1)
    }

    fn login(&mut self, i: usize, user: &str, secret: &str, method: LoginMethod) {
        self.peers[i].client.login(user, secret, method).unwrap();
        self.run();
    }

    fn send(&mut self, i: usize, action: Action) -> ActionId {
        let id = self.peers[i].client.send_action(&action, self.now).unwrap();
        self.run();
        id
    }

    fn serve(&mut self) {
        while let Some((sid, event)) = self.server.poll_event() {
            match event {
                ServerEvent::ActionReceived { action } => {
                    let user = self.server.session_info(sid).map(|s| s.username.clone());
                    let user = String::from_utf8_lossy(&user.unwrap_or_default()).into_owned();
                    self.app_saw.push(format!("{user}:{}", action.name()));
                    if self.ignore.contains(&action.name()) {
                        continue;
                    }
                    match action.name() {
                        "Getvar" => {
                            let var = action.get("Variable").unwrap_or_default().to_vec();
                            let value = [b"value of ".as_slice(), &var].concat();
                            let r =
                                Response::new("Success").with("Variable", var).with("Value", value);
                            self.server.respond(sid, &action, &r).unwrap();
                        }
                        "Status" => {
                            self.server
                                .list_start(sid, &action, "Channel status will follow")
                                .unwrap();
                            for chan in ["PJSIP/1-0001", "PJSIP/2-0002", "PJSIP/3-0003"] {
                                let item = Event::new("Status").with("Channel", chan);
                                self.server.list_item(sid, &action, &item).unwrap();
                            }
                            self.server
                                .list_complete(sid, &action, "StatusComplete", 3, &[])
                                .unwrap();
                        }
                        _ => self.server.ack(sid, &action, "Done").unwrap(),
                    }
                }
                ServerEvent::Security(e) => self.security.push(e.kind.name().to_string()),
                ServerEvent::Disconnect { .. } => {
                    if let Some(p) = self.peers.iter_mut().find(|p| p.id == sid) {
                        p.server_closed = true;
                    }
                }
                _ => {}
            }
        }
    }

    /// Moves bytes both ways until nothing moves (closing a client's side once the server has
    /// flushed and asked to close).
    fn run(&mut self) {
        loop {
            self.serve();
            let mut moved = false;
            for p in &mut self.peers {
                let to_client = self.server.poll_transmit(p.id).to_vec();
                self.server.consume_transmit(p.id, to_client.len());
                let to_server = p.client.poll_transmit().to_vec();
                p.client.consume_transmit(to_server.len());
                if !to_client.is_empty() {
                    p.client.handle_input(&to_client);
                    moved = true;
                } else if p.server_closed && p.client.state() != ClientState::Closed {
                    p.client.handle_eof();
                    moved = true;
                }
                if !to_server.is_empty() && !p.server_closed {
                    self.server.handle_input(p.id, &to_server, self.now);
                    moved = true;
                }
                while let Some(event) = p.client.poll_event() {
                    moved = true;
                    p.log.push(summary(&event));
                }
            }
            self.serve();
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
        for p in &mut self.peers {
            p.client.handle_timeout(self.now);
        }
        self.run();
    }

    fn take_log(&mut self, i: usize) -> Vec<String> {
        std::mem::take(&mut self.peers[i].log)
    }
}

fn text(v: Option<&[u8]>) -> String {
    String::from_utf8_lossy(v.unwrap_or_default()).into_owned()
}

fn summary(event: &ClientEvent<'_>) -> String {
    match event {
        ClientEvent::Banner { .. } => "banner".into(),
        ClientEvent::LoggedIn { .. } => "logged in".into(),
        ClientEvent::LoginFailed { message, .. } => {
            format!("login failed: {}", text(message.get("Message")))
        }
        ClientEvent::Response { action_id, message, .. } => format!(
            "{action_id} {} {}",
            text(message.response()),
            text(message.get("Value").or(message.get("Message")).or(message.get("Ping")))
        ),
        ClientEvent::ListStart { action_id, .. } => format!("{action_id} list start"),
        ClientEvent::ListItem { action_id, message } => {
            format!("{action_id} item {}", text(message.get("Channel")))
        }
        ClientEvent::ListComplete { action_id, message } => {
            format!("{action_id} complete {}", text(message.get("ListItems")))
        }
        ClientEvent::Event(m) => format!("event {}", text(m.event())),
        ClientEvent::ActionTimedOut { action_id } => format!("{action_id} timed out"),
        ClientEvent::ActionAborted { action_id, reason } => {
            format!("{action_id} aborted {reason:?}")
        }
        ClientEvent::Closed { reason, .. } => format!("closed {reason:?}"),
        other => format!("{other:?}"),
    }
}

fn logged_in(net: &mut Net, user: &str, secret: &str, config: ClientConfig) -> usize {
    let i = net.connect("127.0.0.1:40000", config).unwrap();
    net.login(i, user, secret, LoginMethod::Md5);
    assert!(net.take_log(i).contains(&"logged in".to_string()), "{user} logs in");
    i
}

#[test]
fn login_with_both_methods_and_every_failure_kind() {
    let cases: [(&str, &str, &str, LoginMethod, Option<&str>); 9] = [
        ("127.0.0.1:1", "admin", "s3cret", LoginMethod::Plain, None),
        ("127.0.0.1:2", "ADMIN", "s3cret", LoginMethod::Md5, None),
        ("10.9.8.7:3", "office", "off", LoginMethod::Plain, None),
        ("127.0.0.1:4", "admin", "S3CRET", LoginMethod::Plain, Some("InvalidPassword")),
        ("127.0.0.1:5", "admin", "wrong", LoginMethod::Md5, Some("ChallengeResponseFailed")),
        ("127.0.0.1:6", "nobody", "x", LoginMethod::Plain, Some("InvalidAccountID")),
        ("127.0.0.1:7", "office", "off", LoginMethod::Plain, Some("FailedACL")),
        ("[::ffff:192.0.2.1]:8", "office", "off", LoginMethod::Md5, Some("FailedACL")),
        ("127.0.0.1:9", "nosecret", "", LoginMethod::Plain, None),
    ];
    for (peer, user, secret, method, failure) in cases {
        let mut net = Net::new();
        let i = net.connect(peer, ClientConfig::default().with_events("off")).unwrap();
        net.login(i, user, secret, method);
        if user == "nosecret" {
            // A user without any secret line can never log in; no security event says why.
            net.advance(1_000);
            assert_eq!(
                net.take_log(i),
                ["banner", "login failed: Authentication failed", "closed LoginFailed"]
            );
            assert!(!net.security.iter().any(|s| s == "SuccessfulAuth"));
            continue;
        }
        match failure {
            None => {
                assert_eq!(net.take_log(i), ["banner", "logged in"], "{user} from {peer}");
                assert!(net.security.contains(&"SuccessfulAuth".to_string()));
            }
            Some(event) => {
                assert_eq!(net.take_log(i), ["banner"], "nothing before the delay: {user}");
                net.advance(999);
                assert!(net.take_log(i).is_empty(), "still nothing at 999 ms");
                net.advance(1);
                assert_eq!(
                    net.take_log(i),
                    ["login failed: Authentication failed", "closed LoginFailed"],
                    "{user} from {peer}"
                );
                assert!(net.peers[i].server_closed);
                assert!(net.security.contains(&event.to_string()), "{event}: {:?}", net.security);
            }
        }
    }
}

#[test]
fn pipelined_actions_are_each_answered_to_their_own_action_id() {
    let mut net = Net::new();
    let i = logged_in(&mut net, "admin", "s3cret", ClientConfig::default().with_events("off"));
    let mut expected = BTreeMap::new();
    for n in 0..25 {
        let (action, answer) = match n % 3 {
            0 => (
                Action::new("Getvar").with("Variable", format!("V{n}")),
                format!("Success value of V{n}"),
            ),
            1 => (Action::new("Ping"), "Success Pong".to_string()),
            _ => (
                Action::new("UserEvent").with("UserEvent", format!("U{n}")),
                "Success Done".to_string(),
            ),
        };
        let id = net.peers[i].client.send_action(&action, net.now).unwrap();
        expected.insert(id.to_string(), answer);
    }
    net.run();
    let log = net.take_log(i);
    assert_eq!(log.len(), 25, "{log:?}");
    for line in log {
        let (id, rest) = line.split_once(' ').unwrap();
        assert_eq!(expected.remove(id).as_deref(), Some(rest), "{line}");
    }
    assert!(expected.is_empty());
}

#[test]
fn lists_stream_items_to_their_action() {
    let mut net = Net::new();
    let i = logged_in(&mut net, "admin", "s3cret", ClientConfig::default().with_events("off"));
    let a = net.send(i, Action::new("Status"));
    let b = net.send(i, Action::new("Getvar").with("Variable", "X"));
    assert_eq!(
        net.take_log(i),
        [
            format!("{a} list start"),
            format!("{a} item PJSIP/1-0001"),
            format!("{a} item PJSIP/2-0002"),
            format!("{a} item PJSIP/3-0003"),
            format!("{a} complete 3"),
            format!("{b} Success value of X"),
        ]
    );
}

#[test]
fn unanswered_action_times_out_then_keepalive_detects_the_stuck_server() {
    let mut net = Net::new();
    net.ignore = &["QueueStatus"];
    let keepalive =
        Keepalive { interval: Duration::from_secs(10), timeout: Duration::from_secs(3) };
    let config = ClientConfig::default()
        .with_events("off")
        .with_action_timeout(Some(Duration::from_secs(5)))
        .with_keepalive(Some(keepalive));
    let i = logged_in(&mut net, "admin", "s3cret", config);

    // Idle with a healthy server: the keepalive Ping is answered and reported to nobody.
    net.advance(10_000);
    assert!(net.take_log(i).is_empty());
    net.advance(10_000);
    assert!(net.take_log(i).is_empty());
    assert_eq!(net.peers[i].client.state(), ClientState::Ready);

    // The application never answers QueueStatus: the action times out after 5 s...
    let q = net.send(i, Action::new("QueueStatus"));
    net.advance(4_999);
    assert!(net.take_log(i).is_empty());
    net.advance(1);
    assert_eq!(net.take_log(i), [format!("{q} timed out")]);
    // ...and the server session, still busy with it, cannot answer the next keepalive either.
    net.advance(10_000);
    net.advance(3_000);
    assert_eq!(net.take_log(i), ["closed KeepaliveTimeout"]);
    assert_eq!(net.app_saw, ["admin:QueueStatus"]);
}

#[test]
fn authlimit_refuses_without_banner_and_frees_a_slot_at_login() {
    let mut net = Net::new();
    let a = net.connect("127.0.0.1:1", ClientConfig::default()).unwrap();
    let _b = net.connect("127.0.0.1:2", ClientConfig::default()).unwrap();
    let _c = net.connect("127.0.0.1:3", ClientConfig::default()).unwrap();
    assert!(net.connect("127.0.0.1:4", ClientConfig::default()).is_none(), "authlimit = 3");
    net.login(a, "admin", "s3cret", LoginMethod::Plain);
    assert!(net.take_log(a).contains(&"logged in".to_string()));
    assert!(net.connect("127.0.0.1:5", ClientConfig::default()).is_some(), "a slot was freed");
}

#[test]
fn authtimeout_closes_idle_unauthenticated_sessions_silently() {
    let mut net = Net::new();
    let idle = net.connect("127.0.0.1:1", ClientConfig::default()).unwrap();
    let busy = net.connect("127.0.0.1:2", ClientConfig::default()).unwrap();
    net.login(busy, "admin", "s3cret", LoginMethod::Plain);
    net.run();
    assert_eq!(net.take_log(idle), ["banner"]);
    net.advance(4_999);
    assert!(!net.peers[idle].server_closed);
    net.advance(1);
    assert!(net.peers[idle].server_closed);
    assert_eq!(net.take_log(idle), ["closed PeerClosed"], "no bytes before the close");
    assert!(!net.peers[busy].server_closed, "logged-in sessions have no idle timeout");
}

#[test]
fn allowmultiplelogin_no_refuses_a_second_login_after_the_delay() {
    let mut net = Net::new();
    let first = logged_in(&mut net, "solo", "one", ClientConfig::default());
    let second = net.connect("127.0.0.1:2", ClientConfig::default()).unwrap();
    net.login(second, "SOLO", "one", LoginMethod::Plain);
    assert_eq!(net.take_log(second), ["banner"]);
    net.advance(1_000);
    assert_eq!(net.take_log(second), ["login failed: Login Already In Use", "closed LoginFailed"]);
    assert!(net.security.contains(&"SessionLimit".to_string()));
    assert!(!net.peers[first].server_closed);
    // Other users may log in as often as they like.
    logged_in(&mut net, "admin", "s3cret", ClientConfig::default());
    logged_in(&mut net, "admin", "s3cret", ClientConfig::default());
}

#[test]
fn refused_actions_never_reach_the_application() {
    let mut net = Net::new();
    let r = logged_in(&mut net, "reader", "r3ad", ClientConfig::default().with_events("off"));
    let l = logged_in(&mut net, "limited", "lim", ClientConfig::default().with_events("off"));
    let a = net.send(r, Action::new("Originate").with("Channel", "Local/1@x").with("Exten", "1"));
    let b = net.send(r, Action::new("Ping"));
    let c = net.send(
        l,
        Action::new("Originate")
            .with("Channel", "Local/1@x")
            .with("Application", "System")
            .with("Data", "id"),
    );
    let d = net.send(l, Action::new("Getvar").with("Variable", "SHELL(id)"));
    let e = net.send(l, Action::new("Getvar").with("Variable", "CALLERID(num)"));
    let r_log = net.take_log(r);
    assert_eq!(r_log[0], format!("{a} Error Permission denied"));
    assert!(r_log[1].starts_with(&format!("{b} Success Pong")));
    assert_eq!(
        net.take_log(l),
        [
            format!("{c} Error Originate Access Forbidden: app or data blacklisted"),
            format!("{d} Error GetVar Access Forbidden: Variable"),
            format!("{e} Success value of CALLERID(num)"),
        ]
    );
    assert_eq!(net.app_saw, ["limited:Getvar"], "only the allowed Getvar reached the app");
    assert!(net.security.contains(&"RequestNotAllowed".to_string()));
}

#[test]
fn events_fan_out_by_read_rights_all_bits_and_filters() {
    let mut net = Net::new();
    let users = [("admin", "s3cret"), ("reader", "r3ad"), ("sys", "sys"), ("filtered", "f1lt")];
    let peers: Vec<usize> =
        users.iter().map(|(u, s)| logged_in(&mut net, u, s, ClientConfig::default())).collect();
    // Drop what login produced (FullyBooted, security events of each other's logins).
    net.run();
    for &i in &peers {
        net.take_log(i);
    }
    let publish = |net: &mut Net, name: &str, category: Privilege| {
        let mut e = PublishedEvent::new(name, category).unwrap();
        e.header("Channel", "PJSIP/100-0000001a").unwrap();
        net.server.publish(&e)
    };
    assert_eq!(
        publish(&mut net, "Newchannel", Privilege::CALL),
        2,
        "admin, reader (filtered: name filter)"
    );
    assert_eq!(publish(&mut net, "Cdr", Privilege::CDR), 2, "admin, reader");
    assert_eq!(publish(&mut net, "Reload", Privilege::SYSTEM), 2, "admin, sys");
    assert_eq!(publish(&mut net, "Hangup", Privilege::CALL), 3, "admin, reader, filtered");
    let both = Privilege::SYSTEM | Privilege::USER;
    assert_eq!(publish(&mut net, "VoicemailPasswordChange", both), 1, "only admin has both bits");
    net.run();
    let logs: Vec<Vec<String>> = peers.iter().map(|&i| net.take_log(i)).collect();
    let ev = |names: &[&str]| names.iter().map(|n| format!("event {n}")).collect::<Vec<_>>();
    assert_eq!(logs[0], ev(&["Newchannel", "Cdr", "Reload", "Hangup", "VoicemailPasswordChange"]));
    assert_eq!(logs[1], ev(&["Newchannel", "Cdr", "Hangup"]));
    assert_eq!(logs[2], ev(&["Reload"]));
    assert_eq!(logs[3], ev(&["Hangup"]));
}

#[test]
fn logoff_answers_goodbye_and_both_sides_close() {
    let mut net = Net::new();
    let i = logged_in(&mut net, "admin", "s3cret", ClientConfig::default().with_events("off"));
    let pending = net.peers[i].client.send_action(&Action::new("Ping"), net.now).unwrap();
    net.peers[i].client.logoff().unwrap();
    net.run();
    let log = net.take_log(i);
    assert!(log[0].starts_with(&format!("{pending} Success Pong")), "{log:?}");
    assert!(log[1].ends_with("Goodbye Thanks for all the fish."), "{log:?}");
    assert_eq!(log[2], "closed Logoff");
    assert!(net.peers[i].server_closed);
}
