//! Channels: their state, the snapshot block of their events, and their life (creation,
//! answer, indications, hangup requests, hangup), with the Local channel pair's rules
//! (`core_local.c`, `core_unreal.c`).

use std::collections::BTreeMap;

use ami_proto::time::Instant;

use super::exec::Exec;
use super::phones::PhoneKind;
use super::records::{Cdr, cause_text};
use super::{Control, Job, Pbx};

/// Identifies a channel of the PBX (never reused).
pub(super) type ChanId = u64;

/// `AST_STATE_DOWN`.
pub(super) const DOWN: u8 = 0;
/// `AST_STATE_RING`.
pub(super) const RING: u8 = 4;
/// `AST_STATE_RINGING`.
pub(super) const RINGING: u8 = 5;
/// `AST_STATE_UP`.
pub(super) const UP: u8 = 6;
/// `AST_STATE_BUSY`.
pub(super) const BUSY: u8 = 7;

/// `ast_state2str`.
pub(super) fn state_desc(s: u8) -> &'static str {
    match s {
        0 => "Down",
        1 => "Rsrvd",
        2 => "OffHook",
        3 => "Dialing",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        7 => "Busy",
        8 => "Dialing Offhook",
        9 => "Pre-ring",
        _ => "Unknown",
    }
}

/// A caller id or connected line (empty parts are unknown).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Party {
    pub num: String,
    pub name: String,
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "<unknown>" } else { s }
}

/// What kind of channel it is.
#[derive(Clone, Debug)]
pub(super) enum Tech {
    /// A half of a Local channel pair (`;1` is the owner side, `;2` runs the dialplan).
    Local { pair: u64, two: bool },
    /// A simulated PJSIP phone.
    Phone(PhoneKind),
}

/// Who reads the channel's control frames while it is being dialled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    None,
    Originate(u64),
    Dial(u64),
}

/// A Local channel pair (`struct local_pvt`).
#[derive(Clone, Debug)]
pub(super) struct LocalPair {
    pub one: Option<ChanId>,
    pub two: Option<ChanId>,
    /// `Local/exten@context`, the device name.
    pub device: String,
    pub exten: String,
    pub context: String,
    /// The `;2` runs the dialplan (`AST_UNREAL_CARETAKER_THREAD`).
    pub in_use: bool,
}

/// One channel.
#[derive(Clone, Debug)]
pub(super) struct Chan {
    pub name: String,
    pub uniqueid: String,
    pub linkedid: String,
    pub state: u8,
    pub caller: Party,
    pub connected: Party,
    pub context: String,
    pub exten: String,
    pub priority: u32,
    /// The application running now (shown instead of `base_app`).
    pub app: Option<(String, String)>,
    /// What the channel shows when no application runs (`AppDial2` on an originated one).
    pub base_app: (String, String),
    pub vars: BTreeMap<String, String>,
    pub created: Instant,
    pub answered: Option<Instant>,
    /// `ast_channel_hangupcause`.
    pub cause: u32,
    pub hangup_requested: bool,
    /// `hangupsource` of the CEL HANGUP event.
    pub hangup_source: String,
    pub tech: Tech,
    pub exec: Option<Exec>,
    pub owner: Owner,
    pub bridge: Option<u64>,
    pub cdr: Cdr,
}

impl Chan {
    /// The application shown in snapshots (`Application:` of Status).
    pub fn shown_app(&self) -> (&str, &str) {
        let (a, d) = self.app.as_ref().unwrap_or(&self.base_app);
        (a, d)
    }

    /// The technology part of the name (`Local`, `PJSIP`).
    pub fn tech_name(&self) -> &str {
        self.name.split('/').next().unwrap_or("")
    }

    /// The device name: the channel name without its `-0000000a;1` suffix.
    pub fn device(&self) -> String {
        let base = self.name.split(';').next().unwrap_or(&self.name);
        match base.rfind('-') {
            Some(i) => base[..i].to_owned(),
            None => base.to_owned(),
        }
    }
}

/// Appends the channel snapshot block (`ast_manager_build_channel_state_string_prefix`).
pub(super) fn snapshot(f: &mut Vec<(String, String)>, c: &Chan, prefix: &str) {
    let mut h = |k: &str, v: &str| f.push((format!("{prefix}{k}"), v.to_owned()));
    h("Channel", &c.name);
    h("ChannelState", &c.state.to_string());
    h("ChannelStateDesc", state_desc(c.state));
    h("CallerIDNum", or_unknown(&c.caller.num));
    h("CallerIDName", or_unknown(&c.caller.name));
    h("ConnectedLineNum", or_unknown(&c.connected.num));
    h("ConnectedLineName", or_unknown(&c.connected.name));
    h("Language", "en");
    h("AccountCode", "");
    h("Context", &c.context);
    h("Exten", &c.exten);
    h("Priority", &c.priority.to_string());
    h("Uniqueid", &c.uniqueid);
    h("Linkedid", &c.linkedid);
}

/// What a new channel starts as.
pub(super) struct NewChan {
    pub name: String,
    pub state: u8,
    pub caller: Party,
    pub context: String,
    pub exten: String,
    pub linkedid: Option<String>,
    pub uniqueid: Option<String>,
    pub tech: Tech,
}

impl Pbx {
    /// An event about one channel: its snapshot block, then `extra`.
    pub(super) fn chan_event(&mut self, name: &str, id: ChanId, extra: &[(&str, &str)]) {
        self.chans_event(name, &[(id, "")], extra);
    }

    /// An event with the snapshot block of each `(channel, prefix)`, then `extra`.
    pub(super) fn chans_event(
        &mut self,
        name: &str,
        chans: &[(ChanId, &str)],
        extra: &[(&str, &str)],
    ) {
        let mut f = Vec::with_capacity(15 * chans.len() + extra.len());
        for (id, prefix) in chans {
            let Some(c) = self.chans.get(id) else { return };
            snapshot(&mut f, c, prefix);
        }
        f.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self.publish(name, &f);
    }

    /// The channel called `name` (case-insensitive, as `ast_channel_get_by_name`).
    pub(super) fn find(&self, name: &str) -> Option<ChanId> {
        self.chans.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(name)).map(|(id, _)| *id)
    }

    fn uniqueid(&mut self) -> String {
        let id = format!("{}.{}", self.unix_secs(self.now), self.next_uid);
        self.next_uid += 1;
        id
    }

    /// `-0000000a`: the next suffix of a technology's channel names.
    pub(super) fn name_suffix(&mut self, tech: &str) -> String {
        let n = self.next_tech.entry(tech.to_ascii_lowercase()).or_insert(0);
        let s = format!("{n:08x}");
        *n = n.wrapping_add(1);
        s
    }

    /// Creates a channel: `Newchannel` (and CEL `CHAN_START`).
    pub(super) fn new_chan(&mut self, new: NewChan) -> ChanId {
        let uniqueid = new.uniqueid.filter(|u| !u.is_empty()).unwrap_or_else(|| self.uniqueid());
        let id = self.next_chan_id;
        self.next_chan_id += 1;
        let chan = Chan {
            name: new.name,
            linkedid: new.linkedid.unwrap_or_else(|| uniqueid.clone()),
            uniqueid,
            state: new.state,
            caller: new.caller,
            connected: Party::default(),
            context: new.context,
            exten: new.exten,
            priority: 1,
            app: None,
            base_app: (String::new(), String::new()),
            vars: BTreeMap::new(),
            created: self.now,
            answered: None,
            cause: 0,
            hangup_requested: false,
            hangup_source: String::new(),
            tech: new.tech,
            exec: None,
            owner: Owner::None,
            bridge: None,
            cdr: Cdr::new(self.now),
        };
        self.chans.insert(id, chan);
        self.chan_event("Newchannel", id, &[]);
        self.cel(id, "CHAN_START", "", "");
        id
    }

    /// A Local channel pair for `exten@context` (`;1` Down, `;2` Ring), both created now.
    pub(super) fn local_pair(
        &mut self,
        exten: &str,
        context: &str,
        linkedid: Option<String>,
        ids: (Option<String>, Option<String>),
    ) -> (ChanId, ChanId) {
        let suffix = format!("{:08x}", self.next_local);
        self.next_local = self.next_local.wrapping_add(1);
        let pair = self.op_id();
        let base = format!("Local/{exten}@{context}-{suffix}");
        let one = self.new_chan(NewChan {
            name: format!("{base};1"),
            state: DOWN,
            caller: Party::default(),
            context: context.to_owned(),
            exten: exten.to_owned(),
            linkedid,
            uniqueid: ids.0,
            tech: Tech::Local { pair, two: false },
        });
        let linked = self.chans.get(&one).map(|c| c.linkedid.clone());
        let two = self.new_chan(NewChan {
            name: format!("{base};2"),
            state: RING,
            caller: Party::default(),
            context: context.to_owned(),
            exten: exten.to_owned(),
            linkedid: linked,
            uniqueid: ids.1,
            tech: Tech::Local { pair, two: true },
        });
        self.pairs.insert(
            pair,
            LocalPair {
                one: Some(one),
                two: Some(two),
                device: format!("Local/{exten}@{context}"),
                exten: exten.to_owned(),
                context: context.to_owned(),
                in_use: false,
            },
        );
        (one, two)
    }

    /// `local_call`: the `;1` of a pair is called. The `;2` gets the owner's variables and
    /// its caller as connected line, and starts the dialplan; false if the extension does
    /// not exist (the caller then hangs up the `;1`).
    pub(super) fn local_call(&mut self, one: ChanId) -> bool {
        let Some(Tech::Local { pair, .. }) = self.chans.get(&one).map(|c| c.tech.clone()) else {
            return false;
        };
        let Some(two) = self.pairs.get(&pair).and_then(|p| p.two) else { return false };
        let (exists, device) = match (self.chans.get(&two), self.pairs.get(&pair)) {
            (Some(c), Some(p)) => (self.dialplan.exists(&c.context, &c.exten, 1), p.device.clone()),
            _ => return false,
        };
        if !exists {
            // `No such extension/context`: the caller hangs up the `;1`, which hangs up
            // the `;2` (it has no thread of its own yet).
            self.device_state(&device, "INVALID");
            return false;
        }
        let (vars, caller) = match self.chans.get(&one) {
            Some(c) => (c.vars.clone(), c.caller.clone()),
            None => return false,
        };
        for (k, v) in &vars {
            self.set_var(two, k, v);
        }
        if !caller.num.is_empty() || !caller.name.is_empty() {
            if let Some(c) = self.chans.get_mut(&two) {
                c.connected = caller;
            }
            self.chan_event("NewConnectedLine", two, &[]);
        }
        let (exten, context) = match self.pairs.get(&pair) {
            Some(p) => (p.exten.clone(), p.context.clone()),
            None => return false,
        };
        self.chans_event(
            "LocalBridge",
            &[(one, "LocalOne"), (two, "LocalTwo")],
            &[("Context", &context), ("Exten", &exten), ("LocalOptimization", "Yes")],
        );
        if let Some(p) = self.pairs.get_mut(&pair) {
            p.in_use = true;
        }
        self.device_state(&device, "INUSE");
        self.start_dialplan(two);
        true
    }

    /// Sets the channel's state (`Newstate`).
    pub(super) fn set_state(&mut self, id: ChanId, state: u8) {
        let Some(c) = self.chans.get_mut(&id) else { return };
        if c.state == state {
            return;
        }
        c.state = state;
        self.chan_event("Newstate", id, &[]);
    }

    /// The channel is up (`Newstate Up`, CEL `ANSWER`, its CDR answered).
    pub(super) fn mark_up(&mut self, id: ChanId) {
        let now = self.now;
        let Some(c) = self.chans.get_mut(&id) else { return };
        if c.state == UP {
            return;
        }
        c.answered.get_or_insert(now);
        self.set_state(id, UP);
        self.cel(id, "ANSWER", "", "");
        self.cdr_answer(id);
        if let Some(Tech::Phone(_)) = self.chans.get(&id).map(|c| &c.tech) {
            let dev = self.chans.get(&id).map(Chan::device).unwrap_or_default();
            self.device_state(&dev, "INUSE");
        }
    }

    /// `ast_answer` by the channel's own thread: it is up, and whoever dials it learns so.
    pub(super) fn answer(&mut self, id: ChanId) {
        let Some(c) = self.chans.get(&id) else { return };
        if c.state == UP {
            return;
        }
        self.mark_up(id);
        self.indicate(id, Control::Answer);
    }

    /// `ast_indicate` (and answer): a Local `;2` tells its `;1`'s dialler, a phone its own.
    pub(super) fn indicate(&mut self, id: ChanId, control: Control) {
        let Some(c) = self.chans.get(&id) else { return };
        let target = match &c.tech {
            Tech::Local { pair, two: true } => self.pairs.get(pair).and_then(|p| p.one),
            Tech::Local { two: false, .. } => None,
            Tech::Phone(_) => Some(id),
        };
        if let Some(chan) = target {
            self.soon(Job::Control { chan, control });
        }
    }

    /// A control frame of a dialled channel reaches whoever dials it.
    pub(super) fn control(&mut self, chan: ChanId, control: Control) {
        let Some(c) = self.chans.get(&chan) else { return };
        if control == Control::Answer && matches!(c.tech, Tech::Local { two: false, .. }) {
            self.mark_up(chan);
        }
        let Some(owner) = self.chans.get(&chan).map(|c| c.owner) else { return };
        match owner {
            Owner::Originate(op) => self.originate_control(op, control),
            Owner::Dial(dial) => self.dial_control(dial, chan, control),
            Owner::None => {}
        }
    }

    /// Sets a channel variable (`VarSet`).
    /// False (nothing set) when the channel is gone or already has [`super::MAX_VARS`]
    /// variables.
    pub(super) fn set_var(&mut self, id: ChanId, name: &str, value: &str) -> bool {
        let Some(c) = self.chans.get_mut(&id) else { return false };
        if c.vars.len() >= super::MAX_VARS && !c.vars.contains_key(name) {
            return false;
        }
        c.vars.insert(name.to_owned(), value.to_owned());
        self.chan_event("VarSet", id, &[("Variable", name), ("Value", value)]);
        true
    }

    /// `ast_queue_hangup_with_cause`: `HangupRequest`, then whatever runs or holds the
    /// channel learns it.
    pub(super) fn request_hangup(&mut self, id: ChanId, cause: u32) {
        let Some(c) = self.chans.get_mut(&id) else { return };
        if cause > 0 {
            c.cause = cause;
        }
        c.hangup_requested = true;
        let cause = cause.to_string();
        self.chan_event("HangupRequest", id, &[("Cause", &cause)]);
        self.soon(Job::HangupWake(id));
    }

    /// A hangup request reaches the channel's thread, its bridge, its dialler, or (nothing
    /// holding it) hangs it up.
    pub(super) fn hangup_reaches(&mut self, id: ChanId) {
        let Some(c) = self.chans.get(&id) else { return };
        if c.exec.is_some() {
            self.resume(id, super::exec::Resume::Hangup);
        } else if let Owner::Dial(dial) = c.owner {
            self.dial_control(dial, id, Control::Hangup);
        } else if let Owner::Originate(op) = c.owner {
            self.originate_control(op, Control::Hangup);
        } else {
            self.hangup(id);
        }
    }

    /// `ast_hangup`: CDR posted, CEL `HANGUP`/`CHAN_END`, the other half of a Local pair told
    /// (`ast_unreal_hangup`), `Hangup`, and the channel is gone.
    pub(super) fn hangup(&mut self, id: ChanId) {
        let Some(c) = self.chans.get(&id) else { return };
        let cause = c.cause;
        let tech = c.tech.clone();
        let dialstatus = c.vars.get("DIALSTATUS").cloned();
        let extra = format!(
            "{{\"hangupcause\":{cause},\"hangupsource\":\"{}\",\"dialstatus\":\"{}\"}}",
            c.hangup_source,
            dialstatus.clone().unwrap_or_default()
        );
        self.cdr_post(id);
        self.cel(id, "HANGUP", "", &extra);
        self.cel(id, "CHAN_END", "", "");
        if let Tech::Local { pair, two } = tech {
            let partner = self.pairs.get_mut(&pair).and_then(|p| {
                if two {
                    p.two = None;
                    p.one
                } else {
                    p.one = None;
                    p.two
                }
            });
            if let Some(partner) = partner {
                if two {
                    // The chan side hangs up: the owner learns the Dial's status and cause.
                    if let Some(status) = dialstatus {
                        if let Some(p) = self.chans.get_mut(&partner) {
                            p.cause = cause;
                        }
                        self.set_var(partner, "CHANLOCALSTATUS", &status);
                    }
                    self.request_hangup(partner, cause);
                } else if self.chans.get(&partner).is_some_and(|p| p.exec.is_some()) {
                    self.request_hangup(partner, cause);
                } else {
                    self.hangup(partner);
                }
            }
        }
        let cause_s = cause.to_string();
        self.chan_event("Hangup", id, &[("Cause", &cause_s), ("Cause-txt", cause_text(cause))]);
        // The last channel of the call: CEL's LINKEDID_END.
        let linkedid = self.chans.get(&id).map(|c| c.linkedid.clone()).unwrap_or_default();
        if self.chans.values().filter(|c| c.linkedid == linkedid).count() == 1 {
            self.cel(id, "LINKEDID_END", "", "");
        }
        let Some(gone) = self.chans.remove(&id) else { return };
        match tech {
            Tech::Local { pair, .. } => {
                let done =
                    self.pairs.get(&pair).is_some_and(|p| p.one.is_none() && p.two.is_none());
                if done && let Some(p) = self.pairs.remove(&pair) {
                    let busy = self.pairs.values().any(|q| q.device == p.device && q.in_use);
                    if p.in_use && !busy {
                        self.device_state(&p.device, "NOT_INUSE");
                    }
                }
            }
            Tech::Phone(_) => {
                let dev = gone.device();
                if !self.chans.values().any(|c| c.device() == dev) {
                    self.device_state(&dev, "NOT_INUSE");
                }
            }
        }
    }
}
