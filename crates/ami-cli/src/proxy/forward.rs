//! What a downstream action becomes upstream: the headers Asterisk would read, under the
//! proxy's own ActionID, within Asterisk's line limits, with a synchronous `Originate` turned
//! into an async one.

use ami_proto::config::ast_true;
use ami_proto::encode::Action;
use ami_proto::frame::DecoderLimits;
use ami_proto::server::ActionRef;

/// What to do with a downstream action.
#[derive(Debug)]
pub enum Forward {
    /// Send this action; relay its answer.
    Relay(Action),
    /// A synchronous `Originate`, sent as an async one: the client is answered from the
    /// `OriginateResponse`, with what Asterisk answers a synchronous Originate.
    SyncOriginate(Action),
    /// Send nothing; answer the client `Response: Error` with this message.
    Refuse(String),
}

/// The most lines Asterisk reads of one action (`AST_MAX_MANAGER_HEADERS`).
const MAX_LINES: usize = DecoderLimits::ASTERISK_SERVER.max_headers;
/// The longest line Asterisk reads, line end included (`char buf[1025]` less the NUL).
const MAX_LINE: usize = DecoderLimits::ASTERISK_SERVER.max_line;

/// The upstream form of `action` with ActionID `upstream_id`.
///
/// * Header names with a blank at either end (`Application : System`) are left out: Asterisk
///   looks headers up by `Name:` exactly, so it would never read them either (the escalation
///   checks of the proxy's core saw the action the same way). `UserEvent` copies every line
///   into its event, so there the name is sent without the blanks.
/// * The client's `ActionID` is replaced by the proxy's; bare lines (no colon) mean nothing to
///   Asterisk and are left out.
/// * Each header is written `Name: value`; one that would no longer fit in a line Asterisk
///   reads (1024 bytes with its line end), or an action that would then have more lines than
///   it reads (128), is refused with a message that says so, rather than cut the way Asterisk
///   would cut it.
pub fn forward(action: &ActionRef, upstream_id: &str) -> Forward {
    let registered = action.is_registered();
    let name: &[u8] = if registered { action.name().as_bytes() } else { action.requested_name() };
    let is_user_event = action.name() == "UserEvent";
    let is_originate = action.name() == "Originate";
    let mut out = Action::new(name);
    out.push("ActionID", upstream_id);
    let mut sync_originate = is_originate;
    for h in action.message().iter() {
        if h.is_bare() || h.is(b"Action") || h.is(b"ActionID") {
            continue;
        }
        let raw_name = h.name();
        let trimmed = raw_name.trim_ascii();
        if trimmed.is_empty() || (trimmed.len() != raw_name.len() && !is_user_event) {
            continue;
        }
        if is_originate && trimmed.eq_ignore_ascii_case(b"Async") {
            if ast_true(&String::from_utf8_lossy(h.value())) {
                sync_originate = false;
            }
            continue; // written once, below
        }
        let line = trimmed.len() + 2 + h.value().len() + 2;
        if line > MAX_LINE {
            return Forward::Refuse(format!(
                "Header {} is too long: written as `Name: value` it takes {line} bytes, and \
                 Asterisk reads at most {MAX_LINE} per line. Shorten it.",
                String::from_utf8_lossy(trimmed)
            ));
        }
        out.push(trimmed, h.value());
    }
    if is_originate {
        // Always async upstream: a synchronous one would hold a whole upstream session until
        // the call is answered.
        out.push("Async", "true");
    }
    // The Action line and the headers (the blank line is not one).
    let lines = 1 + out.fields.len();
    if lines > MAX_LINES {
        return Forward::Refuse(format!(
            "Too many headers: with the proxy's ActionID the action has {lines} lines, and \
             Asterisk reads at most {MAX_LINES}."
        ));
    }
    if sync_originate { Forward::SyncOriginate(out) } else { Forward::Relay(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
    use ami_proto::server::{Server, ServerEvent, ServerOptions};
    use ami_proto::time::Instant;

    /// The ActionRef a core server hands on for `request` from an all-rights user.
    fn received(request: &[u8]) -> ActionRef {
        let conf = "[general]\nenabled = yes\n[u]\nsecret = s\nread = all\nwrite = all\n";
        let config = parse_manager_conf(conf, &mut NoIncludes, &ConfigOptions::default()).unwrap();
        let options = ServerOptions {
            unregistered_actions: ami_proto::server::UnregisteredActions::ForWriteAll,
            ..ServerOptions::default()
        };
        let mut server = Server::new(config, options, Box::new(|| 1u32));
        let now = Instant::from_millis(0);
        let id = server.accept("127.0.0.1:1".parse().unwrap(), now).unwrap();
        server.handle_input(id, b"Action: Login\r\nUsername: u\r\nSecret: s\r\n\r\n", now);
        server.handle_input(id, request, now);
        while let Some((_, ev)) = server.poll_event() {
            if let ServerEvent::ActionReceived { action } = ev {
                return action;
            }
        }
        panic!("not handed on: {}", String::from_utf8_lossy(server.poll_transmit(id)));
    }

    fn bytes(f: &Forward) -> String {
        match f {
            Forward::Relay(a) | Forward::SyncOriginate(a) => {
                String::from_utf8(a.to_bytes().unwrap()).unwrap()
            }
            Forward::Refuse(m) => format!("refused: {m}"),
        }
    }

    #[test]
    fn headers_as_asterisk_reads_them() {
        let f = forward(&received(b"Action: getvar\r\nActionID: mine\r\nVariable:X\r\nbare line\r\nVariable : Y\r\n\r\n"), "ami-proxy-1");
        assert_eq!(bytes(&f), "Action: Getvar\r\nActionID: ami-proxy-1\r\nVariable: X\r\n\r\n");
        // UserEvent copies every line: the name keeps its header, without the blanks.
        let f = forward(&received(b"Action: UserEvent\r\nUserEvent: U\r\nFoo : bar\r\n\r\n"), "p");
        assert_eq!(
            bytes(&f),
            "Action: UserEvent\r\nActionID: p\r\nUserEvent: U\r\nFoo: bar\r\n\r\n"
        );
        // An action the proxy does not know keeps its spelling.
        let f = forward(&received(b"Action: FancyModuleAction\r\nX: 1\r\n\r\n"), "p");
        assert_eq!(bytes(&f), "Action: FancyModuleAction\r\nActionID: p\r\nX: 1\r\n\r\n");
    }

    #[test]
    fn a_synchronous_originate_goes_async() {
        let f = forward(
            &received(b"Action: Originate\r\nChannel: Local/1@x\r\nExten: 1\r\nAsync: no\r\n\r\n"),
            "p",
        );
        assert!(matches!(f, Forward::SyncOriginate(_)));
        assert_eq!(
            bytes(&f),
            "Action: Originate\r\nActionID: p\r\nChannel: Local/1@x\r\nExten: 1\r\nAsync: true\r\n\r\n"
        );
        let f = forward(
            &received(b"Action: Originate\r\nChannel: Local/1@x\r\nExten: 1\r\nAsync: yes\r\n\r\n"),
            "p",
        );
        assert!(matches!(f, Forward::Relay(_)));
    }

    #[test]
    fn what_no_longer_fits_is_refused_in_plain_words() {
        // 1022 bytes without the space after the colon fit downstream; with it they do not.
        let value = "v".repeat(1022 - "Variable:".len());
        let request = format!("Action: Getvar\r\nVariable:{value}\r\n\r\n");
        let f = forward(&received(request.as_bytes()), "p");
        let text = bytes(&f);
        assert!(
            text.contains("refused: Header Variable is too long") && text.contains("1025 bytes"),
            "{text}"
        );
        assert!(!text.contains("blank at the edge"), "{text}");
        // 127 headers and no ActionID: with the proxy's, 129 lines.
        let mut request = "Action: UserEvent\r\nUserEvent: U\r\n".to_owned();
        for i in 0..126 {
            request.push_str(&format!("H{i}: x\r\n"));
        }
        request.push_str("\r\n");
        let text = bytes(&forward(&received(request.as_bytes()), "p"));
        assert!(text.contains("refused: Too many headers") && text.contains("129 lines"), "{text}");
    }
}
