//! [`record_call`]: the bytes a real Asterisk sends to one session during a real call, exactly as
//! they came off the socket, for the decoder tests of every language to decode and compare.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::{ADMIN, Asterisk};

/// How long [`record_call`] waits for the call to end.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// What [`record_call`] keeps reading once the call has ended (late CEL events).
const TAIL: Duration = Duration::from_millis(300);
/// The most [`record_call`] records (a test guard, far above one call's traffic).
const MAX_CAPTURE: usize = 8 << 20;

/// How many times `needle` occurs in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

/// Logs in as `admin` with every event class, originates `Local/simple@amitest` (answer,
/// `Set`, `UserEvent`, `Wait 1`, hang up: about 40 events with CEL), asks for `ListCommands`
/// (one long response) and `Command core show version` (multi-line output) while it runs, and
/// returns every byte Asterisk sent — banner included, split wherever TCP split it — until
/// both Local channels have hung up and both CDRs are posted, plus a short tail.
///
/// Use it on a private instance ([`Asterisk::start`]): on a shared one, other tests' calls
/// would end the recording early or add their events to it.
pub fn record_call(ast: &Asterisk) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&ast.addr(), Duration::from_secs(10))?;
    stream.set_nodelay(true)?;
    let login = format!(
        "Action: Login\r\nActionID: login\r\nUsername: {}\r\nSecret: {}\r\nEvents: on\r\n\r\n",
        ADMIN.name, ADMIN.secret
    );
    stream.write_all(login.as_bytes())?;
    stream.write_all(
        b"Action: Originate\r\nActionID: call\r\nChannel: Local/simple@amitest\r\n\
          Application: Wait\r\nData: 1\r\nAsync: true\r\n\r\n\
          Action: ListCommands\r\nActionID: commands\r\n\r\n\
          Action: Command\r\nActionID: version\r\nCommand: core show version\r\n\r\n",
    )?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + CALL_TIMEOUT;
    let mut ended: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let until = match ended {
            Some(t) => t + TAIL,
            None => deadline,
        };
        if now >= until {
            if ended.is_some() {
                return Ok(out);
            }
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the call did not end within {CALL_TIMEOUT:?}; recorded:\n{}",
                    String::from_utf8_lossy(&out)
                ),
            ));
        }
        stream.set_read_timeout(Some(until - now))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(e),
        }
        if out.len() > MAX_CAPTURE {
            return Err(io::Error::other("more than 8 MiB for one call"));
        }
        if ended.is_none()
            && count(&out, b"\r\nEvent: Hangup\r\n") >= 2
            && count(&out, b"\r\nEvent: Cdr\r\n") >= 2
            && out.ends_with(b"\r\n\r\n")
        {
            ended = Some(Instant::now());
        }
    }
}

/// One line of a message as a naive reader sees it: `(Some(name), value)` for `name: value`
/// (one space after the colon removed, as AMI clients read values), `(None, line)` for a line
/// without a colon.
pub type NaiveLine = (Option<Vec<u8>>, Vec<u8>);

/// What Asterisk 22 sent, split the naive way, as an oracle for the decoders: the banner line,
/// then each message up to its blank line (a trailing incomplete one is left out), its lines
/// cut at CRLF and at their first colon. Valid for modern Asterisk's output only (CRLF
/// everywhere, no legacy `--END COMMAND--` blocks); the decoders' own rules for other input
/// are tested elsewhere.
pub fn naive_decode(bytes: &[u8]) -> (Vec<u8>, Vec<Vec<NaiveLine>>) {
    let crlf = |b: &[u8]| b.windows(2).position(|w| w == b"\r\n");
    let banner_end = crlf(bytes).unwrap_or(bytes.len());
    let banner = bytes[..banner_end].to_vec();
    let mut rest = bytes.get(banner_end + 2..).unwrap_or_default();
    let mut messages = Vec::new();
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let text = &rest[..end];
        messages.push(
            text.split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .map(|line| match line.iter().position(|&b| b == b':') {
                    Some(colon) => {
                        let value = &line[colon + 1..];
                        (
                            Some(line[..colon].to_vec()),
                            value.strip_prefix(b" ").unwrap_or(value).to_vec(),
                        )
                    }
                    None => (None, line.to_vec()),
                })
                .collect(),
        );
        rest = &rest[end + 4..];
    }
    (banner, messages)
}
