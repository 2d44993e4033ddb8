//! `client_session`: a program of operations against a [`ClientSession`].
//!
//! Each operation is a byte (`% 9`) followed by its arguments:
//!
//! | op | meaning | arguments |
//! |----|---------|-----------|
//! | 0 | server bytes | u16 length, bytes |
//! | 1 | `send_action` | action byte, field count byte, per field: name byte, short value; flag byte (bit 0: explicit ActionID, short) |
//! | 2 | `login` | byte (bit 0: MD5), short username, short secret |
//! | 3 | `logoff` | |
//! | 4 | `handle_timeout` | u16: milliseconds × 16 to advance |
//! | 5 | `handle_eof` | |
//! | 6 | `consume_transmit` | u16 |
//! | 7 | a canned server answer to an ActionID sent so far | index byte, template byte |
//! | 8 | banner | |
//!
//! The first byte configures the session (timeouts, keepalive, limits). Invariants after every
//! operation: no panic; every accepted action gets exactly one final event, no event names
//! an action that is not pending, nothing follows `Closed` and nothing is pending after it;
//! a refused command queues nothing; the bytes to send are always whole actions.

use std::collections::HashSet;

use ami_proto::client::{Keepalive, LoginMethod};
use ami_proto::encode::Action;
use ami_proto::time::{Duration, Instant};
use ami_proto::{
    ClientConfig, ClientEvent, ClientSession, HeaderSlot, Role, Status, parse_message,
};

use crate::input::Input;

const ACTIONS: [&str; 16] = [
    "Ping",
    "Status",
    "Command",
    "Originate",
    "Login",
    "Logoff",
    "Challenge",
    "Events",
    "CoreShowChannels",
    "QueueStatus",
    "Getvar",
    "Setvar",
    "WaitEvent",
    "ListCommands",
    "Filter",
    "UserEvent",
];

const FIELDS: [&str; 12] = [
    "ActionID",
    "Channel",
    "Async",
    "Command",
    "Variable",
    "Application",
    "Data",
    "Exten",
    "Context",
    "Priority",
    "Username",
    "Secret",
];

const TEMPLATES: [&str; 10] = [
    "Response: Success\r\nActionID: {id}\r\nPing: Pong\r\n\r\n",
    "Response: Error\r\nActionID: {id}\r\nMessage: Permission denied\r\n\r\n",
    "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\nEvent: CoreShowChannel\r\nActionID: {id}\r\nChannel: PJSIP/100-0001\r\n\r\nEvent: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 1\r\n\r\n",
    "Response: Success\r\nActionID: {id}\r\nMessage: Command output follows\r\nOutput: Asterisk 22.0.0\r\n\r\n",
    "Response: Follows\r\nPrivilege: Command\r\nActionID: {id}\r\nline one\r\n\r\nline two\r\n--END COMMAND--\r\n\r\n",
    "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n",
    "Response: Success\r\nActionID: {id}\r\nChallenge: 840157136\r\n\r\n",
    "Response: Success\r\nActionID: {id}\r\nMessage: Originate successfully queued\r\n\r\nEvent: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {id}\r\nResponse: Success\r\n\r\n",
    "Response: Goodbye\r\nActionID: {id}\r\nMessage: Thanks for all the fish.\r\n\r\n",
    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100\r\n\r\n",
];

struct State {
    session: ClientSession,
    now: u64,
    /// ActionIDs accepted and not yet given their final event.
    pending: HashSet<Vec<u8>>,
    closed: bool,
    /// Bytes of `poll_transmit` reported as sent, from the last whole-message boundary.
    sent_tail: Vec<u8>,
    /// ActionIDs seen on the wire, for the canned answers.
    wire_ids: Vec<Vec<u8>>,
}

impl State {
    fn drain(&mut self) {
        while let Some(ev) = self.session.poll_event() {
            assert!(!self.closed, "an event after Closed: {ev:?}");
            let id = ev.action_id().map(|a| a.as_bytes().to_vec());
            if ev.is_final() {
                let id = id.expect("a final event names its action");
                assert!(self.pending.remove(&id), "a final event for a non-pending action {ev:?}");
            } else if let Some(id) = id {
                assert!(self.pending.contains(&id), "an event for a non-pending action {ev:?}");
            }
            if let ClientEvent::Closed { .. } = ev {
                self.closed = true;
                assert!(self.pending.is_empty(), "Closed with actions pending: {:?}", self.pending);
            }
        }
        for id in &self.pending {
            assert!(self.session.is_pending(id), "the session forgot an action");
        }
        assert_eq!(self.session.pending_actions(), self.pending.len());
        self.check_transmit();
    }

    /// The bytes sent so far plus those waiting are whole actions.
    fn check_transmit(&mut self) {
        if self.closed {
            // The connection is over: what was not sent never will be.
            self.sent_tail.clear();
            return;
        }
        let mut all = self.sent_tail.clone();
        all.extend_from_slice(self.session.poll_transmit());
        let mut slots = [HeaderSlot::EMPTY; 256];
        let mut rest = &all[..];
        while !rest.is_empty() {
            match parse_message(Role::Server, rest, &mut slots) {
                Ok(Status::Complete((n, m))) => {
                    assert!(m.action().is_some_and(|a| !a.is_empty()), "not an action: {m:?}");
                    if let Some(id) = m.get("ActionID")
                        && !self.wire_ids.iter().any(|w| w == id)
                        && self.wire_ids.len() < 64
                    {
                        self.wire_ids.push(id.to_vec());
                    }
                    rest = &rest[n..];
                }
                other => panic!("transmit is not whole actions: {other:?} in {rest:?}"),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        let t = self.session.poll_transmit();
        let n = n.min(t.len());
        self.sent_tail.extend_from_slice(&t[..n]);
        self.session.consume_transmit(n);
        // Keep only the unfinished message (whole ones were checked already).
        if let Some(end) = self.sent_tail.windows(4).rposition(|w| w == b"\r\n\r\n") {
            self.sent_tail.drain(..end + 4);
        }
    }
}

/// Runs a `client_session` program.
pub fn client_session(data: &[u8]) {
    let mut input = Input::new(data);
    let cfg_byte = input.byte();
    let mut config = ClientConfig::default();
    config.action_timeout = (cfg_byte & 1 != 0).then(|| Duration::from_millis(2_000));
    config.keepalive = (cfg_byte & 2 != 0).then(|| Keepalive {
        interval: Duration::from_millis(3_000),
        timeout: Duration::from_millis(1_000),
    });
    config.max_in_flight = 1 + usize::from(cfg_byte >> 2 & 7);
    if cfg_byte & 0x20 != 0 {
        config.max_transmit = 512;
    }
    if cfg_byte & 0x40 != 0 {
        config.events = Some(b"call,system".to_vec());
    }
    config.require_login = cfg_byte & 0x80 != 0;
    let mut st = State {
        session: ClientSession::new(config, Instant::from_millis(0)),
        now: 0,
        pending: HashSet::new(),
        closed: false,
        sent_tail: Vec::new(),
        wire_ids: Vec::new(),
    };
    let mut ops = 0;
    while !input.is_empty() && ops < 512 {
        ops += 1;
        let before = st.session.poll_transmit().to_vec();
        let accepted = match input.byte() % 9 {
            0 => {
                let bytes = input.blob();
                st.session.handle_input(bytes);
                None
            }
            1 => {
                let mut action = Action::new(input.pick(&ACTIONS));
                for _ in 0..input.byte() % 6 {
                    let name = input.pick(&FIELDS);
                    action.push(name, input.short());
                }
                if input.byte() & 1 != 0 {
                    action.push("ActionID", input.short());
                }
                let now = Instant::from_millis(st.now);
                Some(st.session.send_action(&action, now))
            }
            2 => {
                let method =
                    if input.byte() & 1 == 0 { LoginMethod::Plain } else { LoginMethod::Md5 };
                let (user, secret) = (input.short(), input.short());
                Some(st.session.login(user, secret, method))
            }
            3 => Some(st.session.logoff()),
            4 => {
                st.now += u64::from(input.u16()) * 16;
                st.session.handle_timeout(Instant::from_millis(st.now));
                None
            }
            5 => {
                st.session.handle_eof();
                None
            }
            6 => {
                let n = usize::from(input.u16());
                st.consume(n);
                None
            }
            7 => {
                let idx = usize::from(input.byte());
                let template = input.pick(&TEMPLATES);
                let id = match st.wire_ids.len() {
                    0 => b"1".to_vec(),
                    n => st.wire_ids[idx % n].clone(),
                };
                let text = template.replace("{id}", &String::from_utf8_lossy(&id));
                st.session.handle_input(text.as_bytes());
                None
            }
            _ => {
                st.session.handle_input(b"Asterisk Call Manager/11.0.0\r\n");
                None
            }
        };
        match accepted {
            Some(Ok(id)) => {
                let fresh = st.pending.insert(id.as_bytes().to_vec());
                assert!(fresh, "an accepted action reuses a pending ActionID {id:?}");
            }
            Some(Err(e)) => {
                let _ = e.to_string();
                assert_eq!(
                    st.session.poll_transmit(),
                    &before[..],
                    "a refused command queued bytes"
                );
            }
            None => {}
        }
        st.drain();
    }
    // The end of the connection ends every action.
    st.session.handle_eof();
    st.drain();
    assert!(st.pending.is_empty(), "actions left without a final event: {:?}", st.pending);
}
