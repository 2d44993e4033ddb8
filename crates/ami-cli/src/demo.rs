//! `ami demo`: a mock PBX on a free loopback port, two users logged in over real TCP with MD5,
//! simulated calls, and what each user sees, side by side.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ami_proto::OwnedMessage;
use ami_proto::authority::event_category;
use ami_proto::encode::Action;
use ami_proto::perm::{Privilege, may_receive};
use tokio::net::TcpListener;

use crate::conn::{AmiClient, CliError, Login, Reply};
use crate::mock::{self, DEFAULT_MANAGER_CONF, MockOptions};
use crate::secret::Secret;

/// Arguments of `ami demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Starts `ami mock` on 127.0.0.1 (a free port) with its built-in manager.conf, logs in
`operator` (read = all, write = all) and `monitor` (read = call, write = reporting) with the
MD5 challenge, places calls, and prints each user's events in its own column: the operator's
Originate is accepted, the monitor's refused, and events the monitor may not read never reach
it. Ends after --duration seconds with a summary; Ctrl-C ends it early.

Examples:
  ami demo
  ami demo --duration 5 --width 160")]
pub struct DemoArgs {
    /// How long to run, in seconds
    #[arg(long, default_value_t = 15.0, value_name = "SECONDS")]
    pub duration: f64,
    /// Background calls per second besides the demo's own
    #[arg(long, default_value_t = 0.4, value_name = "N")]
    pub calls_per_second: f64,
    /// Output width in columns (default: $COLUMNS, else 120)
    #[arg(long)]
    pub width: Option<usize>,
    /// Seed of the call simulation (default: fixed, so runs look alike)
    #[arg(long, default_value_t = 22)]
    pub seed: u64,
}

const OPERATOR: (&str, &str) = ("operator", "operator-secret");
const MONITOR: (&str, &str) = ("monitor", "monitor-secret");

/// Column printer.
struct Columns {
    width: usize,
    start: Instant,
}

impl Columns {
    fn cut(s: &str, w: usize) -> String {
        if s.chars().count() <= w {
            format!("{s:<w$}")
        } else {
            let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
            t.push('~');
            t
        }
    }

    fn col(&self) -> usize {
        (self.width.saturating_sub(3) / 2).max(20)
    }

    fn row(&self, left: &str, right: &str) {
        let w = self.col();
        println!("{} | {}", Self::cut(left, w), Self::cut(right, w).trim_end());
    }

    fn stamp(&self) -> String {
        format!("{:5.1}", self.start.elapsed().as_secs_f64())
    }

    fn rule(&self) {
        let w = self.col();
        println!("{}-+-{}", "-".repeat(w), "-".repeat(w));
    }
}

/// One line about an event.
fn summary(ev: &OwnedMessage) -> String {
    let m = ev.as_message();
    let t = |k: &str| m.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
    let name = t("Event").unwrap_or_default();
    let detail = match name.as_str() {
        "Newstate" | "Newchannel" => {
            format!(
                "{} {}",
                t("Channel").unwrap_or_default(),
                t("ChannelStateDesc").unwrap_or_default()
            )
        }
        "VarSet" => format!(
            "{} {}={}",
            t("Channel").unwrap_or_default(),
            t("Variable").unwrap_or_default(),
            t("Value").unwrap_or_default()
        ),
        "Newexten" => format!(
            "{} {}({})",
            t("Channel").unwrap_or_default(),
            t("Application").unwrap_or_default(),
            t("AppData").unwrap_or_default()
        ),
        "DialBegin" | "DialEnd" => format!(
            "{} -> {} {}",
            t("Channel").unwrap_or_default(),
            t("DestChannel").unwrap_or_default(),
            t("DialStatus").unwrap_or_default()
        ),
        "Hangup" => {
            format!("{} {}", t("Channel").unwrap_or_default(), t("Cause-txt").unwrap_or_default())
        }
        "Cdr" => format!(
            "{} {} {}s",
            t("Channel").unwrap_or_default(),
            t("Disposition").unwrap_or_default(),
            t("Duration").unwrap_or_default()
        ),
        "UserEvent" => t("UserEvent").unwrap_or_default(),
        "OriginateResponse" => {
            format!("{} {}", t("Channel").unwrap_or_default(), t("Response").unwrap_or_default())
        }
        n if n.starts_with("Bridge") => {
            let b = t("BridgeUniqueid").unwrap_or_default();
            let short: String = b.chars().take(8).collect();
            format!("{short} {}", t("Channel").unwrap_or_default())
        }
        _ => t("Channel").unwrap_or_default(),
    };
    format!("{name} {detail}").trim_end().to_owned()
}

fn outcome(reply: &Result<Reply, CliError>) -> String {
    match reply {
        Ok(r) if r.is_error() => format!(
            "refused: {}",
            r.message_text().or_else(|| r.failure.clone()).unwrap_or_else(|| "error".into())
        ),
        Ok(r) => format!("accepted: {}", r.message_text().unwrap_or_else(|| "Success".into())),
        Err(e) => format!("failed: {e}"),
    }
}

/// Runs `ami demo`.
pub async fn run(args: DemoArgs) -> Result<ExitCode, CliError> {
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(CliError::Usage("--duration must be a positive number of seconds".into()));
    }
    let width = args
        .width
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
        .unwrap_or(120)
        .clamp(60, 400);
    let config = mock::load_config(DEFAULT_MANAGER_CONF, "built-in manager.conf")?;
    let monitor_read =
        config.user(MONITOR.0.as_bytes()).map_or(Privilege::from_bits(0), |u| u.read);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| CliError::Io { context: "cannot listen on 127.0.0.1".into(), source: e })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Io { context: "local address".into(), source: e })?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let opts = MockOptions {
        config,
        calls_per_second: args.calls_per_second,
        dialplan: mock::dialplan::Dialplan::builtin(),
        cel: false,
        seed: args.seed,
        log: false,
        record: None,
    };
    let server = tokio::spawn(mock::serve(listener, opts, async move {
        let _ = stop_rx.await;
    }));

    println!("ami demo: mock PBX on {addr}; two users log in over TCP with the MD5 challenge");
    println!("  operator  read = all    write = all        (full rights)");
    println!("  monitor   read = call   write = reporting  (read-only call monitor)");
    println!();

    let login = |(user, secret): (&str, &str)| Login {
        host: addr.ip().to_string(),
        port: addr.port(),
        user: user.to_owned(),
        secret: Secret::new(secret),
        method: ami_proto::client::LoginMethod::Md5,
        timeout: Duration::from_secs(5),
        events: None,
    };
    let mut op = AmiClient::connect(&login(OPERATOR)).await?;
    let mut mon = AmiClient::connect(&login(MONITOR)).await?;
    let cols = Columns { width, start: Instant::now() };
    cols.row("OPERATOR sees (read = all)", "MONITOR sees (read = call)");
    cols.rule();
    cols.row(
        &format!("{} logged in: {}", cols.stamp(), op.banner()),
        &format!("{} logged in: {}", cols.stamp(), mon.banner()),
    );

    let mut op_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut mon_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut results: Vec<String> = Vec::new();
    let total = Duration::from_secs_f64(args.duration);
    let deadline = tokio::time::Instant::now() + total;
    // The script: (seconds after start, step).
    let mut script: Vec<(f64, u8)> = vec![(0.3, 0), (0.9, 1), (1.6, 2), (2.4, 3), (3.2, 4)];
    if args.duration > 5.0 {
        script.push((args.duration * 0.6, 5));
    }
    script.retain(|(t, _)| *t < args.duration - 0.3);
    script.reverse();
    let ctrlc = tokio::signal::ctrl_c();
    tokio::pin!(ctrlc);
    let mut interrupted = false;
    loop {
        let next_step = script.last().map(|(t, _)| cols.start + Duration::from_secs_f64(*t));
        let step_sleep = async {
            match next_step {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break,
            _ = &mut ctrlc => { interrupted = true; break }
            ev = op.next_event() => match ev? {
                Some(ev) => {
                    let s = summary(&ev);
                    let name = ev.as_message().event().map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default();
                    let category = event_category(name.as_bytes()).unwrap_or(Privilege::from_bits(0));
                    let note = if may_receive(monitor_read, category) {
                        String::new()
                    } else {
                        format!("  [withheld from monitor: {}]", category.to_config_list().unwrap_or_else(|| category.to_string()))
                    };
                    *op_counts.entry(name).or_default() += 1;
                    cols.row(&format!("{} {s}{note}", cols.stamp()), "");
                }
                None => return Err(CliError::Closed { target: addr.to_string(), reason: "the operator's session ended".into() }),
            },
            ev = mon.next_event() => match ev? {
                Some(ev) => {
                    let name = ev.as_message().event().map(|e| String::from_utf8_lossy(e).into_owned()).unwrap_or_default();
                    *mon_counts.entry(name).or_default() += 1;
                    cols.row("", &format!("{} {}", cols.stamp(), summary(&ev)));
                }
                None => return Err(CliError::Closed { target: addr.to_string(), reason: "the monitor's session ended".into() }),
            },
            () = step_sleep => {
                let Some((_, step)) = script.pop() else { continue };
                match step {
                    0 => {
                        let a = Action::new("Originate")
                            .with("Channel", "PJSIP/100")
                            .with("Exten", "200")
                            .with("Context", "from-internal")
                            .with("Priority", "1")
                            .with("CallerID", "\"Operator\" <100>")
                            .with("Async", "true");
                        let r = op.action(&a).await;
                        let answered = match &r {
                            Ok(rep) => rep.originate_response.as_ref().map(|m| {
                                let m = m.as_message();
                                format!(
                                    "; OriginateResponse {} (Reason {})",
                                    String::from_utf8_lossy(m.get("Response").unwrap_or_default()),
                                    String::from_utf8_lossy(m.get("Reason").unwrap_or_default())
                                )
                            }),
                            Err(_) => None,
                        };
                        let o = format!(
                            "Originate PJSIP/100 -> 200: {}{}",
                            outcome(&r),
                            answered.unwrap_or_default()
                        );
                        cols.row(&format!("{} >> {o}", cols.stamp()), "");
                        results.push(format!("operator: {o}"));
                    }
                    1 => {
                        let a = Action::new("Originate")
                            .with("Channel", "PJSIP/101")
                            .with("Exten", "200")
                            .with("Context", "from-internal")
                            .with("Async", "true");
                        let r = mon.action(&a).await;
                        let o = format!("Originate PJSIP/101 -> 200: {}", outcome(&r));
                        cols.row("", &format!("{} >> {o}", cols.stamp()));
                        results.push(format!("monitor:  {o}"));
                    }
                    2 => {
                        let a = Action::new("UserEvent").with("UserEvent", "ShiftChange").with("Team", "night");
                        let r = op.action(&a).await;
                        let o = format!("UserEvent ShiftChange: {}", outcome(&r));
                        cols.row(&format!("{} >> {o}", cols.stamp()), "");
                    }
                    3 => {
                        let r = mon.action(&Action::new("Status")).await;
                        let o = match &r {
                            Ok(rep) if !rep.is_error() => format!("Status: {} channels listed", rep.items.len()),
                            _ => format!("Status: {}", outcome(&r)),
                        };
                        cols.row("", &format!("{} >> {o}", cols.stamp()));
                        results.push(format!("monitor:  {o} (write = reporting allows it)"));
                    }
                    4 => {
                        let a = Action::new("Command").with("Command", "core show version");
                        let r = mon.action(&a).await;
                        let o = format!("Command core show version: {}", outcome(&r));
                        cols.row("", &format!("{} >> {o}", cols.stamp()));
                        results.push(format!("monitor:  {o}"));
                    }
                    _ => {
                        let a = Action::new("Command").with("Command", "core show channels");
                        let r = op.action(&a).await;
                        let o = match &r {
                            Ok(rep) if !rep.is_error() => {
                                let lines = rep.output.clone().unwrap_or_default();
                                let last = lines
                                    .iter()
                                    .map(|l| String::from_utf8_lossy(l).into_owned())
                                    .find(|l| l.contains("active channel"))
                                    .unwrap_or_default();
                                format!("Command core show channels: {last}")
                            }
                            _ => format!("Command core show channels: {}", outcome(&r)),
                        };
                        cols.row(&format!("{} >> {o}", cols.stamp()), "");
                    }
                }
            }
        }
    }
    let dropped = op.dropped_events() + mon.dropped_events();
    let _ = op.logoff().await;
    let _ = mon.logoff().await;
    let _ = stop_tx.send(());
    let stats =
        server.await.map_err(|e| CliError::Config(format!("the mock PBX task failed: {e}")))??;

    let op_total: u64 = op_counts.values().sum();
    let mon_total: u64 = mon_counts.values().sum();
    cols.rule();
    println!();
    println!(
        "Summary after {:.1} s{}:",
        cols.start.elapsed().as_secs_f64(),
        if interrupted { " (interrupted)" } else { "" }
    );
    println!(
        "  operator received {op_total} events, monitor {mon_total} (the simulated PBX published {}; \
         the rest are the core's own FullyBooted and security events)",
        stats.events
    );
    if dropped > 0 {
        println!("  {dropped} events were dropped while the demo waited for answers");
    }
    for r in &results {
        println!("  {r}");
    }
    let withheld: Vec<String> = op_counts
        .iter()
        .filter_map(|(name, n)| {
            let got = mon_counts.get(name).copied().unwrap_or(0);
            (got < *n).then(|| {
                let cat = event_category(name.as_bytes())
                    .and_then(|c| c.to_config_list())
                    .unwrap_or_else(|| "?".into());
                format!("{} {name} ({cat})", n - got)
            })
        })
        .collect();
    if withheld.is_empty() {
        println!("  withheld from monitor: nothing");
    } else {
        println!("  withheld from monitor: {}", withheld.join(", "));
    }
    let leaked: Vec<&String> = mon_counts
        .keys()
        .filter(|name| {
            let cat = event_category(name.as_bytes()).unwrap_or(Privilege::from_bits(0));
            !may_receive(monitor_read, cat)
        })
        .collect();
    if !leaked.is_empty() {
        // The core's fan-out rule failed: this must never happen.
        eprintln!("ami demo: the monitor received events it may not read: {leaked:?}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
