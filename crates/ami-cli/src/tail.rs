//! `ami tail`: log in and print events, reconnecting (and logging in again) when the
//! connection drops.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ami_proto::OwnedMessage;
use ami_tokio::{Backoff, Client, StreamEvent};

use crate::connect::ConnectArgs;
use crate::error::CliError;
use crate::output;

/// Arguments of `ami tail`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The secret comes from --secret-env VAR, --secret-file FILE, $AMI_SECRET or a prompt; MD5
challenge login unless --plain.

Examples:
  ami tail pbx.example.com --user monitor --secret-env AMI_MONITOR
  ami tail 127.0.0.1:5038 -u operator --event 'Dial*' --event Hangup
  ami tail pbx -u admin --match Channel='PJSIP/10?-*' --json | jq .Event
  ami tail pbx -u admin --events call,cdr --count 100 > sample.txt
  ami tail pbx:5039 -u monitor --tls-ca /etc/ami/ca.pem --json    # AMI over TLS
  ami tail nats://127.0.0.1:4222 -u crm --secret-env CRM_PASSWORD  # `ami bridge`'s stream
                                   # of role crm (durable consumer ami-tail-crm: resumes)")]
pub struct TailArgs {
    #[command(flatten)]
    pub conn: ConnectArgs,
    /// Only events whose name matches (wildcards * and ?, case-insensitive; repeatable: any)
    #[arg(long = "event", short = 'e', value_name = "NAME")]
    pub events: Vec<String>,
    /// Only events with a header matching (HEADER=PATTERN, wildcards; repeatable: all)
    #[arg(long = "match", short = 'm', value_name = "HEADER=PATTERN")]
    pub matches: Vec<String>,
    /// Ask the server for these event classes only (the Login's `Events:` header)
    #[arg(long = "events", value_name = "CLASSES")]
    pub classes: Option<String>,
    /// One JSON object per line instead of blocks
    #[arg(long)]
    pub json: bool,
    /// Exit after printing this many events
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Longest wait between reconnection attempts, in seconds
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub max_backoff: f64,
    /// NATS (target nats://…): the bridge role whose stream to read (default: the user)
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// NATS: only this PBX's events (default: every PBX)
    #[arg(long, value_name = "PBX")]
    pub pbx: Option<String>,
    /// NATS: the durable consumer's name, to resume from (default: ami-tail-ROLE)
    #[arg(long, value_name = "NAME")]
    pub durable: Option<String>,
    /// NATS: the bridge's stream prefix ([nats] stream)
    #[arg(long, default_value = "AMI", value_name = "NAME")]
    pub stream: String,
    /// NATS: the bridge's subject prefix ([nats] subject_prefix)
    #[arg(long, default_value = "ami", value_name = "TOKEN")]
    pub subject_prefix: String,
}

/// Which events to print.
#[derive(Debug, Default)]
pub struct TailFilter {
    names: Vec<Vec<u8>>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
}

impl TailFilter {
    /// From `--event` and `--match` arguments.
    pub fn new(names: &[String], matches: &[String]) -> Result<TailFilter, CliError> {
        let mut headers = Vec::new();
        for m in matches {
            let (h, p) = m
                .split_once('=')
                .ok_or_else(|| CliError::Usage(format!("--match {m:?}: write HEADER=PATTERN")))?;
            headers.push((h.as_bytes().to_vec(), p.as_bytes().to_vec()));
        }
        Ok(TailFilter { names: names.iter().map(|n| n.as_bytes().to_vec()).collect(), headers })
    }

    /// Whether `ev` passes.
    pub fn passes(&self, ev: &OwnedMessage) -> bool {
        let m = ev.as_message();
        let name = m.event().unwrap_or_default();
        (self.names.is_empty() || self.names.iter().any(|p| output::wildcard(p, name)))
            && self.headers.iter().all(|(h, p)| m.get_all(h).any(|v| output::wildcard(p, v)))
    }
}

/// Runs `ami tail`.
pub async fn run(args: TailArgs) -> Result<ExitCode, CliError> {
    if crate::bridge::consumer::is_nats_url(&args.conn.target) {
        return crate::bridge::consumer::run(args).await;
    }
    let filter = TailFilter::new(&args.events, &args.matches)?;
    let max_backoff = Duration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0));
    let mut options = args.conn.options()?.with_reconnect(Some(Backoff {
        initial: Duration::from_millis(500),
        max: max_backoff,
        ..Backoff::default()
    }));
    if let Some(classes) = &args.classes {
        options = options.with_events(classes.clone());
    }
    let (target, user) = (options.target.clone(), options.username.clone());
    let status = std::io::stderr().is_terminal();
    let ctrlc = tokio::signal::ctrl_c();
    tokio::pin!(ctrlc);
    // The first connection must work; later ones are the client's business (backoff, login).
    let client = tokio::select! {
        r = Client::connect(options) => r?,
        _ = &mut ctrlc => return Ok(ExitCode::SUCCESS),
    };
    let mut events = client.events();
    eprintln!(
        "ami tail: connected to {target} ({}) as {user}",
        client.banner().unwrap_or_default()
    );
    let (mut printed, mut seen) = (0u64, 0u64);
    let (mut window_start, mut window_seen) = (Instant::now(), 0u64);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            item = events.recv() => match item {
                Some(StreamEvent::Event(ev)) => {
                    seen += 1;
                    window_seen += 1;
                    if !filter.passes(&ev) {
                        continue;
                    }
                    if status {
                        eprint!("\r\x1b[K");
                    }
                    if args.json {
                        outln!("{}", output::json(&ev.as_message()));
                    } else {
                        outln!("{}", output::block(&ev.as_message()));
                    }
                    printed += 1;
                    if args.count.is_some_and(|n| printed >= n) {
                        client.close().await;
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Some(StreamEvent::Lagged { missed }) => {
                    eprintln!("ami tail: {missed} events were missed (the output is slower than the server)");
                }
                Some(StreamEvent::Disconnected { reason }) => {
                    eprintln!("ami tail: connection to {target} lost ({reason}); reconnecting");
                }
                Some(StreamEvent::Connected { banner }) => {
                    eprintln!("ami tail: connected to {target} ({banner}) as {user}");
                }
                Some(_) => {}
                None => return Ok(ExitCode::from(1)),
            },
            _ = tick.tick() => {
                if status {
                    let secs = window_start.elapsed().as_secs_f64().max(0.001);
                    eprint!("\r\x1b[K{seen} events, {printed} shown, {:.1}/s", window_seen as f64 / secs);
                    window_start = Instant::now();
                    window_seen = 0;
                }
            }
            _ = &mut ctrlc => {
                if status {
                    eprintln!();
                }
                client.close().await;
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}
