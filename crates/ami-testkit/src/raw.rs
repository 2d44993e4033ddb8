//! [`RawAmi`]: a plain blocking AMI connection that only splits messages at blank lines, so
//! that a test can compare what the code under test sees with what the server really sent.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::User;

/// A raw AMI connection: bytes out, whole messages (up to and including the blank line) in.
#[derive(Debug)]
pub struct RawAmi {
    stream: TcpStream,
    buf: Vec<u8>,
    banner: String,
}

/// The longest message kept before [`RawAmi::read_message`] gives up (a test guard, far above
/// anything Asterisk sends in one message).
const MAX_MESSAGE: usize = 4 << 20;

impl RawAmi {
    /// Connects and reads the banner line.
    pub fn connect(addr: SocketAddr) -> io::Result<RawAmi> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_nodelay(true)?;
        let mut raw = RawAmi { stream, buf: Vec::new(), banner: String::new() };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(end) = raw.buf.windows(2).position(|w| w == b"\r\n") {
                raw.banner = String::from_utf8_lossy(&raw.buf[..end]).into_owned();
                raw.buf.drain(..end + 2);
                return Ok(raw);
            }
            raw.fill(deadline)?;
        }
    }

    /// The banner line, e.g. `Asterisk Call Manager/11.0.0`.
    pub fn banner(&self) -> &str {
        &self.banner
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Logs in with a plain `Login` (`Events: on` unless `events` says otherwise) and returns
    /// the response.
    pub fn login(&mut self, user: User, events: Option<&str>) -> io::Result<String> {
        let mut action =
            format!("Action: Login\r\nUsername: {}\r\nSecret: {}\r\n", user.name, user.secret);
        if let Some(e) = events {
            action.push_str(&format!("Events: {e}\r\n"));
        }
        action.push_str("\r\n");
        self.send(action.as_bytes())?;
        let m = self.read_until(Duration::from_secs(10), |m| m.starts_with("Response:"))?;
        Ok(m.into_iter().last().unwrap_or_default())
    }

    /// The next whole message (its text, blank line excluded), waiting up to `timeout`;
    /// `Ok(None)` when the server closed the connection.
    pub fn read_message(&mut self, timeout: Duration) -> io::Result<Option<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&self.buf[..end + 2]).into_owned();
                self.buf.drain(..end + 4);
                return Ok(Some(text));
            }
            if self.buf.len() > MAX_MESSAGE {
                return Err(io::Error::other("a message over 4 MiB without a blank line"));
            }
            match self.fill(deadline) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Messages until one for which `last` is true (included), waiting up to `timeout` in
    /// all; a timeout or a closed connection is an error that lists what came.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        mut last: impl FnMut(&str) -> bool,
    ) -> io::Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_message(left) {
                Ok(Some(m)) => {
                    let done = last(&m);
                    seen.push(m);
                    if done {
                        return Ok(seen);
                    }
                }
                Ok(None) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("closed after {} messages: {seen:#?}", seen.len()),
                    ));
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{e} after {} messages: {seen:#?}", seen.len()),
                    ));
                }
            }
        }
    }

    /// Every message that arrives within `window` (for "nothing more came" checks).
    pub fn drain_for(&mut self, window: Duration) -> io::Result<Vec<String>> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(seen);
            }
            match self.read_message(left) {
                Ok(Some(m)) => seen.push(m),
                Ok(None) => return Ok(seen),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(seen),
                Err(e) => return Err(e),
            }
        }
    }

    fn fill(&mut self, deadline: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no message in time"));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(io::Error::new(io::ErrorKind::TimedOut, "no message in time"))
            }
            Err(e) => Err(e),
        }
    }
}

/// The value of header `name` in a message's text (first match, case-insensitive name).
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.strip_prefix(' ').unwrap_or(v))
    })
}
