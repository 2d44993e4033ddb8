//! The Originate action (`action_originate`, `fast_originate`, `ast_pbx_outgoing_app` and
//! `_exten`): dial a channel, and when it answers run an application or the dialplan on it.

use ami_proto::server::{ActionRef, Server, SessionId};
use ami_proto::time::Duration;

use super::channel::{ChanId, Owner};
use super::{Control, Job, Out, Pbx};

/// What runs on the originated channel once it answers.
#[derive(Clone, Debug)]
pub(super) enum Target {
    App { app: String, data: String },
    Exten { context: String, exten: String, priority: u32 },
}

/// An Originate waiting for its channel to answer.
#[derive(Debug)]
pub(super) struct OriginateOp {
    session: SessionId,
    /// The action, answered when the channel answers (sync) or already acknowledged (async).
    action: ActionRef,
    is_async: bool,
    action_id: Option<String>,
    chan: ChanId,
    /// `tech/data` as requested (the `Channel` of a failed `OriginateResponse`).
    requested: String,
    target: Target,
    cid: (String, String),
    /// `ChannelId`: the Uniqueid a failed `OriginateResponse` names.
    channel_id: String,
    ringing: bool,
    /// The timeout's scheduled job.
    timer: Option<u64>,
}

/// C `sscanf("%30d")`: optional blanks and sign, then digits.
fn scan_int(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    let v: i64 = digits[..end].parse().ok()?;
    Some(if neg { -v } else { v })
}

/// `ast_callerid_parse`: `"Name" <num>`, `Name <num>`, or a number alone.
fn parse_callerid(cid: &str) -> (String, String) {
    let cid = cid.trim();
    match cid.split_once('<') {
        Some((name, rest)) => {
            let num = rest.split('>').next().unwrap_or("").trim().to_owned();
            (name.trim().trim_matches('"').to_owned(), num)
        }
        None if cid.chars().all(|c| c.is_ascii_digit() || "+-()# *".contains(c)) => {
            (String::new(), cid.chars().filter(|c| !"-() ".contains(*c)).collect())
        }
        None => (cid.trim_matches('"').to_owned(), String::new()),
    }
}

impl Pbx {
    /// Answers `Originate` as `action_originate` does.
    pub(super) fn originate_action(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: ActionRef,
    ) {
        let text = |name: &str| {
            action.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
        };
        let (channel, exten, context) = (text("Channel"), text("Exten"), text("Context"));
        let (priority, timeout, app) = (text("Priority"), text("Timeout"), text("Application"));
        let error =
            |server: &mut Server, msg: &str| super::reply(server, sid, &action, "Error", msg);
        if text("ChannelId").len() > 149 || text("OtherChannelId").len() > 149 {
            return error(server, "Uniqueid length exceeds maximum of 149\n");
        }
        if channel.is_empty() {
            return error(server, "Channel not specified");
        }
        let mut pi: u32 = 0;
        if !priority.is_empty() {
            match scan_int(&priority) {
                Some(p) => pi = u32::try_from(p).unwrap_or(0),
                None => match self.dialplan.label(&context, &exten, priority.trim()) {
                    Some(p) => pi = p,
                    None => return error(server, "Invalid priority"),
                },
            }
        }
        let mut to_ms: i64 = 30_000;
        if !timeout.is_empty() {
            match scan_int(&timeout) {
                Some(t) => to_ms = t,
                None => return error(server, "Invalid timeout"),
            }
        }
        // `ast_copy_string(tmp, name, 256)`, then the part before the first '/'.
        let cut: String = channel.chars().take(255).collect();
        let Some((tech, data)) = cut.split_once('/') else {
            return error(server, "Invalid channel");
        };
        let (tech, data) = (tech.to_owned(), data.to_owned());
        let cid = parse_callerid(&text("CallerID"));
        if pi != 0 && !self.dialplan.exists(&context, &exten, pi) {
            return error(server, "Extension does not exist.");
        }
        let is_async = ami_proto::config::ast_true(&text("Async"));
        let target = if !app.is_empty() {
            Target::App { app, data: text("Data") }
        } else if pi != 0 || is_async {
            Target::Exten { context, exten, priority: pi }
        } else {
            return error(server, "Originate with 'Exten' requires 'Context' and 'Priority'");
        };
        let action_id = action.action_id().map(|a| String::from_utf8_lossy(a).into_owned());
        let ids = (
            Some(text("ChannelId")).filter(|s| !s.is_empty()),
            Some(text("OtherChannelId")).filter(|s| !s.is_empty()),
        );
        let vars: Vec<(String, String)> = action
            .message()
            .get_all(b"Variable")
            .flat_map(|v| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .filter_map(|kv| {
                        kv.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        if is_async {
            let _ = server.ack(sid, &action, "Originate successfully queued");
        }
        let requested = format!("{tech}/{data}");
        let Some(chan) = self.request(&tech, &data, None, ids.clone()) else {
            // No such technology: the dial fails at once.
            let op = OriginateOp {
                session: sid,
                action,
                is_async,
                action_id,
                chan: 0,
                requested,
                target,
                cid,
                channel_id: ids.0.clone().unwrap_or_default(),
                ringing: false,
                timer: None,
            };
            self.originate_result(&op, None, false, 0);
            return;
        };
        let op = self.op_id();
        for (k, v) in &vars {
            self.set_var(chan, k, v);
        }
        if let Some(c) = self.chans.get_mut(&chan) {
            c.base_app = ("AppDial2".to_owned(), "(Outgoing Line)".to_owned());
            c.owner = Owner::Originate(op);
            if !cid.1.is_empty() || !cid.0.is_empty() {
                c.caller.num.clone_from(&cid.1);
                c.caller.name.clone_from(&cid.0);
            }
        }
        let exten_now = self.chans.get(&chan).map(|c| c.exten.clone()).unwrap_or_default();
        self.chan_event(
            "Newexten",
            chan,
            &[
                ("Extension", &exten_now),
                ("Application", "AppDial2"),
                ("AppData", "(Outgoing Line)"),
            ],
        );
        self.originates.insert(
            op,
            OriginateOp {
                session: sid,
                action,
                is_async,
                action_id,
                chan,
                requested,
                target,
                cid,
                channel_id: ids.0.unwrap_or_default(),
                ringing: false,
                timer: None,
            },
        );
        if !self.call(chan) {
            if let Some(o) = self.originates.remove(&op) {
                self.originate_result(&o, None, false, 0);
            }
            return;
        }
        self.chans_event("DialBegin", &[(chan, "Dest")], &[("DialString", &data)]);
        let to = Duration::from_millis(u64::try_from(to_ms).unwrap_or(0));
        let timer = self.after(to, Job::OriginateTimeout { op });
        if let Some(o) = self.originates.get_mut(&op) {
            o.timer = Some(timer);
        }
    }

    /// The originated channel tells the Originate something.
    pub(super) fn originate_control(&mut self, op: u64, control: Control) {
        let (reason, status) = match control {
            Control::Ringing => {
                if let Some(o) = self.originates.get_mut(&op) {
                    o.ringing = true;
                }
                return;
            }
            Control::Answer => {
                let Some(o) = self.originates.remove(&op) else { return };
                self.cancel(o.timer);
                let chan = o.chan;
                self.chans_event("DialEnd", &[(chan, "Dest")], &[("DialStatus", "ANSWER")]);
                if let Some(c) = self.chans.get_mut(&chan) {
                    c.owner = Owner::None;
                }
                self.originate_result(&o, Some(chan), true, 4);
                match o.target {
                    Target::App { app, data } => self.start_app(chan, &app, &data),
                    Target::Exten { context, exten, priority } => {
                        if let Some(c) = self.chans.get_mut(&chan) {
                            c.context = context;
                            c.exten = exten;
                            c.priority = priority;
                        }
                        self.start_dialplan(chan);
                    }
                }
                return;
            }
            Control::Busy => (5, "BUSY"),
            Control::Congestion => (8, "CONGESTION"),
            Control::Hangup => (1, "CANCEL"),
        };
        self.originate_fail(op, reason, status);
    }

    /// The Originate's timeout: the channel did not answer.
    pub(super) fn originate_timeout(&mut self, op: u64) {
        let ringing = self.originates.get(&op).is_some_and(|o| o.ringing);
        self.originate_fail(op, if ringing { 3 } else { 0 }, "NOANSWER");
    }

    fn originate_fail(&mut self, op: u64, reason: u32, status: &str) {
        let Some(o) = self.originates.remove(&op) else { return };
        self.cancel(o.timer);
        self.chans_event("DialEnd", &[(o.chan, "Dest")], &[("DialStatus", status)]);
        if let Some(c) = self.chans.get_mut(&o.chan) {
            c.owner = Owner::None;
        }
        self.hangup(o.chan);
        self.originate_result(&o, None, false, reason);
    }

    /// The Originate's answer: the sync response, or the async `OriginateResponse`.
    fn originate_result(&mut self, o: &OriginateOp, chan: Option<ChanId>, ok: bool, reason: u32) {
        if !o.is_async {
            let (session, action) = (o.session, o.action.clone());
            self.out.push(if ok {
                Out::Ack { session, action, message: "Originate successfully queued" }
            } else {
                Out::Error { session, action, message: "Originate failed" }
            });
            return;
        }
        let (name, uid) = match chan.and_then(|c| self.chans.get(&c)) {
            Some(c) => (c.name.clone(), c.uniqueid.clone()),
            None if o.channel_id.is_empty() => (o.requested.clone(), "<unknown>".to_owned()),
            None => (o.requested.clone(), o.channel_id.clone()),
        };
        let or_unknown = |s: &str| if s.is_empty() { "<unknown>".to_owned() } else { s.to_owned() };
        let mut f: Vec<(String, String)> = Vec::new();
        if let Some(id) = &o.action_id {
            f.push(("ActionID".into(), id.clone()));
        }
        f.push(("Response".into(), if ok { "Success" } else { "Failure" }.into()));
        f.push(("Channel".into(), name));
        match &o.target {
            Target::App { app, data } => {
                f.push(("Application".into(), app.clone()));
                f.push(("Data".into(), data.clone()));
            }
            Target::Exten { context, exten, .. } => {
                f.push(("Context".into(), context.clone()));
                f.push(("Exten".into(), exten.clone()));
            }
        }
        f.push(("Reason".into(), reason.to_string()));
        f.push(("Uniqueid".into(), uid));
        f.push(("CallerIDNum".into(), or_unknown(&o.cid.1)));
        f.push(("CallerIDName".into(), or_unknown(&o.cid.0)));
        self.publish("OriginateResponse", &f);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_callerid;

    #[test]
    fn caller_ids_parse_like_asterisk() {
        assert_eq!(parse_callerid("\"Operator\" <100>"), ("Operator".into(), "100".into()));
        assert_eq!(parse_callerid("Bob <2-00>"), ("Bob".into(), "2-00".into()));
        assert_eq!(parse_callerid("555-1234"), (String::new(), "5551234".into()));
        assert_eq!(parse_callerid(""), (String::new(), String::new()));
    }
}
