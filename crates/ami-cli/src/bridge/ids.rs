//! Message ids that name events, not publish attempts: the same for a retry, after a restart of
//! NATS, and for two bridges reading the same PBX over two AMI sessions.
//!
//! Asterisk appends every event to one queue that each session reads in the same order. On
//! every login the bridge marks a position in that queue with a signed `UserEvent`
//! ([`ANCHOR_EVENT`], a fresh random token, HMAC-SHA256 under the PBX account's secret); every
//! session of that PBX sees the anchor at the same place and numbers the events after it, so an
//! event's id is `PBX:TOKEN:N` wherever it is read. Events before the first anchor a session
//! sees are numbered in a session-only space (`PBX:s-TOKEN:N`).

use std::sync::Arc;

use ami_proto::Message;
use ami_proto::encode::Action;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// The `UserEvent:` value of an anchor.
pub const ANCHOR_EVENT: &str = "AmiBridgeAnchor";

/// A fresh random token: 16 hex digits from the OS CSPRNG.
pub fn random_token() -> String {
    let mut bytes = [0u8; 8];
    // SystemRandom fails only without an OS entropy source; the time is a fallback that
    // still makes a collision within the dedup window unlikely.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64 ^ u64::from(std::process::id()).rotate_left(40)).to_be_bytes();
    }
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues and recognises the anchors of one PBX.
#[derive(Debug)]
pub struct Anchors {
    key: hmac::Key,
    /// The bridge family (the stream prefix): bridges of another family ignore our anchors.
    family: String,
    pbx: String,
}

impl Anchors {
    /// Anchors for PBX `pbx` of family `family`, signed with the PBX account's `secret`.
    pub fn new(secret: &[u8], family: &str, pbx: &str) -> Anchors {
        Anchors {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            family: family.to_owned(),
            pbx: pbx.to_owned(),
        }
    }

    fn mac(&self, token: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in
            [b"ami-bridge-anchor".as_slice(), self.family.as_bytes(), self.pbx.as_bytes(), token]
        {
            ctx.update(&(part.len() as u32).to_be_bytes());
            ctx.update(part);
        }
        hex(ctx.sign().as_ref().get(..16).unwrap_or_default())
    }

    /// The `UserEvent` action that places anchor `token`.
    pub fn action(&self, token: &str) -> Action {
        Action::new("UserEvent")
            .with("UserEvent", ANCHOR_EVENT)
            .with("Bridge", self.family.as_str())
            .with("Token", token)
            .with("Mac", self.mac(token.as_bytes()))
    }

    /// The token of `m` if it is one of our anchors with a valid signature.
    pub fn recognise(&self, m: &Message<'_>) -> Option<String> {
        if m.event() != Some(b"UserEvent") || m.get("UserEvent") != Some(ANCHOR_EVENT.as_bytes()) {
            return None;
        }
        if m.get("Bridge") != Some(self.family.as_bytes()) {
            return None;
        }
        let token = m.get("Token")?;
        let mac = m.get("Mac")?;
        let good = self.mac(token);
        // Constant time: the MAC is what keeps other AMI users from forging anchors.
        let same = mac.len() == good.len()
            && mac.iter().zip(good.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        (same && token.iter().all(u8::is_ascii_hexdigit) && !token.is_empty())
            .then(|| String::from_utf8_lossy(token).into_owned())
    }
}

/// Where an event stands in its PBX's stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The anchor's token, or `s-<session token>` before the first anchor.
    pub token: Arc<str>,
    /// Whether `token` is a shared anchor (the same for every session).
    pub anchored: bool,
    /// The event's number after the anchor (from 1).
    pub seq: u64,
}

// Both strings are made for every event: written piece by piece, not with `format!`, whose
// formatting machinery cost the bridge more than the strings themselves.
impl Position {
    /// The `Nats-Msg-Id` of the event on PBX `pbx`: `PBX:TOKEN:SEQ`.
    pub fn msg_id(&self, pbx: &str) -> String {
        let mut s = String::with_capacity(pbx.len() + self.token.len() + 22);
        s.push_str(pbx);
        s.push(':');
        self.push_label(&mut s);
        s
    }

    /// `TOKEN:SEQ`, the `Ami-Seq` header and the progress record.
    pub fn label(&self) -> String {
        let mut s = String::with_capacity(self.token.len() + 21);
        self.push_label(&mut s);
        s
    }

    fn push_label(&self, s: &mut String) {
        s.push_str(&self.token);
        s.push(':');
        push_decimal(s, self.seq);
    }
}

/// Appends `n` in decimal, as `format!("{n}")` writes it.
pub fn push_decimal(s: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    s.extend(digits.iter().skip(digits.len() - len).map(|&d| char::from(d)));
}

/// Numbers the events of one AMI session.
#[derive(Debug)]
pub struct Numbering {
    token: Arc<str>,
    anchored: bool,
    seq: u64,
}

impl Numbering {
    /// A new session, numbered in its own space until an anchor arrives.
    pub fn session(session_token: &str) -> Numbering {
        Numbering { token: Arc::from(format!("s-{session_token}")), anchored: false, seq: 0 }
    }

    /// An anchor was read: events after it are numbered from 1 under `token`.
    pub fn anchor(&mut self, token: &str) {
        self.token = Arc::from(token);
        self.anchored = true;
        self.seq = 0;
    }

    /// The position of the next event.
    pub fn next(&mut self) -> Position {
        self.seq += 1;
        Position { token: Arc::clone(&self.token), anchored: self.anchored, seq: self.seq }
    }

    /// `missed` events were read by the connection but lost before the bridge saw them:
    /// their numbers are used up, so the next ones stay in step with other sessions.
    pub fn skip(&mut self, missed: u64) {
        self.seq = self.seq.saturating_add(missed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::with_message as with;

    #[test]
    fn ids_and_labels_are_written_as_format_writes_them() {
        for n in [0, 1, 9, 10, 99, 100, 4_294_967_296, 10_000_000_000_000_000_000, u64::MAX] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("x{n}"));
            let p = Position { token: Arc::from("0123abcd"), anchored: true, seq: n };
            assert_eq!(p.msg_id("pbx-1"), format!("pbx-1:0123abcd:{n}"));
            assert_eq!(p.label(), format!("0123abcd:{n}"));
        }
    }

    #[test]
    fn anchors_are_signed_and_recognised() {
        let a = Anchors::new(b"secret", "AMI", "pbx1");
        let action = a.action("00ff00ff00ff00ff");
        let mut text = b"Event: UserEvent\r\nPrivilege: user,all\r\n".to_vec();
        for h in ["UserEvent", "Bridge", "Token", "Mac"] {
            let v = action.get(h).unwrap();
            text.extend_from_slice(format!("{h}: ").as_bytes());
            text.extend_from_slice(v);
            text.extend_from_slice(b"\r\n");
        }
        text.extend_from_slice(b"\r\n");
        with(&text, |m| assert_eq!(a.recognise(&m).as_deref(), Some("00ff00ff00ff00ff")));
        // Another secret, another PBX or family: not ours.
        with(&text, |m| assert_eq!(Anchors::new(b"other", "AMI", "pbx1").recognise(&m), None));
        with(&text, |m| assert_eq!(Anchors::new(b"secret", "AMI", "pbx2").recognise(&m), None));
        with(&text, |m| assert_eq!(Anchors::new(b"secret", "B", "pbx1").recognise(&m), None));
        // A forged MAC.
        let forged = String::from_utf8(text.clone()).unwrap().replace("Token: 00ff", "Token: 11ff");
        with(forged.as_bytes(), |m| assert_eq!(a.recognise(&m), None));
        with(b"Event: UserEvent\r\nUserEvent: Other\r\n\r\n", |m| {
            assert_eq!(a.recognise(&m), None)
        });
    }

    #[test]
    fn two_sessions_agree_after_an_anchor() {
        let (mut a, mut b) = (Numbering::session("aaaa"), Numbering::session("bbbb"));
        for _ in 0..5 {
            a.next();
        }
        assert_eq!(a.next().msg_id("p"), "p:s-aaaa:6");
        // B logs in later; both see the anchor at the same place.
        b.next();
        a.anchor("feed");
        b.anchor("feed");
        assert_eq!(a.next(), b.next());
        // A misses two events (its buffer overflowed) but counts them.
        a.skip(2);
        b.next();
        b.next();
        let (pa, pb) = (a.next(), b.next());
        assert_eq!(pa, pb);
        assert_eq!(pa.msg_id("p"), "p:feed:4");
        assert!(pa.anchored);
        assert_ne!(random_token(), random_token());
    }
}
