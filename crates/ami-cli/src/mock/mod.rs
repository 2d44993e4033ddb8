//! `ami mock`: an AMI server that behaves like an Asterisk PBX, for client developers' tests.
//!
//! One task owns the core's [`Server`] and the simulated [`Pbx`]; every connection has a
//! reader task (bytes in) and a writer task (bytes out, one chunk in flight, so a slow client
//! fills only its own bounded queue in the core, where events for it are dropped).

pub mod dialplan;
pub mod pbx;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use ami_proto::authority::ACTIONS;
use ami_proto::config::{ConfigOptions, ManagerConfig, NoIncludes, parse_manager_conf};
use ami_proto::server::{Server, ServerEvent, ServerOptions, SessionId};
use ami_tokio::clock::{self, now};
use ami_tokio::random;
use ami_tokio::server::{Activity, Endpoint};
use tokio::net::TcpListener;

use crate::error::CliError;
use dialplan::Dialplan;
pub use pbx::{Pbx, PbxOptions};

/// The manager.conf `ami mock` and `ami demo` use when none is given.
pub const DEFAULT_MANAGER_CONF: &str = "\
; ami mock's built-in manager.conf (see `ami mock --help`).
[general]
enabled = yes
bindaddr = 127.0.0.1
port = 5038

; Full rights: every event, every action.
[operator]
secret = operator-secret
read = all
write = all

; Watches calls: call events only; may ask for channel status, nothing else.
[monitor]
secret = monitor-secret
read = call
write = reporting
";

/// Arguments of `ami mock`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Without --config the built-in manager.conf defines two users:
  operator / operator-secret   read = all, write = all
  monitor  / monitor-secret    read = call, write = reporting

Examples:
  ami mock                                   # 127.0.0.1:5038, no background calls
  ami mock --listen 127.0.0.1:0 --calls-per-second 2
  ami mock --config ./manager.conf --listen 0.0.0.0:5038
  ami mock --dialplan ./extensions.conf --cel   # your calls, with CEL events

Calls run a dialplan as Asterisk 22 runs it and publish its events (Newchannel, Newexten,
VarSet, UserEvent, Dial*, Bridge*, Hangup, Cdr; CEL with --cel): Local channels
(Local/exten@context, the ;1/;2 pair) and simulated phones (PJSIP/100 rings and answers;
PJSIP/busy… is busy, PJSIP/noanswer… never answers). The built-in dialplan is the test suites'
extensions.conf (context amitest: Local/start@amitest dials Local/answer@amitest, simple, park,
busy, congest, echo, delayed) plus context from-internal for the phones; --dialplan replaces it.
Applications: Answer, NoOp, Set, MSet, UserEvent, Dial, Playback (silence/N), Wait, Hangup,
Busy, Congestion, Echo, Goto, Ringing, Progress; others (Queue, ConfBridge, ...) end the call
as an application Asterisk does not have.

Answers Login (plain, MD5), Logoff, Challenge, Events, Filter, Ping, ListCommands, WaitEvent,
CoreSettings, CoreStatus, Command (core show version|channels|uptime), Originate, Hangup,
Status, CoreShowChannels, Getvar, Setvar, UserEvent, ShowDialPlan, the DB actions, BridgeList,
DeviceStateList, ExtensionState; ListCommands lists what Asterisk 22 lists, and the other
actions answer as Asterisk does when it has nothing to act on (no queues, conferences,
voicemail boxes ...).")]
pub struct MockArgs {
    /// manager.conf with the users (default: the built-in one above)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0: any free port, printed at start)
    #[arg(long, default_value = "127.0.0.1:5038", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Random internal calls to place per second (0: only those Originate asks for)
    #[arg(long, default_value_t = 0.0, value_name = "N")]
    pub calls_per_second: f64,
    /// extensions.conf the calls run (default: the built-in one, see below)
    #[arg(long, value_name = "FILE")]
    pub dialplan: Option<PathBuf>,
    /// Publish CEL events, as Asterisk with cel.conf `enable = yes`, `events = ALL`
    #[arg(long)]
    pub cel: bool,
    /// Stop after this many seconds (default: run until Ctrl-C)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// Seed of the call simulation (default: random)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print nothing but the listening line
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Append every message received from any client to FILE, one JSON object per line
    /// (`Secret` and `Key` values are replaced by `***`), for tests that check what reached
    /// the PBX
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Loads a manager.conf text as Asterisk would.
pub fn load_config(text: &str, name: &str) -> Result<ManagerConfig, CliError> {
    parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()).map_err(|e| {
        // The core names the top-level file `manager.conf`; say which file it was.
        let file = if &*e.file == ami_proto::config::MANAGER_CONF { name } else { &e.file };
        CliError::Config(format!(
            "{file}:{}: {} (Asterisk refuses the whole file; run `ami check {name}` for details)",
            e.line, e.kind
        ))
    })
}

/// Reads an extensions.conf for `--dialplan`.
pub fn load_dialplan(path: &std::path::Path) -> Result<Dialplan, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
    Dialplan::parse(&text).map_err(|e| CliError::Config(format!("{}: {e}", path.display())))
}

/// Settings of a running mock.
#[derive(Debug)]
pub struct MockOptions {
    /// Users and their rights.
    pub config: ManagerConfig,
    /// Background calls per second.
    pub calls_per_second: f64,
    /// The dialplan calls run.
    pub dialplan: Dialplan,
    /// Publish CEL events.
    pub cel: bool,
    /// Simulation seed.
    pub seed: u64,
    /// Log connections and logins to standard error.
    pub log: bool,
    /// Record every received message here (see `--record`).
    pub record: Option<PathBuf>,
}

/// What a mock did, reported when it stops.
#[derive(Clone, Copy, Debug, Default)]
pub struct MockStats {
    /// Connections accepted.
    pub connections: u64,
    /// Actions handed to the PBX (refused ones never are).
    pub actions: u64,
    /// Events published.
    pub events: u64,
}

/// Runs `ami mock`.
pub async fn run(args: MockArgs) -> Result<ExitCode, CliError> {
    let (text, name) = match &args.config {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| CliError::Io {
                context: format!("cannot read {}", p.display()),
                source: e,
            })?,
            p.display().to_string(),
        ),
        None => (DEFAULT_MANAGER_CONF.to_owned(), "built-in manager.conf".to_owned()),
    };
    let config = load_config(&text, &name)?;
    let dialplan = match &args.dialplan {
        Some(p) => load_dialplan(p)?,
        None => Dialplan::builtin(),
    };
    let listener = TcpListener::bind(args.listen).await.map_err(|e| {
        CliError::io(
            format!(
                "cannot listen on {} (is another server using it? try --listen 127.0.0.1:0)",
                args.listen
            ),
            e,
        )
    })?;
    let local = listener.local_addr().map_err(|e| CliError::io("local address", e))?;
    println!("ami mock: listening on {local} ({} users from {name})", config.users.len());
    let opts = MockOptions {
        config,
        calls_per_second: args.calls_per_second,
        dialplan,
        cel: args.cel,
        seed: args.seed.unwrap_or_else(random::random_u64),
        log: !args.quiet,
        record: args.record.clone(),
    };
    let stop = crate::stop::after(args.duration);
    let stats = serve(listener, opts, stop).await?;
    if !args.quiet {
        eprintln!(
            "ami mock: stopped: {} connections, {} actions, {} events",
            stats.connections, stats.actions, stats.events
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Serves AMI on `listener` until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    opts: MockOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<MockStats, CliError> {
    let local = listener.local_addr().ok();
    let start = now();
    let unix_offset_ms = clock::unix_offset_ms();
    let sopts = ServerOptions {
        actions: ACTIONS.iter().filter(|a| pbx::MODULES.contains(&a.module)).collect(),
        unix_offset_ms,
        started_at: Some(start),
        last_reload_at: Some(start),
        local_address: local,
        ..ServerOptions::default()
    };
    let server = Server::new(opts.config, sopts, random::challenge_source());
    let mut endpoint = Endpoint::new(server);
    endpoint.listen(listener, None);
    if let Some(path) = &opts.record {
        let mut recorder = Recorder::open(path)?;
        endpoint.set_input_tap(Box::new(move |sid, peer, data| recorder.input(sid, peer, data)));
    }
    let pbx_opts = PbxOptions {
        dialplan: opts.dialplan,
        calls_per_second: opts.calls_per_second,
        seed: opts.seed,
        cel: opts.cel,
    };
    let mut pbx = Pbx::new(start, unix_offset_ms, pbx_opts);
    let mut stats = MockStats::default();
    let log = opts.log;
    tokio::pin!(stop);
    loop {
        let pbx_timer = clock::sleep_until(pbx.next_due());
        tokio::select! {
            () = &mut stop => break,
            activity = endpoint.next() => match activity {
                Activity::Accepted { peer, .. } => {
                    stats.connections += 1;
                    if log {
                        eprintln!("ami mock: {peer} connected");
                    }
                }
                Activity::Refused { peer, reason } if log => eprintln!("ami mock: {peer} refused: {reason}"),
                Activity::AcceptFailed { error } => eprintln!("ami mock: cannot accept: {error}"),
                _ => {}
            },
            () = pbx_timer => pbx.tick(endpoint.server_mut(), now()),
        }
        // 0. The PBX writes more of its list answers as the connections' queues drain.
        pbx.writable(endpoint.server_mut(), now());
        // 1. Drain what the core has to say.
        while let Some((sid, ev)) = endpoint.poll_event() {
            let peer = endpoint.peer(sid).map_or_else(|| "?".to_owned(), |p| p.to_string());
            match ev {
                ServerEvent::ActionReceived { action } => {
                    stats.actions += 1;
                    pbx.handle_action(endpoint.server_mut(), sid, action, now());
                }
                ServerEvent::LoggedIn { username } if log => {
                    eprintln!(
                        "ami mock: {peer} logged in as {}",
                        String::from_utf8_lossy(&username)
                    );
                }
                ServerEvent::LoginFailed { username, failure } if log => {
                    eprintln!(
                        "ami mock: {peer} login as {} failed: {failure:?}",
                        String::from_utf8_lossy(&username)
                    );
                }
                ServerEvent::SlowConsumer { queued } if log => {
                    eprintln!(
                        "ami mock: {peer} is not reading: {queued} bytes queued, events for it are dropped"
                    );
                }
                ServerEvent::Disconnect { reason } if log => {
                    eprintln!("ami mock: {peer} disconnected: {reason}");
                }
                _ => {}
            }
        }
        // 2. Send what is queued; close finished connections.
        endpoint.flush();
    }
    stats.events = pbx.published();
    Ok(stats)
}

/// `--record`: every message from every client as a JSON line.
struct Recorder {
    file: std::fs::File,
    decoders: std::collections::HashMap<SessionId, ami_proto::Decoder>,
}

impl Recorder {
    fn open(path: &std::path::Path) -> Result<Recorder, CliError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| CliError::io(format!("cannot open {}", path.display()), e))?;
        Ok(Recorder { file, decoders: std::collections::HashMap::new() })
    }

    fn input(&mut self, sid: SessionId, peer: SocketAddr, data: &[u8]) {
        use std::io::Write;
        let dec = self
            .decoders
            .entry(sid)
            .or_insert_with(|| ami_proto::Decoder::new(ami_proto::Role::Server));
        dec.feed(data);
        while let Some(frame) = dec.next_frame() {
            let Ok(ami_proto::Frame::Message(m)) = frame else { continue };
            let mut obj = serde_json::Map::new();
            obj.insert("peer".into(), peer.to_string().into());
            let mut headers = Vec::new();
            for h in m.iter() {
                let name = String::from_utf8_lossy(h.name()).into_owned();
                let value = if h.is(b"Secret") || h.is(b"Key") {
                    "***".to_owned()
                } else {
                    String::from_utf8_lossy(h.value()).into_owned()
                };
                headers.push(serde_json::json!([name, value]));
            }
            obj.insert("headers".into(), headers.into());
            let _ = writeln!(self.file, "{}", serde_json::Value::Object(obj));
        }
    }
}
