//! A channel's thread: the dialplan (`__ast_pbx_run`), or the one application an Originate
//! runs (`ast_pbx_outgoing_app`), and the applications the conformance dialplan uses.
//!
//! Applications that Asterisk has but the mock does not simulate (Queue, ConfBridge, ...)
//! end the dialplan as an unknown application does in Asterisk (`pbx_findapp` fails: no
//! `Newexten`, the channel hangs up).

use ami_proto::time::Duration;

use super::channel::{BUSY, ChanId, UP};
use super::{Control, Job, Pbx};

/// What a channel's thread runs.
#[derive(Clone, Debug)]
pub(super) enum Mode {
    /// The dialplan, from the channel's context, extension and priority.
    Dialplan,
    /// One application, then the channel hangs up (an originated channel).
    App { app: String, data: String },
}

/// What a channel's thread waits for.
#[derive(Clone, Debug)]
pub(super) enum Block {
    /// Nothing: it runs its next step.
    Running,
    /// A timer (or, with none scheduled, only a hangup), then `then`.
    Sleep { then: Then },
    /// The end of its Dial.
    Dialing(u64),
}

/// What a sleeping application does when its timer fires.
#[derive(Clone, Debug)]
pub(super) enum Then {
    /// Returns 0: the dialplan goes on.
    Continue,
    /// Returns -1: the dialplan ends (Busy, Congestion after their timeout).
    Stop,
    /// Playback: the file `next` ended.
    Playback { files: Vec<String>, next: usize },
}

/// Why a waiting thread is woken.
#[derive(Clone, Debug)]
pub(super) enum Resume {
    /// Its timer fired.
    Timer,
    /// A hangup was requested.
    Hangup,
    /// Its Dial ended with this result.
    Dial(Outcome),
}

/// What an application returns.
#[derive(Clone, Debug)]
pub(super) enum Outcome {
    /// 0: on to the next priority.
    Continue,
    /// -1: the dialplan ends and the channel hangs up.
    Stop,
    /// Goto: on at this place.
    Goto { context: String, exten: String, priority: u32 },
    /// The application waits.
    Block(Block),
}

/// A channel's thread.
#[derive(Clone, Debug)]
pub(super) struct Exec {
    pub mode: Mode,
    pub block: Block,
    /// Tells the current timer from stale ones.
    pub token: u64,
    /// The scheduled timer of the current wait, cancelled when woken otherwise.
    pub timer: Option<u64>,
}

/// The applications the mock runs, by their registered names.
const APPS: &[&str] = &[
    "Answer",
    "Busy",
    "Congestion",
    "Dial",
    "Echo",
    "Goto",
    "Hangup",
    "MSet",
    "NoOp",
    "Playback",
    "Progress",
    "Ringing",
    "Set",
    "UserEvent",
    "Wait",
];

/// The registered name of application `name` (case-insensitive, as `pbx_findapp`).
pub(super) fn app_name(name: &str) -> Option<&'static str> {
    APPS.iter().copied().find(|a| a.eq_ignore_ascii_case(name))
}

/// Splits application arguments at commas outside quotes and parentheses
/// (`AST_STANDARD_APP_ARGS`).
pub(super) fn app_args(data: &str) -> Vec<String> {
    let mut args = vec![String::new()];
    let mut depth = 0u32;
    let mut quoted = false;
    for c in data.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                args.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = args.last_mut() {
            last.push(c);
        }
    }
    args
}

/// Seconds as Asterisk's apps read them (`atof`), as a duration; `None` if not positive.
fn seconds(text: &str) -> Option<Duration> {
    let t = text.trim();
    let end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let secs: f64 = t[..end].parse().ok()?;
    (secs > 0.0).then(|| Duration::from_millis((secs * 1000.0) as u64))
}

impl Pbx {
    /// Starts the dialplan on a channel at its context, extension and priority.
    pub(super) fn start_dialplan(&mut self, id: ChanId) {
        let token = self.token();
        if let Some(c) = self.chans.get_mut(&id) {
            c.exec = Some(Exec { mode: Mode::Dialplan, block: Block::Running, token, timer: None });
            self.processed_calls += 1;
            self.soon(Job::Step(id));
        }
    }

    /// Runs one application on an answered originated channel, then hangs it up.
    pub(super) fn start_app(&mut self, id: ChanId, app: &str, data: &str) {
        let token = self.token();
        if let Some(c) = self.chans.get_mut(&id) {
            let mode = Mode::App { app: app.to_owned(), data: data.to_owned() };
            c.exec = Some(Exec { mode, block: Block::Running, token, timer: None });
            self.soon(Job::Step(id));
        }
    }

    /// Runs the channel's next step, if its thread is ready.
    pub(super) fn step(&mut self, id: ChanId) {
        let Some(c) = self.chans.get(&id) else { return };
        let Some(exec) = &c.exec else { return };
        if !matches!(exec.block, Block::Running) {
            return;
        }
        let hangup_requested = c.hangup_requested;
        match exec.mode.clone() {
            Mode::App { app, data } => {
                let Some(name) = app_name(&app) else {
                    self.thread_done(id);
                    return;
                };
                if let Some(c) = self.chans.get_mut(&id) {
                    c.app = Some((name.to_owned(), data.clone()));
                }
                self.cdr_app(id, name, &data);
                let outcome =
                    if hangup_requested { Outcome::Stop } else { self.run_app(id, name, &data) };
                self.apply(id, outcome);
            }
            Mode::Dialplan => {
                if hangup_requested {
                    self.end_pbx(id);
                    return;
                }
                let (ctx, ext, prio) = (c.context.clone(), c.exten.clone(), c.priority);
                let Some(p) = self.dialplan.priority(&ctx, &ext, prio) else {
                    self.end_pbx(id);
                    return;
                };
                let (app, raw) = (p.app.clone(), p.data.clone());
                let Some(name) = app_name(&app) else {
                    // `No application 'Queue' for extension`: the dialplan ends.
                    self.end_pbx(id);
                    return;
                };
                let data = self.substitute(id, &raw);
                if let Some(c) = self.chans.get_mut(&id) {
                    c.app = Some((name.to_owned(), data.clone()));
                }
                self.chan_event(
                    "Newexten",
                    id,
                    &[("Extension", &ext), ("Application", name), ("AppData", &data)],
                );
                self.cdr_app(id, name, &data);
                let outcome = self.run_app(id, name, &data);
                self.apply(id, outcome);
            }
        }
    }

    /// Applies what an application returned.
    fn apply(&mut self, id: ChanId, outcome: Outcome) {
        let Some(c) = self.chans.get_mut(&id) else { return };
        let Some(exec) = &mut c.exec else { return };
        let is_app = matches!(exec.mode, Mode::App { .. });
        match outcome {
            Outcome::Block(block) => exec.block = block,
            Outcome::Continue | Outcome::Goto { .. } if !is_app => {
                exec.block = Block::Running;
                c.app = None;
                if let Outcome::Goto { context, exten, priority } = outcome {
                    c.context = context;
                    c.exten = exten;
                    c.priority = priority;
                } else {
                    c.priority += 1;
                }
                self.soon(Job::Step(id));
            }
            Outcome::Stop if !is_app => {
                c.app = None;
                self.end_pbx(id);
            }
            _ => self.thread_done(id),
        }
    }

    /// The Originate's application returned: the channel hangs up.
    fn thread_done(&mut self, id: ChanId) {
        if let Some(c) = self.chans.get_mut(&id) {
            c.app = None;
            c.exec = None;
        }
        self.hangup(id);
    }

    /// The dialplan is over (`__ast_pbx_run`'s end): `SoftHangupRequest` (cause
    /// `AST_SOFTHANGUP_APPUNLOAD`), then the channel hangs up.
    pub(super) fn end_pbx(&mut self, id: ChanId) {
        let Some(c) = self.chans.get_mut(&id) else { return };
        c.exec = None;
        c.app = None;
        self.chan_event("SoftHangupRequest", id, &[("Cause", "16")]);
        self.hangup(id);
    }

    /// A timer of a thread fired.
    pub(super) fn wake(&mut self, id: ChanId, token: u64) {
        let current =
            self.chans.get(&id).and_then(|c| c.exec.as_ref()).is_some_and(|e| e.token == token);
        if current {
            self.resume(id, Resume::Timer);
        }
    }

    /// Wakes a waiting thread.
    pub(super) fn resume(&mut self, id: ChanId, why: Resume) {
        let token = self.token();
        let Some(exec) = self.chans.get_mut(&id).and_then(|c| c.exec.as_mut()) else { return };
        let block = std::mem::replace(&mut exec.block, Block::Running);
        // A timer still scheduled for the old wait is stale from now on.
        exec.token = token;
        let timer = exec.timer.take();
        self.cancel(timer);
        match (block, why) {
            (Block::Running, _) => {}
            (Block::Sleep { then }, Resume::Timer) => match then {
                Then::Continue => self.apply(id, Outcome::Continue),
                Then::Stop => self.apply(id, Outcome::Stop),
                Then::Playback { files, next } => {
                    self.cel(id, "STREAM_END", "", "");
                    let outcome = self.playback(id, files, next + 1);
                    self.apply(id, outcome);
                }
            },
            (Block::Sleep { then }, _) => {
                if let Then::Playback { .. } = then {
                    self.cel(id, "STREAM_END", "", "");
                    self.set_var(id, "PLAYBACKSTATUS", "SUCCESS");
                }
                self.apply(id, Outcome::Stop);
            }
            (Block::Dialing(dial), Resume::Hangup) => {
                let outcome = self.dial_caller_hangup(dial);
                self.apply(id, outcome);
            }
            (Block::Dialing(_), Resume::Dial(outcome)) => self.apply(id, outcome),
            (Block::Dialing(dial), Resume::Timer) => {
                if let Some(exec) = self.chans.get_mut(&id).and_then(|c| c.exec.as_mut()) {
                    exec.block = Block::Dialing(dial);
                }
            }
        }
    }

    /// Sleeps the thread for `d` (or, `None`, until a hangup), then `then`.
    fn sleep(&mut self, id: ChanId, d: Option<Duration>, then: Then) -> Outcome {
        let token = self.token();
        let timer = d.map(|d| self.after(d, Job::Wake { chan: id, token }));
        if let Some(exec) = self.chans.get_mut(&id).and_then(|c| c.exec.as_mut()) {
            exec.token = token;
            exec.timer = timer;
        }
        Outcome::Block(Block::Sleep { then })
    }

    /// Runs application `app` (a registered name) with its substituted arguments.
    fn run_app(&mut self, id: ChanId, app: &str, data: &str) -> Outcome {
        let args = app_args(data);
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        match app {
            "Answer" => {
                self.answer(id);
                Outcome::Continue
            }
            "NoOp" => Outcome::Continue,
            "Set" => {
                if let Some((name, value)) = data.split_once('=') {
                    self.assign(id, name.trim(), value);
                }
                Outcome::Continue
            }
            "MSet" => {
                for a in &args {
                    if let Some((name, value)) = a.split_once('=') {
                        self.assign(id, name.trim(), value);
                    }
                }
                Outcome::Continue
            }
            "UserEvent" => {
                let mut fields: Vec<(String, String)> = Vec::new();
                for a in args.iter().skip(1) {
                    if let Some((k, v)) = a.split_once(':') {
                        fields.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let mut extra: Vec<(&str, &str)> = vec![("UserEvent", arg(0))];
                extra.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                self.chan_event("UserEvent", id, &extra);
                Outcome::Continue
            }
            "Wait" => match seconds(arg(0)) {
                Some(d) => self.sleep(id, Some(d), Then::Continue),
                None => Outcome::Continue,
            },
            "Playback" => {
                let up = self.chans.get(&id).is_some_and(|c| c.state == UP);
                if !up && !arg(1).contains("noanswer") {
                    self.answer(id);
                }
                let files = arg(0).split('&').map(str::to_owned).collect();
                self.playback(id, files, 0)
            }
            "Hangup" => {
                let cause = arg(0).trim().parse::<u32>().ok().filter(|c| *c > 0);
                if let Some(c) = self.chans.get_mut(&id) {
                    match cause {
                        Some(cause) => c.cause = cause,
                        None if c.cause == 0 => c.cause = 16,
                        None => {}
                    }
                    c.hangup_source = "dialplan/builtin".to_owned();
                }
                Outcome::Stop
            }
            "Busy" | "Congestion" => {
                let (cause, control) =
                    if app == "Busy" { (17, Control::Busy) } else { (34, Control::Congestion) };
                let up = self.chans.get(&id).is_some_and(|c| c.state == UP);
                if let Some(c) = self.chans.get_mut(&id)
                    && c.cause == 0
                {
                    c.cause = cause;
                }
                self.indicate(id, control);
                if !up {
                    self.set_state(id, BUSY);
                }
                self.sleep(id, seconds(arg(0)), Then::Stop)
            }
            "Ringing" | "Progress" => {
                if app == "Ringing" {
                    self.indicate(id, Control::Ringing);
                }
                Outcome::Continue
            }
            "Echo" => self.sleep(id, None, Then::Stop),
            "Dial" => self.dial_start(id, data),
            "Goto" => self.goto(id, &args),
            _ => Outcome::Continue,
        }
    }

    /// `Set(name=value)`: a channel variable, or one of the functions the mock knows.
    fn assign(&mut self, id: ChanId, name: &str, value: &str) {
        let upper = name.to_ascii_uppercase();
        if let Some(arg) = upper.strip_prefix("CDR(").and_then(|r| r.strip_suffix(')')) {
            if arg == "USERFIELD"
                && let Some(c) = self.chans.get_mut(&id)
            {
                c.cdr.userfield = value.to_owned();
            }
        } else if upper.starts_with("GLOBAL(") {
            let var = name[7..].trim_end_matches(')').to_owned();
            if self.globals.len() < super::MAX_VARS || self.globals.contains_key(&var) {
                self.globals.insert(var, value.to_owned());
            }
        } else if !name.contains('(') {
            let _ = self.set_var(id, name, value);
        }
    }

    /// `Goto([[context,]exten,]priority)` (a priority may be a label).
    fn goto(&mut self, id: ChanId, args: &[String]) -> Outcome {
        let Some(c) = self.chans.get(&id) else { return Outcome::Stop };
        let (context, exten, prio) = match args {
            [p] => (c.context.clone(), c.exten.clone(), p.clone()),
            [e, p] => (c.context.clone(), e.clone(), p.clone()),
            [ctx, e, p, ..] => (ctx.clone(), e.clone(), p.clone()),
            [] => return Outcome::Stop,
        };
        let priority = match prio.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => self.dialplan.label(&context, &exten, prio.trim()),
        };
        match priority {
            Some(priority) if self.dialplan.exists(&context, &exten, priority) => {
                Outcome::Goto { context, exten, priority }
            }
            _ => Outcome::Stop,
        }
    }

    /// Plays `files[next..]`: `silence/N` lasts N seconds; the mock has no other sound files
    /// (nor has the test suites' Asterisk, built without sound packages): `PLAYBACKSTATUS`
    /// is `FAILED` for them.
    fn playback(&mut self, id: ChanId, files: Vec<String>, next: usize) -> Outcome {
        let Some(file) = files.get(next).cloned() else {
            self.set_var(id, "PLAYBACKSTATUS", "SUCCESS");
            return Outcome::Continue;
        };
        let secs = file.strip_prefix("silence/").and_then(|n| n.parse::<u64>().ok());
        let Some(secs) = secs else {
            self.set_var(id, "PLAYBACKSTATUS", "FAILED");
            return Outcome::Continue;
        };
        let extra = format!("{{\"sound\":\"{file}\",\"format\":\"slin\",\"language\":\"en\"}}");
        self.cel(id, "STREAM_BEGIN", "", &extra);
        self.sleep(id, Some(Duration::from_secs(secs)), Then::Playback { files, next })
    }
}
