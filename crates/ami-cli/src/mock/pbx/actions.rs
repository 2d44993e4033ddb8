//! The actions the mock simulates, answered from its channels and dialplan as Asterisk's
//! handlers answer them (`main/manager.c`, `pbx_config.c`).

use ami_proto::encode::{Event, Response};
use ami_proto::server::{ActionRef, Server, ServerError, SessionId};

use super::channel::{ChanId, snapshot, state_desc};
use super::{ASTERISK_VERSION, Pbx};

/// Actions the mock simulates (besides those the core's server answers itself: Login,
/// Logoff, Challenge, Events, Filter, Ping, ListCommands, WaitEvent). The other actions of
/// the registered modules answer as Asterisk does when it has nothing to act on.
pub const MOCK_ACTIONS: &[&str] = &[
    "CoreSettings",
    "CoreStatus",
    "Command",
    "Originate",
    "Hangup",
    "Status",
    "CoreShowChannels",
    "Getvar",
    "Setvar",
    "UserEvent",
    "ShowDialPlan",
];

impl Pbx {
    /// Answers an action.
    pub(super) fn action(&mut self, server: &mut Server, sid: SessionId, action: ActionRef) {
        let text = |name: &str| {
            action.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
        };
        let result = match action.name() {
            "CoreSettings" => {
                let r = Response::new("Success")
                    .with("AMIversion", "11.0.0")
                    .with("AsteriskVersion", ASTERISK_VERSION)
                    .with("SystemName", "")
                    .with("CoreMaxCalls", "0")
                    .with("CoreMaxLoadAvg", "0.000000")
                    .with("CoreRunUser", "")
                    .with("CoreRunGroup", "")
                    .with("CoreMaxFilehandles", "0")
                    .with("CoreRealTimeEnabled", "No")
                    .with("CoreCDRenabled", "Yes")
                    .with("CoreHTTPenabled", "No")
                    .with("SoundsSearchCustomDir", "No");
                server.respond(sid, &action, &r)
            }
            "CoreStatus" => {
                let started = self.wall(self.started);
                let (date, time) = started.split_once(' ').unwrap_or(("", ""));
                let calls = self.active_calls();
                let r = Response::new("Success")
                    .with("CoreStartupDate", date)
                    .with("CoreStartupTime", time)
                    .with("CoreReloadDate", date)
                    .with("CoreReloadTime", time)
                    .with("CoreCurrentCalls", calls.to_string())
                    .with("CoreProcessedCalls", self.processed_calls.to_string());
                server.respond(sid, &action, &r)
            }
            "Command" => self.command(server, sid, &action, &text("Command")),
            "Originate" => {
                self.originate_action(server, sid, action);
                return;
            }
            "Hangup" => self.hangup_action(server, sid, &action, &text("Channel"), &text("Cause")),
            "Status" => self.status(server, sid, &action, &text("Channel"), &text("Variables")),
            "CoreShowChannels" => self.core_show_channels(server, sid, &action),
            "Getvar" => self.getvar(server, sid, &action, &text("Channel"), &text("Variable")),
            "Setvar" => {
                let (chan, var) = (text("Channel"), text("Variable"));
                if var.is_empty() {
                    server.error(sid, &action, "No variable specified")
                } else if chan.is_empty() {
                    let value = text("Value");
                    self.globals.insert(var.clone(), value.clone());
                    let f: Vec<(String, String)> = [
                        ("Channel", "none"),
                        ("Uniqueid", "none"),
                        ("Variable", var.as_str()),
                        ("Value", value.as_str()),
                    ]
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                    let r = server.ack(sid, &action, "Variable Set");
                    self.publish("VarSet", &f);
                    r
                } else if let Some(id) = self.find(&chan) {
                    let r = server.ack(sid, &action, "Variable Set");
                    self.set_var(id, &var, &text("Value"));
                    r
                } else {
                    server.error(sid, &action, "No such channel")
                }
            }
            "UserEvent" => {
                let name = text("UserEvent");
                let mut f: Vec<(String, String)> = vec![("UserEvent".into(), name)];
                for h in action.message().iter() {
                    if h.is_bare() || h.is(b"Action") || h.is(b"UserEvent") {
                        continue;
                    }
                    f.push((
                        String::from_utf8_lossy(h.name()).into_owned(),
                        String::from_utf8_lossy(h.value()).into_owned(),
                    ));
                }
                let r = server.ack(sid, &action, "Event Sent");
                self.publish("UserEvent", &f);
                r
            }
            "ShowDialPlan" => {
                self.show_dialplan(server, sid, &action, &text("Context"), &text("Extension"))
            }
            _ => {
                super::unsupported::answer(server, sid, &action);
                return;
            }
        };
        // An answer fails only when the session is gone or was closed for not reading its
        // list answer (the core then ended the action): nothing more to do either way.
        let _ = result;
    }

    /// Calls in progress, as `CoreCurrentCalls` counts them (channels that are not the
    /// outgoing leg of another: `ast_active_calls`).
    fn active_calls(&self) -> usize {
        let linked: std::collections::BTreeSet<&str> =
            self.chans.values().map(|c| c.linkedid.as_str()).collect();
        linked.len()
    }

    fn hangup_action(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        chan: &str,
        cause: &str,
    ) -> Result<(), ServerError> {
        if chan.is_empty() {
            return server.error(sid, action, "No channel specified");
        }
        let cause: u32 = match cause.trim().parse::<u32>() {
            Ok(c) if c <= 127 => c,
            _ => 0,
        };
        if let Some(pattern) = chan.strip_prefix('/').and_then(|p| p.strip_suffix('/')) {
            let Ok(re) = regex::Regex::new(pattern) else {
                return server.error(sid, action, format!("Regex compile failed on: {chan}"));
            };
            server.list_start(sid, action, "Channels hung up will follow")?;
            let matched: Vec<(ChanId, String)> = self
                .chans
                .iter()
                .filter(|(_, c)| re.is_match(&c.name))
                .map(|(id, c)| (*id, c.name.clone()))
                .collect();
            for (id, name) in &matched {
                self.soft_hangup(*id, cause);
                server.list_item(
                    sid,
                    action,
                    &Event::new("ChannelHungup").with("Channel", name.as_str()),
                )?;
            }
            return server.list_complete(
                sid,
                action,
                "ChannelsHungupListComplete",
                matched.len(),
                &[],
            );
        }
        let Some(id) = self.find(chan) else {
            return server.error(sid, action, "No such channel");
        };
        self.soft_hangup(id, cause);
        server.ack(sid, action, "Channel Hungup")
    }

    /// `ast_channel_softhangup_withcause_locked`: no event of its own; whatever holds the
    /// channel ends it.
    fn soft_hangup(&mut self, id: ChanId, cause: u32) {
        if let Some(c) = self.chans.get_mut(&id) {
            if cause > 0 {
                c.cause = cause;
            }
            c.hangup_requested = true;
        }
        self.soon(super::Job::HangupWake(id));
    }

    fn getvar(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        chan: &str,
        var: &str,
    ) -> Result<(), ServerError> {
        if var.is_empty() {
            return server.error(sid, action, "No variable specified");
        }
        let id = if chan.is_empty() {
            None
        } else {
            match self.find(chan) {
                Some(id) => Some(id),
                None => return server.error(sid, action, "No such channel"),
            }
        };
        let value = self.read_var(id, var);
        let r = Response::new("Success").with("Variable", var).with("Value", value);
        server.respond(sid, action, &r)
    }

    /// A variable or function as Getvar reads it (on a channel, or globally).
    fn read_var(&self, id: Option<ChanId>, var: &str) -> String {
        if let Some(arg) = var.strip_prefix("LEN(").and_then(|r| r.strip_suffix(')')) {
            return arg.chars().count().to_string();
        }
        let Some(id) = id else {
            return self.globals.get(var).cloned().unwrap_or_default();
        };
        let Some(c) = self.chans.get(&id) else { return String::new() };
        match var.to_ascii_uppercase().as_str() {
            "CHANNEL(STATE)" => state_desc(c.state).to_owned(),
            "CHANNEL(NAME)" => c.name.clone(),
            _ => self.substitute(id, &format!("${{{var}}}")),
        }
    }

    fn command(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        cmd: &str,
    ) -> Result<(), ServerError> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        if words.is_empty() {
            return server.error(sid, action, "No command provided");
        }
        let norm = words.join(" ").to_ascii_lowercase();
        let output = match norm.as_str() {
            "core show version" => format!(
                "Asterisk {ASTERISK_VERSION} built by libami @ mock on a x86_64 running Linux (ami mock)\n"
            ),
            "core show uptime" => {
                let up = self.now.saturating_duration_since(self.started).as_millis() / 1000;
                format!("System uptime: {up} seconds\nLast reload: {up} seconds\n")
            }
            "core show channels" => {
                let mut out = format!(
                    "{:<20} {:<20} {:<15} {}\n",
                    "Channel", "Location", "State", "Application(Data)"
                );
                for c in self.chans.values() {
                    let loc = format!("{}@{}:{}", c.exten, c.context, c.priority);
                    let (app, data) = c.shown_app();
                    let app =
                        if app.is_empty() { "(None)".to_owned() } else { format!("{app}({data})") };
                    out.push_str(&format!(
                        "{:<20} {:<20} {:<15} {}\n",
                        c.name,
                        loc,
                        state_desc(c.state),
                        app
                    ));
                }
                let n = self.chans.len();
                let calls = self.active_calls();
                out.push_str(&format!(
                    "{n} active channel{}\n{calls} active call{}\n{} call{} processed\n",
                    if n == 1 { "" } else { "s" },
                    if calls == 1 { "" } else { "s" },
                    self.processed_calls,
                    if self.processed_calls == 1 { "" } else { "s" },
                ));
                out
            }
            _ => {
                let best = words.iter().take(2).copied().collect::<Vec<_>>().join(" ");
                let text = format!(
                    "No such command '{}' (type 'core show help {best}' for other possible commands)\n",
                    words.join(" ")
                );
                return server.command_output(sid, action, false, text.as_bytes());
            }
        };
        server.command_output(sid, action, true, output.as_bytes())
    }

    fn status(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        only: &str,
        variables: &str,
    ) -> Result<(), ServerError> {
        let only_id = if only.is_empty() {
            None
        } else {
            match self.find(only) {
                Some(id) => Some(id),
                None => return server.error(sid, action, "No such channel"),
            }
        };
        server.list_start(sid, action, "Channel status will follow")?;
        let ids: Vec<ChanId> = match only_id {
            Some(id) => vec![id],
            None => self.chans.keys().copied().collect(),
        };
        let vars: Vec<&str> =
            variables.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
        for id in &ids {
            let Some(c) = self.chans.get(id) else { continue };
            let secs = self.now.saturating_duration_since(c.created).as_millis() / 1000;
            let mut f: Vec<(String, String)> = vec![("Privilege".into(), "Call".into())];
            snapshot(&mut f, c, "");
            let (app, data) = c.shown_app();
            let bridge = self.bridge_uniqueid(*id);
            let unknown =
                |s: &str| if s.is_empty() { "<unknown>".to_owned() } else { s.to_owned() };
            for (k, v) in [
                ("Type", c.tech_name().to_owned()),
                ("DNID", String::new()),
                ("EffectiveConnectedLineNum", unknown(&c.connected.num)),
                ("EffectiveConnectedLineName", unknown(&c.connected.name)),
                ("TimeToHangup", "0".to_owned()),
                ("BridgeID", bridge),
                ("Application", app.to_owned()),
                ("Data", data.to_owned()),
                ("Nativeformats", "(slin)".to_owned()),
                ("Readformat", "slin".to_owned()),
                ("Readtrans", String::new()),
                ("Writeformat", "slin".to_owned()),
                ("Writetrans", String::new()),
                ("Callgroup", "0".to_owned()),
                ("Pickupgroup", "0".to_owned()),
                ("Seconds", secs.to_string()),
            ] {
                f.push((k.to_owned(), v));
            }
            for v in &vars {
                let value = c.vars.get(*v).cloned().unwrap_or_else(|| "(null)".to_owned());
                f.push(("Variable".into(), format!("{v}={value}")));
            }
            if let Some(aid) = action.action_id() {
                f.push(("ActionID".into(), String::from_utf8_lossy(aid).into_owned()));
            }
            let mut ev = Event::new("Status");
            for (k, v) in f {
                ev.push(k, v);
            }
            server.list_item(sid, action, &ev)?;
        }
        let items = ids.len().to_string();
        server.list_complete(sid, action, "StatusComplete", ids.len(), &[("Items", &items)])
    }

    fn core_show_channels(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
    ) -> Result<(), ServerError> {
        server.list_start(sid, action, "Channels will follow")?;
        let ids: Vec<ChanId> = self.chans.keys().copied().collect();
        for id in &ids {
            let Some(c) = self.chans.get(id) else { continue };
            let mut f = Vec::with_capacity(20);
            snapshot(&mut f, c, "");
            let secs = self.now.saturating_duration_since(c.created).as_millis() / 1000;
            let (app, data) = c.shown_app();
            f.push(("Application".into(), app.to_owned()));
            f.push(("ApplicationData".into(), data.to_owned()));
            f.push((
                "Duration".into(),
                format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
            ));
            f.push(("BridgeId".into(), self.bridge_uniqueid(*id)));
            let mut ev = Event::new("CoreShowChannel");
            for (k, v) in f {
                ev.push(k, v);
            }
            server.list_item(sid, action, &ev)?;
        }
        server.list_complete(sid, action, "CoreShowChannelsComplete", ids.len(), &[])
    }

    /// ShowDialPlan (`pbx_config.c` `manager_show_dialplan`) over the mock's dialplan.
    fn show_dialplan(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        context: &str,
        exten: &str,
    ) -> Result<(), ServerError> {
        let mut items: Vec<[String; 5]> = Vec::new();
        let (mut contexts, mut extens) = (0usize, 0usize);
        for ctx in &self.dialplan.contexts {
            if !context.is_empty() && ctx.name != context {
                continue;
            }
            let mut any = false;
            for ext in &ctx.extensions {
                if !exten.is_empty() && ext.name != exten {
                    continue;
                }
                extens += 1;
                any = true;
                for p in &ext.priorities {
                    items.push([
                        ctx.name.clone(),
                        ext.name.clone(),
                        p.number.to_string(),
                        p.app.clone(),
                        p.data.clone(),
                    ]);
                }
            }
            contexts += usize::from(any);
        }
        if items.is_empty() && !(context.is_empty() && exten.is_empty()) {
            let msg = if exten.is_empty() {
                format!("Did not find context {context}")
            } else {
                format!("Did not find extension {exten}@{context}")
            };
            return server.error(sid, action, msg);
        }
        server.list_start(sid, action, "DialPlan list will follow")?;
        for [ctx, ext, prio, app, data] in &items {
            let ev = Event::new("ListDialplan")
                .with("Context", ctx.as_str())
                .with("Extension", ext.as_str())
                .with("Priority", prio.as_str())
                .with("Application", app.as_str())
                .with("AppData", data.as_str())
                .with("Registrar", "pbx_config");
            server.list_item(sid, action, &ev)?;
        }
        let (n, e, c) = (items.len().to_string(), extens.to_string(), contexts.to_string());
        server.list_complete(
            sid,
            action,
            "ShowDialPlanComplete",
            items.len(),
            &[("ListExtensions", &e), ("ListPriorities", &n), ("ListContexts", &c)],
        )
    }
}
