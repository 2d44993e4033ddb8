//! Gaps made explicit: the `BridgeGap` marker and the state snapshot that follow every
//! (re)connection to a PBX and every takeover.

use ami_proto::encode::Action;
use ami_tokio::{Client, Part};
use bytes::Bytes;
use tokio::sync::mpsc;

/// Why a gap marker was published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapReason {
    /// The first connection of this bridge to the PBX.
    Connected,
    /// A connection after the previous one dropped.
    Reconnected,
    /// This bridge took the lease over from another.
    Takeover,
    /// Events were dropped: the buffer was full, the bridge fell behind the PBX, or the
    /// stream refused them (its limits).
    BufferFull,
}

impl GapReason {
    /// The `Reason:` value.
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Connected => "connected",
            GapReason::Reconnected => "reconnected",
            GapReason::Takeover => "takeover",
            GapReason::BufferFull => "buffer-full",
        }
    }
}

/// What a gap marker says.
#[derive(Clone, Debug)]
pub struct Gap<'a> {
    /// The PBX.
    pub pbx: &'a str,
    /// Why.
    pub reason: GapReason,
    /// The last event known stored or read before the gap (Unix µs), if known.
    pub since_us: Option<u64>,
    /// The end of the gap (Unix µs).
    pub until_us: u64,
    /// Events known lost (`None`: unknowable, e.g. while no bridge was connected).
    pub lost: Option<u64>,
    /// Events dropped after they were sent unacknowledged: maybe stored, maybe not (the
    /// consumer tells by `Ami-Seq`). Written when not zero.
    pub unconfirmed: Option<u64>,
    /// The last stored position before the gap (`TOKEN:SEQ`), if known.
    pub after: Option<String>,
    /// This bridge's name.
    pub bridge: &'a str,
}

fn secs(us: u64) -> String {
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

impl Gap<'_> {
    /// The marker as AMI bytes (an event named `BridgeGap`).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = format!(
            "Event: BridgeGap\r\nPbx: {}\r\nReason: {}\r\n",
            self.pbx,
            self.reason.as_str()
        );
        if let Some(s) = self.since_us {
            out.push_str(&format!("Since: {}\r\n", secs(s)));
            out.push_str(&format!("Until: {}\r\n", secs(self.until_us)));
            out.push_str(&format!("Duration: {}\r\n", secs(self.until_us.saturating_sub(s))));
        } else {
            out.push_str(&format!("Until: {}\r\n", secs(self.until_us)));
        }
        if let Some(n) = self.lost {
            out.push_str(&format!("Lost: {n}\r\n"));
        }
        if let Some(n) = self.unconfirmed.filter(|n| *n > 0) {
            out.push_str(&format!("Unconfirmed: {n}\r\n"));
        }
        if let Some(a) = &self.after {
            out.push_str(&format!("After: {a}\r\n"));
        }
        out.push_str(&format!("Bridge: {}\r\n\r\n", self.bridge));
        Bytes::from(out)
    }
}

/// One part of a snapshot, as it arrives.
#[derive(Clone, Debug)]
pub struct SnapshotPart {
    /// The snapshot's id.
    pub id: String,
    /// The action.
    pub action: String,
    /// `start`, `item`, `end` or `failed`.
    pub part: &'static str,
    /// Index within the snapshot (for the message id).
    pub index: u64,
    /// The event name of an item (for the roles' filters), else the action.
    pub name: String,
    /// The AMI bytes.
    pub raw: Bytes,
}

/// Runs the snapshot actions one after the other on `client` and sends their parts.
pub async fn run(client: Client, id: String, actions: Vec<String>, tx: mpsc::Sender<SnapshotPart>) {
    let mut index = 0u64;
    for action in actions {
        let mut send = |part: &'static str, name: String, raw: Bytes| {
            index += 1;
            SnapshotPart { id: id.clone(), action: action.clone(), part, index, name, raw }
        };
        let mut parts = match client.send(&Action::new(action.as_str()), None).await {
            Ok(p) => p,
            Err(e) => {
                let raw = Bytes::from(format!("Response: Error\r\nMessage: {e}\r\n\r\n"));
                if tx.send(send("failed", action.clone(), raw)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        while let Some(p) = parts.recv().await {
            let (part, raw, name) = match &p {
                Part::ListStart(m) => ("start", m.raw().to_vec(), action.clone()),
                Part::ListItem(m) => {
                    let name = m.as_message().event().map_or_else(
                        || action.clone(),
                        |e| String::from_utf8_lossy(e).into_owned(),
                    );
                    ("item", m.raw().to_vec(), name)
                }
                Part::ListComplete(m) | Part::CommandOutput(m) => {
                    ("end", m.raw().to_vec(), action.clone())
                }
                Part::Response { message, .. } => {
                    let error = message
                        .as_message()
                        .response()
                        .is_some_and(|r| r.eq_ignore_ascii_case(b"Error"));
                    (if error { "failed" } else { "end" }, message.raw().to_vec(), action.clone())
                }
                Part::Failed(e) => (
                    "failed",
                    format!("Response: Error\r\nMessage: {e}\r\n\r\n").into_bytes(),
                    action.clone(),
                ),
                _ => continue,
            };
            let done = part != "start" && part != "item";
            if tx.send(send(part, name, Bytes::from(raw))).await.is_err() {
                return;
            }
            if done {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_ami_events() {
        let g = Gap {
            pbx: "pbx1",
            reason: GapReason::Reconnected,
            since_us: Some(1_500_000),
            until_us: 4_000_001,
            lost: None,
            unconfirmed: None,
            after: Some("feed:7".into()),
            bridge: "b",
        };
        assert_eq!(
            &g.to_bytes()[..],
            b"Event: BridgeGap\r\nPbx: pbx1\r\nReason: reconnected\r\nSince: 1.500000\r\nUntil: 4.000001\r\nDuration: 2.500001\r\nAfter: feed:7\r\nBridge: b\r\n\r\n"
        );
        let g =
            Gap { since_us: None, lost: Some(3), after: None, reason: GapReason::BufferFull, ..g };
        assert_eq!(
            &g.to_bytes()[..],
            b"Event: BridgeGap\r\nPbx: pbx1\r\nReason: buffer-full\r\nUntil: 4.000001\r\nLost: 3\r\nBridge: b\r\n\r\n"
        );
    }
}
