//! `ami tail`: log in and print events, reconnecting (and logging in again) when the
//! connection drops.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ami_proto::OwnedMessage;

use crate::conn::{AmiClient, CliError, ConnectArgs};
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
  ami tail pbx -u admin --events call,cdr --count 100 > sample.txt")]
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
    let filter = TailFilter::new(&args.events, &args.matches)?;
    let mut login = args.conn.login()?;
    login.events = args.classes.clone();
    let target = login.target();
    let max_backoff = Duration::from_secs_f64(args.max_backoff.clamp(0.1, 3600.0));
    let status = std::io::stderr().is_terminal();
    let ctrlc = tokio::signal::ctrl_c();
    tokio::pin!(ctrlc);
    let (mut printed, mut seen) = (0u64, 0u64);
    let (mut window_start, mut window_seen) = (Instant::now(), 0u64);
    let mut backoff = Duration::from_millis(500);
    let mut connected_once = false;
    let stdout = std::io::stdout();
    loop {
        let client = tokio::select! {
            r = AmiClient::connect(&login) => r,
            _ = &mut ctrlc => return Ok(ExitCode::SUCCESS),
        };
        let mut client = match client {
            Ok(c) => c,
            Err(e @ CliError::LoginFailed { .. }) => return Err(e),
            Err(e) if !connected_once => return Err(e),
            Err(e) => {
                eprintln!("ami tail: {e}; retrying in {:.1} s", backoff.as_secs_f64());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = &mut ctrlc => return Ok(ExitCode::SUCCESS),
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        connected_once = true;
        backoff = Duration::from_millis(500);
        eprintln!("ami tail: connected to {target} ({}) as {}", client.banner(), login.user);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                ev = client.next_event() => match ev? {
                    Some(ev) => {
                        seen += 1;
                        window_seen += 1;
                        if !filter.passes(&ev) {
                            continue;
                        }
                        if status {
                            eprint!("\r\x1b[K");
                        }
                        let mut out = stdout.lock();
                        let line = if args.json {
                            format!("{}\n", output::json(&ev.as_message()))
                        } else {
                            format!("{}\n", output::block(&ev.as_message()))
                        };
                        if out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_err() {
                            // Standard output closed (e.g. `| head`): done.
                            return Ok(ExitCode::SUCCESS);
                        }
                        printed += 1;
                        if args.count.is_some_and(|n| printed >= n) {
                            let _ = client.logoff().await;
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                    None => {
                        let why = client
                            .close_reason()
                            .map_or_else(|| "closed".to_owned(), |r| format!("{r:?}"));
                        eprintln!("ami tail: connection to {target} lost ({why}); reconnecting");
                        break;
                    }
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
                    let _ = client.logoff().await;
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
}
