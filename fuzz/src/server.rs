//! `server_session`: a program of operations against a [`Server`] with several users of
//! different rights.
//!
//! Each operation is a byte (`% 11`) followed by its arguments (`s` is a session index byte):
//!
//! | op | meaning | arguments |
//! |----|---------|-----------|
//! | 0 | accept a connection | peer byte |
//! | 1 | client bytes | s, u16 length, bytes |
//! | 2 | a canned Login | s, user byte, flags byte |
//! | 3 | a canned action | s, action byte, field count byte, per field: name byte, value byte |
//! | 4 | publish an event | name byte, 3 category bytes, short value |
//! | 5 | `handle_timeout` | u16: milliseconds × 16 to advance |
//! | 6 | `handle_eof` | s |
//! | 7 | `remove` | s |
//! | 8 | `consume_transmit` | s, u16 |
//! | 9 | answer the oldest action the application holds | kind byte |
//! | 10 | toggle shutting down | |
//!
//! SECURITY INVARIANTS, checked after every operation: every action handed to the
//! application comes from a logged-in session whose user may run it (write classes and the
//! escalation checks of spec §4.7); every event written to a session (decoded from its
//! `poll_transmit` with a client-role decoder) is one its user may read, by its `Privilege`
//! header and by the category it was published with. Queued output is never taken back, but
//! for the whole queue of a session closed for not reading (`OutputOverflow`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::OnceLock;

use ami_proto::authority::{
    action_authority, check_command, check_getvar, check_originate, check_status_variables,
};
use ami_proto::config::{ConfigOptions, ManagerConfig, NoIncludes, parse_manager_conf};
use ami_proto::encode;
use ami_proto::perm::{Privilege, may_receive, may_run};
use ami_proto::server::{ActionRef, DisconnectReason, PublishedEvent};
use ami_proto::time::{Duration, Instant};
use ami_proto::{Decoder, Frame, Role, Server, ServerEvent, ServerOptions, SessionId};

use crate::input::Input;

/// The users: (name, secret).
const USERS: [(&str, &str); 7] = [
    ("admin", "adm1n"),
    ("monitor", "m0n"),
    ("caller", "c4ll"),
    ("operator", "0per"),
    ("nobody", "n0"),
    ("local", "l0c"),
    ("ghost", "x"),
];

const MANAGER_CONF: &str = "\
[general]
enabled = yes
authlimit = 4
authtimeout = 5
timestampevents = yes
disabledevents = VarSet

[admin]
secret = adm1n
read = all
write = all

[monitor]
secret = m0n
read = call,agent,reporting
write = reporting
eventfilter = !Event: Newexten

[caller]
secret = c4ll
read = call
write = call,originate
eventfilter(action(include),name(Hangup)) =
eventfilter(action(include),name(Newchannel)) =

[operator]
secret = 0per
read = system,command,user
write = command,user,config
allowmultiplelogin = no

[nobody]
secret = n0
read = none
write = none

[local]
secret = l0c
read = security,system,dtmf
write = system,agi
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.0/8
";

const PEERS: [&str; 5] =
    ["127.0.0.1:40000", "10.1.2.3:5000", "192.0.2.7:1234", "[::1]:4000", "127.0.0.2:1"];

const ACTIONS: [&str; 22] = [
    "Ping",
    "Status",
    "Command",
    "Originate",
    "Getvar",
    "Setvar",
    "Events",
    "Filter",
    "WaitEvent",
    "ListCommands",
    "CoreShowChannels",
    "Logoff",
    "Challenge",
    "UserEvent",
    "Hangup",
    "Redirect",
    "QueueStatus",
    "GetConfig",
    "UpdateConfig",
    "Agents",
    "DBGet",
    "NoSuchAction",
];

/// Field names and values that reach the escalation checks.
const FIELDS: [(&str, &str); 20] = [
    ("ActionID", "f1"),
    ("Application", "System"),
    ("Application", "Playback"),
    ("Application", "queue"),
    ("Data", "SHELL(id)"),
    ("Data", "q,,,,,agi"),
    ("Data", "hello"),
    ("Variable", "SHELL(id)"),
    ("Variable", "CHANNEL"),
    ("Variables", "EVAL(x)"),
    ("Command", "module load x"),
    ("Command", " module  unload  y"),
    ("Command", "core show version"),
    ("EventMask", "on"),
    ("EventMask", "call"),
    ("Operation", "Add"),
    ("Filter", "Event: Hangup"),
    ("Timeout", "1"),
    ("Channel", "PJSIP/100"),
    ("Async", "true"),
];

const EVENTS: [&str; 10] = [
    "Newchannel",
    "Hangup",
    "Newexten",
    "AgentCalled",
    "UserEvent",
    "Cdr",
    "VarSet",
    "DTMFBegin",
    "FuzzEvent",
    "ConfigReload",
];

struct Peer {
    id: SessionId,
    decoder: Decoder,
    /// How many bytes of the current `poll_transmit` were already decoded.
    fed: usize,
}

struct World {
    server: Server,
    config: ManagerConfig,
    peers: Vec<Peer>,
    held: VecDeque<(SessionId, ActionRef)>,
    now: u64,
    /// Category of every published event, by name (the last one published).
    published: HashMap<Vec<u8>, Privilege>,
    shutting_down: bool,
}

fn privilege_header(value: &[u8]) -> Privilege {
    let mut mask = Privilege::NONE;
    for label in value.split(|&b| b == b',') {
        let label = std::str::from_utf8(label).unwrap_or_default();
        if matches!(label, "all" | "<none>" | "") {
            continue; // `all` ends every rendering; a category of 0 renders `<none>`
        }
        let class = Privilege::from_label(label);
        assert!(class.is_some(), "unknown class {label:?} in a Privilege header");
        mask |= class.unwrap_or(Privilege::NONE);
    }
    mask
}

impl World {
    fn peer(&self, b: u8) -> Option<SessionId> {
        match self.peers.len() {
            0 => None,
            n => Some(self.peers[usize::from(b) % n].id),
        }
    }

    fn user_rights(&self, id: SessionId) -> Option<(Privilege, Privilege)> {
        let info = self.server.session_info(id)?;
        if !info.authenticated {
            return None;
        }
        let user = self.config.user(&info.username).expect("a logged-in user is configured");
        assert_eq!((info.read, info.write), (user.read, user.write), "session rights differ");
        assert!(user.read.contains(info.send_events), "event mask beyond read rights");
        Some((user.read, user.write))
    }

    /// The application's side of the run loop, with the action invariant.
    fn drain_events(&mut self) {
        while let Some((sid, event)) = self.server.poll_event() {
            match event {
                ServerEvent::ActionReceived { action } => {
                    let (_, write) = self
                        .user_rights(sid)
                        .expect("an action handed over for a session that is not logged in");
                    assert_eq!(action.session(), sid);
                    let name = action.name();
                    let auth = action_authority(name.as_bytes())
                        .expect("a handed-over action is in the catalog");
                    assert_eq!(auth, action.info().authority);
                    assert!(may_run(write, auth), "{name} handed over without write rights");
                    let esc = match name {
                        "Originate" => {
                            check_originate(write, action.get("Application"), action.get("Data"))
                        }
                        "Getvar" => check_getvar(write, action.get("Variable").unwrap_or_default()),
                        "Status" => check_status_variables(
                            write,
                            action.get("Variables").unwrap_or_default(),
                        ),
                        "Command" => check_command(action.get("Command").unwrap_or_default()),
                        _ => Ok(()),
                    };
                    assert!(esc.is_ok(), "{name} handed over past an escalation check");
                    assert!(
                        !matches!(name, "Login" | "Logoff" | "Challenge" | "Filter" | "Events"),
                        "the server answers {name} itself"
                    );
                    self.held.push_back((sid, action));
                }
                ServerEvent::Security(s) => {
                    let _ = s.body();
                }
                ServerEvent::Disconnect { reason: DisconnectReason::OutputOverflow } => {
                    // A session that does not read is closed with its queue discarded
                    // (`Server::room`): nothing of it will be sent, so the peer's view starts
                    // over, and the output must be gone whole, never cut.
                    assert!(self.server.poll_transmit(sid).is_empty(), "overflow left output");
                    if let Some(p) = self.peers.iter_mut().find(|p| p.id == sid) {
                        (p.decoder, p.fed) = (Decoder::new(Role::Client), 0);
                    }
                }
                _ => {}
            }
        }
    }

    /// Decodes every session's new output, with the event invariant.
    fn check_output(&mut self) {
        for i in 0..self.peers.len() {
            let id = self.peers[i].id;
            let out = self.server.poll_transmit(id);
            let peer = &mut self.peers[i];
            assert!(out.len() >= peer.fed, "queued output was taken back");
            peer.decoder.feed(&out[peer.fed..]);
            peer.fed = out.len();
            let rights = self.user_rights(id);
            let peer = &mut self.peers[i];
            while let Some(frame) = peer.decoder.next_frame() {
                let m = match frame {
                    Ok(Frame::Message(m)) => m,
                    Ok(Frame::Banner(_)) => continue,
                    Err(e) => panic!("the server wrote a malformed message: {e:?}"),
                };
                let Some(name) = m.event() else { continue };
                let Some(privilege) = m.get("Privilege") else { continue };
                let (read, _) = rights.unwrap_or_else(|| panic!("an event before login: {m:?}"));
                let header = privilege_header(privilege);
                assert!(read.contains(header), "event {m:?} beyond read rights {read}");
                if let Some(&cat) = self.published.get(name)
                    && cat.to_string().as_bytes() == privilege
                {
                    assert!(may_receive(read, cat), "event {m:?} beyond read rights {read}");
                }
            }
        }
    }

    fn answer(&mut self, kind: u8) {
        let Some((sid, action)) = self.held.pop_front() else { return };
        let _ = match kind % 6 {
            0 => self.server.ack(sid, &action, "Done"),
            1 => self.server.error(sid, &action, "No such channel"),
            2 => {
                let r = encode::Response::new("Success").with("Value", "42");
                self.server.respond(sid, &action, &r)
            }
            3 => {
                let _ = self.server.list_start(sid, &action, "Channels will follow");
                let item = encode::Event::new("CoreShowChannel").with("Channel", "PJSIP/1");
                let _ = self.server.list_item(sid, &action, &item);
                self.server.list_complete(sid, &action, "CoreShowChannelsComplete", 1, &[])
            }
            4 => self.server.command_output(sid, &action, true, b"line 1\nline 2\n"),
            _ => {
                // Not answered now: back to the end of the queue.
                self.held.push_back((sid, action));
                Ok(())
            }
        };
    }
}

/// Runs a `server_session` program.
pub fn server_session(data: &[u8]) {
    // Loaded once: compiling the filters' regexes on every run would dominate the time.
    static CONFIG: OnceLock<ManagerConfig> = OnceLock::new();
    let config = CONFIG
        .get_or_init(|| {
            parse_manager_conf(MANAGER_CONF, &mut NoIncludes, &ConfigOptions::default())
                .expect("the fuzz manager.conf loads")
        })
        .clone();
    let options = ServerOptions {
        login_failure_delay: Duration::from_millis(500),
        max_outbound: 16 * 1024,
        ..ServerOptions::default()
    };
    let mut seq = 7u32;
    let rng = Box::new(move || {
        seq = seq.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        seq
    });
    let mut w = World {
        server: Server::new(config.clone(), options, rng),
        config,
        peers: Vec::new(),
        held: VecDeque::new(),
        now: 0,
        published: HashMap::new(),
        shutting_down: false,
    };
    let mut input = Input::new(data);
    let mut ops = 0;
    while !input.is_empty() && ops < 512 {
        ops += 1;
        let now = Instant::from_millis(w.now);
        match input.byte() % 11 {
            0 => {
                let peer: SocketAddr = input.pick(&PEERS).parse().expect("valid peer");
                if let Ok(id) = w.server.accept(peer, now)
                    && w.peers.len() < 16
                {
                    w.peers.push(Peer { id, decoder: Decoder::new(Role::Client), fed: 0 });
                }
            }
            1 => {
                let s = input.byte();
                let bytes = input.blob();
                if let Some(id) = w.peer(s) {
                    w.server.handle_input(id, bytes, now);
                }
            }
            2 => {
                let s = input.byte();
                let (user, secret) = input.pick(&USERS);
                let flags = input.byte();
                let mut login = encode::Action::new("Login").with("Username", user);
                login.push("Secret", if flags & 1 == 0 { secret } else { "wrong" });
                if flags & 2 != 0 {
                    login.push(
                        "Events",
                        ["off", "on", "call", "system,security", "1"][usize::from(flags >> 2) % 5],
                    );
                }
                login.push("ActionID", "L1");
                if let (Some(id), Ok(bytes)) = (w.peer(s), login.to_bytes()) {
                    w.server.handle_input(id, &bytes, now);
                }
            }
            3 => {
                let s = input.byte();
                let mut action = encode::Action::new(input.pick(&ACTIONS));
                for _ in 0..input.byte() % 5 {
                    let (n, v) = input.pick(&FIELDS);
                    action.push(n, v);
                }
                if let (Some(id), Ok(bytes)) = (w.peer(s), action.to_bytes()) {
                    w.server.handle_input(id, &bytes, now);
                }
            }
            4 => {
                let name = input.pick(&EVENTS);
                let bits = u32::from_le_bytes([input.byte(), input.byte(), input.byte(), 0]);
                let category = Privilege::from_bits(bits).intersection(Privilege::ALL);
                let value = input.short();
                if let Ok(mut e) = PublishedEvent::new(name, category) {
                    let _ = e.header("Channel", value);
                    w.published.insert(name.as_bytes().to_vec(), category);
                    w.server.publish(&e);
                }
            }
            5 => {
                w.now += u64::from(input.u16()) * 16;
                w.server.handle_timeout(Instant::from_millis(w.now));
            }
            6 => {
                if let Some(id) = w.peer(input.byte()) {
                    w.server.handle_eof(id, now);
                }
            }
            7 => {
                let b = input.byte();
                if !w.peers.is_empty() {
                    let i = usize::from(b) % w.peers.len();
                    let id = w.peers.remove(i).id;
                    assert!(w.server.remove(id));
                    assert!(w.server.poll_transmit(id).is_empty());
                }
            }
            8 => {
                let s = input.byte();
                let n = usize::from(input.u16());
                if let Some(i) = (!w.peers.is_empty()).then(|| usize::from(s) % w.peers.len()) {
                    let id = w.peers[i].id;
                    let n = n.min(w.server.poll_transmit(id).len());
                    w.server.consume_transmit(id, n);
                    w.peers[i].fed -= n;
                }
            }
            9 => {
                let kind = input.byte();
                w.answer(kind);
            }
            _ => {
                w.shutting_down = !w.shutting_down;
                w.server.set_shutting_down(w.shutting_down);
            }
        }
        w.drain_events();
        w.check_output();
    }
}
