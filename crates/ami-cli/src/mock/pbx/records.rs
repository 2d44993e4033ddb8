//! What Asterisk records about calls besides the channel events: CDRs (`cdr_manager`'s `Cdr`
//! events), CEL (`cel_manager`'s `CEL` events) and device states (`DeviceStateChange`).

use ami_proto::perm::Privilege;
use ami_proto::time::Instant;

use super::Pbx;
use super::channel::ChanId;

/// A channel's call detail records: the one open now and those closed but not yet posted
/// (Asterisk posts them when the channel hangs up).
#[derive(Clone, Debug)]
pub(super) struct Cdr {
    /// False for a Dial's outgoing leg: it is party B of the caller's record, not a record of
    /// its own.
    pub enabled: bool,
    start: Instant,
    answer: Option<Instant>,
    peer: String,
    last_app: String,
    last_data: String,
    /// `CDR(userfield)`.
    pub userfield: String,
    closed: Vec<Vec<(String, String)>>,
}

impl Cdr {
    /// A record opened at `now`.
    pub fn new(now: Instant) -> Cdr {
        Cdr {
            enabled: true,
            start: now,
            answer: None,
            peer: String::new(),
            last_app: String::new(),
            last_data: String::new(),
            userfield: String::new(),
            closed: Vec::new(),
        }
    }

    /// The record's `DestinationChannel`: the party the channel is bridged with.
    pub fn set_peer(&mut self, peer: &str) {
        peer.clone_into(&mut self.peer);
    }
}

/// `AST_CAUSE_*` as `Cause-txt` names it (`ast_cause2str`).
pub(super) fn cause_text(cause: u32) -> &'static str {
    match cause {
        1 => "Unallocated (unassigned) number",
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        21 => "Call Rejected",
        26 => "Answered elsewhere",
        27 => "Destination out of order",
        34 => "Circuit/channel congestion",
        38 => "Network out of order",
        _ => "Unknown",
    }
}

impl Pbx {
    /// The channel ran an application (the record's `LastApplication`).
    pub(super) fn cdr_app(&mut self, id: ChanId, app: &str, data: &str) {
        if let Some(c) = self.chans.get_mut(&id) {
            c.cdr.last_app = app.to_owned();
            c.cdr.last_data = data.to_owned();
        }
    }

    /// The channel was answered (the record's `AnswerTime`).
    pub(super) fn cdr_answer(&mut self, id: ChanId) {
        let now = self.now;
        if let Some(c) = self.chans.get_mut(&id) {
            c.cdr.answer.get_or_insert(now);
        }
    }

    /// The channel's Dial to `peer` is over and the dialplan goes on: the record of the dialled
    /// call is closed and a new one opens (`cdr.c` after a bridge).
    pub(super) fn cdr_after_dial(&mut self, id: ChanId, peer: &str) {
        let now = self.now;
        let Some(fields) = self.cdr_fields(id, Some(peer)) else { return };
        if let Some(c) = self.chans.get_mut(&id) {
            c.cdr.closed.push(fields);
            c.cdr.start = now;
            c.cdr.answer = c.answered.map(|_| now);
            c.cdr.peer.clear();
            c.cdr.last_app.clear();
            c.cdr.last_data.clear();
        }
    }

    /// The open record of the channel as `Cdr` event fields, closed now; `None` if the
    /// channel has no record of its own.
    fn cdr_fields(&self, id: ChanId, peer: Option<&str>) -> Option<Vec<(String, String)>> {
        let c = self.chans.get(&id)?;
        if !c.cdr.enabled {
            return None;
        }
        let r = &c.cdr;
        let end = self.now;
        let secs = |from: Instant| end.saturating_duration_since(from).as_millis() / 1000;
        let disposition = if r.answer.is_some() { "ANSWERED" } else { "NO ANSWER" };
        let f = [
            ("AccountCode", String::new()),
            ("Source", c.caller.num.clone()),
            ("Destination", c.exten.clone()),
            ("DestinationContext", c.context.clone()),
            ("CallerID", format!("\"{}\" <{}>", c.caller.name, c.caller.num)),
            ("Channel", c.name.clone()),
            ("DestinationChannel", peer.map_or_else(|| r.peer.clone(), str::to_owned)),
            ("LastApplication", r.last_app.clone()),
            ("LastData", r.last_data.clone()),
            ("StartTime", self.wall(r.start)),
            ("AnswerTime", r.answer.map(|a| self.wall(a)).unwrap_or_default()),
            ("EndTime", self.wall(end)),
            ("Duration", secs(r.start).to_string()),
            ("BillableSeconds", r.answer.map_or(0, secs).to_string()),
            ("Disposition", disposition.to_owned()),
            ("AMAFlags", "DOCUMENTATION".to_owned()),
            ("UniqueID", c.uniqueid.clone()),
            ("UserField", r.userfield.clone()),
        ];
        Some(f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// The channel hangs up: its records are closed and posted, answered ones only
    /// (`cdr.conf` `unanswered = no`).
    pub(super) fn cdr_post(&mut self, id: ChanId) {
        let open = self.cdr_fields(id, None);
        let Some(c) = self.chans.get_mut(&id) else { return };
        let mut records = std::mem::take(&mut c.cdr.closed);
        records.extend(open);
        for r in records {
            let answered = r.iter().any(|(k, v)| k == "Disposition" && v == "ANSWERED");
            if answered {
                self.publish("Cdr", &r);
            }
        }
    }

    /// A CEL event about the channel, if CEL is enabled.
    pub(super) fn cel(&mut self, id: ChanId, event: &str, peer: &str, extra: &str) {
        if !self.cel {
            return;
        }
        let Some(c) = self.chans.get(&id) else { return };
        let (app, data) = c.app.clone().unwrap_or_else(|| c.base_app.clone());
        let f = [
            ("EventName", event.to_owned()),
            ("AccountCode", String::new()),
            ("CallerIDnum", c.caller.num.clone()),
            ("CallerIDname", c.caller.name.clone()),
            ("CallerIDani", String::new()),
            ("CallerIDrdnis", String::new()),
            ("CallerIDdnid", String::new()),
            ("Exten", c.exten.clone()),
            ("Context", c.context.clone()),
            ("Channel", c.name.clone()),
            ("Application", app),
            ("AppData", data),
            ("EventTime", self.wall(self.now)),
            ("AMAFlags", "DOCUMENTATION".to_owned()),
            ("UniqueID", c.uniqueid.clone()),
            ("LinkedID", c.linkedid.clone()),
            ("Userfield", String::new()),
            ("Peer", peer.to_owned()),
            ("PeerAccount", String::new()),
            ("Extra", extra.to_owned()),
        ];
        let f: Vec<(String, String)> = f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        self.publish_as("CEL", Privilege::CALL, &f);
    }

    /// A device's state (`Local/exten@context`, `PJSIP/100`) is now `state`: published when
    /// it changes, once for this server and once for the aggregate state, as Asterisk's
    /// device state cache does.
    pub(super) fn device_state(&mut self, device: &str, state: &'static str) {
        if self.devices.get(device) == Some(&state) {
            return;
        }
        self.devices.insert(device.to_owned(), state);
        let f = [("Device".to_owned(), device.to_owned()), ("State".to_owned(), state.to_owned())];
        for _ in 0..2 {
            self.publish_as("DeviceStateChange", Privilege::CALL, &f);
        }
    }
}
