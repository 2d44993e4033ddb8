//! libami's client against libami's server, in memory on a virtual clock (quinn's `Pair`).

use ami_proto::client::{ClientConfig, ClientEvent, ClientSession, LoginMethod};
use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use ami_proto::encode::{Action, Event, Response};
use ami_proto::perm::Privilege;
use ami_proto::server::{PublishedEvent, Server, ServerEvent, ServerOptions, SessionId};
use ami_proto::time::{Duration, Instant};

const CONF: &str = "[general]\nenabled = yes\n[admin]\nsecret = s3cret\nread = all\nwrite = all\n";

struct Pair {
    server: Server,
    client: ClientSession,
    id: SessionId,
    now: Instant,
    log: Vec<String>,
    server_closed: bool,
}

impl Pair {
    fn new(config: ClientConfig) -> Pair {
        let conf = parse_manager_conf(CONF, &mut NoIncludes, &ConfigOptions::default()).unwrap();
        let now = Instant::from_millis(1_000);
        let mut server = Server::new(conf, ServerOptions::default(), Box::new(|| 123_456_789u32));
        let id = server.accept("127.0.0.1:50000".parse().unwrap(), now).unwrap();
        let client = ClientSession::new(config, now);
        Pair { server, client, id, now, log: Vec::new(), server_closed: false }
    }

    /// The application behind the server.
    fn serve(&mut self) {
        while let Some((sid, event)) = self.server.poll_event() {
            match event {
                ServerEvent::ActionReceived { action } => match action.name() {
                    "Getvar" => {
                        let name = action.get("Variable").unwrap_or_default().to_vec();
                        let r = Response::new("Success").with("Variable", name).with("Value", "42");
                        self.server.respond(sid, &action, &r).unwrap();
                    }
                    "CoreShowChannels" => {
                        self.server.list_start(sid, &action, "Channels will follow").unwrap();
                        for chan in ["PJSIP/1-0001", "PJSIP/2-0002"] {
                            let item = Event::new("CoreShowChannel").with("Channel", chan);
                            self.server.list_item(sid, &action, &item).unwrap();
                        }
                        self.server
                            .list_complete(sid, &action, "CoreShowChannelsComplete", 2, &[])
                            .unwrap();
                    }
                    "Command" => self
                        .server
                        .command_output(sid, &action, true, b"line 1\n\nline 3\n")
                        .unwrap(),
                    other => self.server.error(sid, &action, format!("not here: {other}")).unwrap(),
                },
                ServerEvent::Disconnect { .. } => self.server_closed = true,
                _ => {}
            }
        }
    }

    /// Moves bytes both ways until nothing moves.
    fn run(&mut self) {
        loop {
            self.serve();
            let to_client = self.server.poll_transmit(self.id).to_vec();
            self.server.consume_transmit(self.id, to_client.len());
            let to_server = self.client.poll_transmit().to_vec();
            self.client.consume_transmit(to_server.len());
            if !to_client.is_empty() {
                self.client.handle_input(&to_client);
            } else if self.server_closed
                && self.client.state() != ami_proto::client::ClientState::Closed
            {
                self.client.handle_eof();
            }
            if !to_server.is_empty() {
                self.server.handle_input(self.id, &to_server, self.now);
            }
            let mut any = !to_client.is_empty() || !to_server.is_empty();
            while let Some(event) = self.client.poll_event() {
                any = true;
                self.log.push(summary(&event));
            }
            if !any {
                return;
            }
        }
    }

    fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.server.handle_timeout(self.now);
        self.client.handle_timeout(self.now);
        self.run();
    }
}

fn summary(event: &ClientEvent<'_>) -> String {
    let text = |m: Option<&[u8]>| String::from_utf8_lossy(m.unwrap_or_default()).into_owned();
    match event {
        ClientEvent::Banner { version, .. } => format!("banner {}", text(Some(version))),
        ClientEvent::LoggedIn { .. } => "logged in".into(),
        ClientEvent::LoginFailed { message, .. } => {
            format!("login failed: {}", text(message.get("Message")))
        }
        ClientEvent::Response { message, .. } => format!(
            "response {} {}",
            text(message.response()),
            text(message.get("Value").or(message.get("Ping")))
        ),
        ClientEvent::ListStart { .. } => "list start".into(),
        ClientEvent::ListItem { message, .. } => format!("item {}", text(message.get("Channel"))),
        ClientEvent::ListComplete { message, .. } => {
            format!("complete {}", text(message.get("ListItems")))
        }
        ClientEvent::CommandOutput { output, .. } => {
            let lines: Vec<_> =
                output.lines().map(|l| String::from_utf8_lossy(l).into_owned()).collect();
            format!("output {lines:?}")
        }
        ClientEvent::Event(m) => format!("event {}", text(m.event())),
        ClientEvent::Closed { reason, .. } => format!("closed {reason:?}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn md5_login_pipelined_actions_lists_command_output_events_and_logoff() {
    let mut p = Pair::new(ClientConfig::default().with_events("call"));
    p.client.login("admin", "s3cret", LoginMethod::Md5).unwrap();
    p.run();
    assert_eq!(p.log, ["banner 11.0.0", "logged in"]);
    p.log.clear();

    let now = p.now;
    p.client.send_action(&Action::new("Getvar").with("Variable", "X"), now).unwrap();
    p.client.send_action(&Action::new("CoreShowChannels"), now).unwrap();
    p.client.send_action(&Action::new("Command").with("Command", "core show x"), now).unwrap();
    p.client.send_action(&Action::new("Ping"), now).unwrap();
    p.run();
    let ping = p.log.pop().unwrap();
    assert!(ping.starts_with("response Success Pong"), "{ping}");
    assert_eq!(
        p.log,
        [
            "response Success 42",
            "list start",
            "item PJSIP/1-0001",
            "item PJSIP/2-0002",
            "complete 2",
            r#"output ["line 1", "", "line 3"]"#,
        ]
    );
    p.log.clear();

    let e = PublishedEvent::new("Newchannel", Privilege::CALL).unwrap();
    assert_eq!(p.server.publish(&e), 1);
    let e = PublishedEvent::new("Reload", Privilege::SYSTEM).unwrap();
    assert_eq!(p.server.publish(&e), 0, "the client asked for call events only");
    p.run();
    assert_eq!(p.log, ["event Newchannel"]);
    p.log.clear();

    p.client.logoff().unwrap();
    p.run();
    assert_eq!(p.log, ["response Goodbye ", "closed Logoff"]);
    assert!(p.server_closed);
}

#[test]
fn failed_login_is_answered_after_the_delay_and_closes_both_sides() {
    let mut p = Pair::new(ClientConfig::default());
    p.client.login("admin", "wrong", LoginMethod::Plain).unwrap();
    p.run();
    assert_eq!(p.log, ["banner 11.0.0"]);
    p.advance(999);
    assert_eq!(p.log.len(), 1);
    p.advance(1);
    assert_eq!(p.log[1..], ["login failed: Authentication failed", "closed LoginFailed"]);
    assert!(p.server_closed);
}
