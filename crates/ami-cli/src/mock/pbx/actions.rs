//! The actions the mock simulates, answered from its channels and dialplan as Asterisk's
//! handlers answer them (`main/manager.c`, `pbx_config.c`).

use ami_proto::encode::{Event, Response};
use ami_proto::server::{ActionRef, Server, ServerError, SessionId};

use super::channel::{ChanId, snapshot, state_desc};
use super::lists::List;
use super::{ASTERISK_VERSION, Pbx};

/// Actions the mock simulates (besides those the core's server answers itself: Login,
/// Logoff, Challenge, Events, Filter, Ping, ListCommands, WaitEvent). The other actions of
/// the registered modules answer as Asterisk does when it has nothing to act on.
#[cfg(test)]
pub(super) const MOCK_ACTIONS: &[&str] = &[
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
    "BridgeList",
    "DBDel",
    "DBDelTree",
    "DBGet",
    "DBGetTree",
    "DBPut",
    "DeviceStateList",
    "DialplanExtensionRemove",
    "ExtensionState",
    "ModuleLoad",
    "Reload",
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
                } else if chan.is_empty()
                    && self.globals.len() >= super::MAX_VARS
                    && !self.globals.contains_key(&var)
                {
                    server.error(sid, &action, "Variable not set")
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
                    if self.set_var(id, &var, &text("Value")) {
                        server.ack(sid, &action, "Variable Set")
                    } else {
                        server.error(sid, &action, "Variable not set")
                    }
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
            "BridgeList" => self.bridge_list(server, sid, &action, &text("BridgeType")),
            "DBPut" => {
                let (family, key) = (text("Family"), text("Key"));
                if family.is_empty() {
                    server.error(sid, &action, "No family specified")
                } else if key.is_empty() {
                    server.error(sid, &action, "No key specified")
                } else {
                    let path = format!("/{family}/{key}");
                    if self.astdb.len() >= super::MAX_VARS && !self.astdb.contains_key(&path) {
                        server.error(sid, &action, "Failed to update entry")
                    } else {
                        self.astdb.insert(path, text("Val"));
                        server.ack(sid, &action, "Updated database successfully")
                    }
                }
            }
            "DBGet" | "DBDel" => {
                let (family, key) = (text("Family"), text("Key"));
                let path = format!("/{family}/{key}");
                if family.is_empty() {
                    server.error(sid, &action, "No family specified.")
                } else if key.is_empty() {
                    server.error(sid, &action, "No key specified.")
                } else if action.name() == "DBDel" {
                    match self.astdb.remove(&path) {
                        Some(_) => server.ack(sid, &action, "Key deleted successfully"),
                        None => server.error(sid, &action, "Database entry could not be deleted"),
                    }
                } else if let Some(val) = self.astdb.get(&path).cloned() {
                    let ev = Event::new("DBGetResponse")
                        .with("Family", family.as_str())
                        .with("Key", key.as_str())
                        .with("Val", val)
                        .with("ActionID", action.action_id().unwrap_or_default());
                    self.send_list(
                        server,
                        sid,
                        &action,
                        List {
                            message: "Result will follow",
                            items: vec![ev],
                            complete: "DBGetComplete",
                            extra: Vec::new(),
                        },
                    )
                } else {
                    server.error(sid, &action, "Database entry not found")
                }
            }
            "DBDelTree" => {
                let (family, key) = (text("Family"), text("Key"));
                if family.is_empty() {
                    server.error(sid, &action, "No family specified.")
                } else {
                    let prefix = tree_prefix(&family, &key);
                    let before = self.astdb.len();
                    self.astdb.retain(|k, _| !in_tree(k, &prefix));
                    if self.astdb.len() == before {
                        server.error(sid, &action, "Database entry not found")
                    } else {
                        server.ack(sid, &action, "Key tree deleted successfully")
                    }
                }
            }
            "DBGetTree" => {
                let prefix = tree_prefix(&text("Family"), &text("Key"));
                let items: Vec<Event> = self
                    .astdb
                    .iter()
                    .filter(|(k, _)| prefix.is_empty() || in_tree(k, &prefix))
                    .map(|(k, v)| {
                        Event::new("DBGetTreeResponse")
                            .with("Key", k.as_str())
                            .with("Val", v.as_str())
                            .with("ActionID", action.action_id().unwrap_or_default())
                    })
                    .collect();
                self.send_list(
                    server,
                    sid,
                    &action,
                    List {
                        message: "Result will follow",
                        items,
                        complete: "DBGetTreeComplete",
                        extra: Vec::new(),
                    },
                )
            }
            "DeviceStateList" => {
                let items: Vec<Event> = self
                    .devices
                    .iter()
                    .map(|(d, st)| {
                        Event::new("DeviceStateChange")
                            .with("Device", d.as_str())
                            .with("State", *st)
                    })
                    .collect();
                self.send_list(
                    server,
                    sid,
                    &action,
                    List {
                        message: "Device State Changes will follow",
                        items,
                        complete: "DeviceStateListComplete",
                        extra: Vec::new(),
                    },
                )
            }
            "DialplanExtensionRemove" => {
                let (context, exten) = (text("Context"), text("Extension"));
                if context.is_empty() || exten.is_empty() {
                    server.error(
                        sid,
                        &action,
                        "Context and Extension must be provided for DialplanExtensionRemove",
                    )
                } else if self.dialplan.extension(&context, &exten).is_some() {
                    server.error(
                        sid,
                        &action,
                        "DialplanExtensionRemove is not simulated by ami mock",
                    )
                } else {
                    server.error(sid, &action, "Failed to remove requested extension")
                }
            }
            "ExtensionState" => {
                let exten = text("Exten");
                let context = Some(text("Context"))
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| "default".into());
                if exten.is_empty() {
                    server.error(sid, &action, "Extension not specified")
                } else {
                    // The mock's dialplans have no hints: the state is unknown.
                    let r = Response::new("Success")
                        .with("Message", "Extension Status")
                        .with("Exten", exten.as_str())
                        .with("Context", context.as_str())
                        .with("Hint", "")
                        .with("Status", "-1")
                        .with("StatusText", "Unknown");
                    server.respond(sid, &action, &r)
                }
            }
            "ModuleLoad" => {
                self.module_load(server, sid, &action, &text("Module"), &text("LoadType"))
            }
            "Reload" => {
                let module = text("Module");
                if module.is_empty()
                    || is_module(&module)
                    || BUILTIN_RELOADS.contains(&module.as_str())
                {
                    server.ack(sid, &action, "Module Reloaded")
                } else {
                    server.error(sid, &action, "No such module")
                }
            }
            _ => {
                self.unsupported(server, sid, &action);
                return;
            }
        };
        // An answer fails only when the session is gone or was closed for not reading its
        // list answer (the core then ended the action): nothing more to do either way.
        let _ = result;
    }

    /// Calls in progress as Asterisk counts them (`ast_active_calls`): channels running the
    /// dialplan.
    fn active_calls(&self) -> usize {
        self.chans
            .values()
            .filter(|c| {
                c.exec.as_ref().is_some_and(|e| matches!(e.mode, super::exec::Mode::Dialplan))
            })
            .count()
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
            let matched: Vec<(ChanId, String)> = self
                .chans
                .iter()
                .filter(|(_, c)| re.is_match(&c.name))
                .map(|(id, c)| (*id, c.name.clone()))
                .collect();
            let mut items = Vec::with_capacity(matched.len());
            for (id, name) in &matched {
                self.soft_hangup(*id, cause);
                let mut item = Event::new("ChannelHungup").with("Channel", name.as_str());
                if let Some(id) = action.action_id() {
                    item.push("ActionID", id);
                }
                items.push(item);
            }
            return self.send_list(
                server,
                sid,
                action,
                List {
                    message: "Channels hung up will follow",
                    items,
                    complete: "ChannelsHungupListComplete",
                    extra: Vec::new(),
                },
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
                format!("System uptime: {}\nLast reload: {}\n", uptime(up), uptime(up))
            }
            "core show channels" => {
                // `handle_chanlist`: "%-64.64s %-32.32s %-7.7s %-30.30s\n".
                let row = |a: &str, b: &str, c: &str, d: &str| {
                    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
                    format!(
                        "{:<64} {:<32} {:<7} {:<30}\n",
                        cut(a, 64),
                        cut(b, 32),
                        cut(c, 7),
                        cut(d, 30)
                    )
                };
                let mut out = row("Channel", "Location", "State", "Application(Data)");
                for c in self.chans.values() {
                    let loc = if c.context.is_empty() || c.exten.is_empty() {
                        "(None)".to_owned()
                    } else {
                        format!("{}@{}:{}", c.exten, c.context, c.priority)
                    };
                    let (app, data) = c.shown_app();
                    let app = if app.is_empty() {
                        "(None)".to_owned()
                    } else {
                        format!("{app}({data})").chars().take(39).collect()
                    };
                    out.push_str(&row(&c.name, &loc, state_desc(c.state), &app));
                }
                let n = self.chans.len();
                let calls = self.active_calls();
                let ess = |n: u64| if n == 1 { "" } else { "s" };
                out.push_str(&format!(
                    "{n} active channel{}\n{calls} active call{}\n{} call{} processed\n",
                    ess(n as u64),
                    ess(calls as u64),
                    self.processed_calls,
                    ess(self.processed_calls),
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
        let mut list = Vec::with_capacity(8);
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
            list.push(ev);
        }
        let items = vec![("Items".to_owned(), list.len().to_string())];
        self.send_list(
            server,
            sid,
            action,
            List {
                message: "Channel status will follow",
                items: list,
                complete: "StatusComplete",
                extra: items,
            },
        )
    }

    fn core_show_channels(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
    ) -> Result<(), ServerError> {
        let ids: Vec<ChanId> = self.chans.keys().copied().collect();
        let mut list = Vec::with_capacity(ids.len());
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
            list.push(ev);
        }
        self.send_list(
            server,
            sid,
            action,
            List {
                message: "Channels will follow",
                items: list,
                complete: "CoreShowChannelsComplete",
                extra: Vec::new(),
            },
        )
    }

    /// BridgeList (`manager_bridges.c`): the mock's bridges.
    fn bridge_list(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        kind: &str,
    ) -> Result<(), ServerError> {
        let ids: Vec<u64> = self.bridges.keys().copied().collect();
        let items: Vec<Event> = if kind.is_empty() || kind.eq_ignore_ascii_case("basic") {
            ids.iter()
                .map(|b| {
                    let mut ev = Event::new("BridgeListItem");
                    for (k, v) in self.bridge_fields(*b) {
                        ev.push(k, v);
                    }
                    ev
                })
                .collect()
        } else {
            Vec::new()
        };
        self.send_list(
            server,
            sid,
            action,
            List {
                message: "Bridge listing will follow",
                items,
                complete: "BridgeListComplete",
                extra: Vec::new(),
            },
        )
    }

    /// ModuleLoad (`manager_moduleload`), whose checks do not stop at the first failure.
    fn module_load(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        module: &str,
        load_type: &str,
    ) -> Result<(), ServerError> {
        let mut errors: Vec<&str> = Vec::new();
        if load_type.is_empty() {
            errors.push("Incomplete ModuleLoad action.");
        }
        if module.is_empty() {
            if !load_type.eq_ignore_ascii_case("reload") {
                errors.push("Need module name");
            }
            if load_type.is_empty() {
                errors.push("Incomplete ModuleLoad action.");
            }
        } else if is_module(module) {
            errors.push("ModuleLoad is not simulated by ami mock");
        } else {
            errors.push("Module not found.");
        }
        let id =
            action.action_id().map(|a| format!("ActionID: {}\r\n", String::from_utf8_lossy(a)));
        let raw: String = errors
            .iter()
            .map(|e| {
                format!("Response: Error\r\n{}Message: {e}\r\n\r\n", id.clone().unwrap_or_default())
            })
            .collect();
        server.respond_raw(sid, action, raw.as_bytes())
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
        let list: Vec<Event> = items
            .iter()
            .map(|[ctx, ext, prio, app, data]| {
                Event::new("ListDialplan")
                    .with("Context", ctx.as_str())
                    .with("Extension", ext.as_str())
                    .with("Priority", prio.as_str())
                    .with("Application", app.as_str())
                    .with("AppData", data.as_str())
                    .with("Registrar", "pbx_config")
            })
            .collect();
        let extra = vec![
            ("ListExtensions".to_owned(), extens.to_string()),
            ("ListPriorities".to_owned(), items.len().to_string()),
            ("ListContexts".to_owned(), contexts.to_string()),
        ];
        self.send_list(
            server,
            sid,
            action,
            List {
                message: "DialPlan list will follow",
                items: list,
                complete: "ShowDialPlanComplete",
                extra,
            },
        )
    }
}

/// The parts of Asterisk's core that reload like modules, by the name `Reload` takes: every
/// `main/*.c` of Asterisk 22 whose module info has a `.reload` (`manager` is what `ami user
/// --reload` asks for).
const BUILTIN_RELOADS: &[&str] = &[
    "cdr",
    "cel",
    "config",
    "dnsmgr",
    "dsp",
    "enum",
    "features",
    "http",
    "indications",
    "logger",
    "manager",
    "named_acl",
    "plc",
    "sorcery",
    "udptl",
];

/// Whether `name` (with or without `.so`) is one of the registered modules.
fn is_module(name: &str) -> bool {
    let name = name.strip_suffix(".so").unwrap_or(name);
    super::MODULES.contains(&name)
}

/// The astdb key prefix of `DBGetTree`/`DBDelTree` (`create_prefix`).
fn tree_prefix(family: &str, key: &str) -> String {
    match (family.is_empty(), key.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!("/{family}"),
        (false, false) => format!("/{family}/{key}"),
    }
}

/// Whether `key` is `prefix` or under it (`key || '/' LIKE prefix || '/' || '%'`).
fn in_tree(key: &str, prefix: &str) -> bool {
    key == prefix || key.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
}

/// `print_uptimestr`: "1 hour, 2 minutes, 3 seconds".
fn uptime(secs: u64) -> String {
    let mut left = secs;
    let mut parts = Vec::new();
    let units =
        [(31_536_000, "year"), (604_800, "week"), (86_400, "day"), (3600, "hour"), (60, "minute")];
    for (unit, name) in units {
        if left > unit {
            let n = left / unit;
            left -= n * unit;
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if left > 0 || parts.is_empty() {
        parts.push(format!("{left} second{}", if left == 1 { "" } else { "s" }));
    }
    parts.join(", ")
}
