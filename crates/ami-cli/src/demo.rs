//! `ami demo`: a mock PBX on a free loopback port, two users logged in over real TCP with MD5,
//! simulated calls, and what each user sees, side by side.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ami_proto::OwnedMessage;
use ami_proto::authority::event_category;
use ami_proto::encode::Action;
use ami_proto::perm::{Privilege, may_receive};
use ami_tokio::{Client, ClientOptions, Event, Reply, Secret, StreamEvent, Target};
use tokio::net::TcpListener;

use crate::error::CliError;
use crate::mock::{self, DEFAULT_MANAGER_CONF, MockOptions};

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
    /// Output width in columns (default: the terminal's, else $COLUMNS, else 100)
    #[arg(long)]
    pub width: Option<usize>,
    /// Seed of the call simulation (default: fixed, so runs look alike)
    #[arg(long, default_value_t = 22)]
    pub seed: u64,
}

const OPERATOR: (&str, &str) = ("operator", "operator-secret");
const MONITOR: (&str, &str) = ("monitor", "monitor-secret");

/// Prints two columns side by side. Text that does not fit wraps onto more lines (at word
/// boundaries, indented under its first word), so nothing is ever cut: a narrow terminal
/// shows `accepted`, `refused` and `withheld` in full.
struct Columns {
    width: usize,
    start: Instant,
}

/// `text` in lines of at most `width` characters, breaking at spaces where it can (the spaces
/// between words on one line are kept as they were); lines after the first are indented by
/// `indent`.
fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let width = width.max(indent + 8);
    // Words with the spaces before them.
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        rest = &rest[spaces..];
        let end = rest.find(' ').unwrap_or(rest.len());
        words.push((spaces, &rest[..end]));
        rest = &rest[end..];
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (i, (spaces, word)) in words.into_iter().enumerate() {
        let mut word = word;
        // Leading blanks (a right-aligned time stamp) stay on the first line only.
        let mut sep = if i == 0 || !line.is_empty() { spaces } else { 0 };
        loop {
            let room = width - if lines.is_empty() { 0 } else { indent };
            let len = line.chars().count();
            if len + sep + word.chars().count() <= room {
                line.push_str(&" ".repeat(sep));
                line.push_str(word);
                break;
            }
            if len > 0 && word.chars().count() <= width - indent {
                // Next line.
                lines.push(std::mem::take(&mut line));
                sep = 0;
                continue;
            }
            // A word longer than a whole line is split.
            let take = room.saturating_sub(len + sep).max(1);
            let cut = word.char_indices().nth(take).map_or(word.len(), |(i, _)| i);
            line.push_str(&" ".repeat(sep));
            line.push_str(&word[..cut]);
            lines.push(std::mem::take(&mut line));
            word = &word[cut..];
            sep = 0;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    let pad = " ".repeat(indent);
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| if i == 0 { l } else { format!("{pad}{l}") })
        .collect()
}

impl Columns {
    fn col(&self) -> usize {
        (self.width.saturating_sub(3) / 2).max(20)
    }

    fn row(&self, left: &str, right: &str) {
        let w = self.col();
        // Continuation lines start under the text after the time stamp.
        let (l, r) = (wrap(left, w, 6), wrap(right, w, 6));
        for i in 0..l.len().max(r.len()) {
            let a = l.get(i).map_or("", String::as_str);
            let b = r.get(i).map_or("", String::as_str);
            let pad = w - a.chars().count().min(w);
            outln!("{a}{} | {b}", " ".repeat(pad));
        }
    }

    fn stamp(&self) -> String {
        format!("{:5.1}", self.start.elapsed().as_secs_f64())
    }

    fn rule(&self) {
        let w = self.col();
        outln!("{}-+-{}", "-".repeat(w), "-".repeat(w));
    }

    /// A summary line, wrapped to the whole width.
    fn para(&self, text: &str) {
        for line in wrap(text, self.width, 4) {
            outln!("{line}");
        }
    }
}

/// The output width: `--width`, else the terminal's, else `$COLUMNS`, else 100.
fn output_width(asked: Option<usize>) -> usize {
    use std::io::IsTerminal;
    let terminal = std::io::stdout()
        .is_terminal()
        .then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
        .flatten();
    asked
        .or(terminal)
        .or_else(|| std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()))
        .unwrap_or(100)
        .clamp(60, 400)
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

fn outcome(reply: &Result<Reply, ami_tokio::Error>) -> String {
    match reply {
        Ok(r) if !r.is_success() => {
            format!("refused: {}", r.message().map_or_else(|| "error".into(), |m| m.into_owned()))
        }
        Ok(r) => format!(
            "accepted: {}",
            r.message().map_or_else(|| "Success".into(), |m| m.into_owned())
        ),
        Err(e) => format!("failed: {e}"),
    }
}

/// What a user's event stream brought: the event's name, or why there is none.
fn event_of(item: Option<StreamEvent>, who: &str) -> Result<Option<Event>, CliError> {
    match item {
        Some(StreamEvent::Event(ev)) => Ok(Some(ev)),
        Some(StreamEvent::Lagged { missed }) => {
            eprintln!("ami demo: the {who}'s display fell behind; {missed} events not shown");
            Ok(None)
        }
        Some(StreamEvent::Disconnected { reason }) => {
            Err(CliError::Config(format!("the {who}'s connection to the mock ended: {reason}")))
        }
        Some(_) => Ok(None),
        None => Err(CliError::Config(format!("the {who}'s session ended"))),
    }
}

fn name_of(ev: &Event) -> String {
    String::from_utf8_lossy(ev.name()).into_owned()
}

/// Runs `ami demo`.
pub async fn run(args: DemoArgs) -> Result<ExitCode, CliError> {
    if !(args.duration.is_finite() && args.duration > 0.0) {
        return Err(CliError::Usage("--duration must be a positive number of seconds".into()));
    }
    let width = output_width(args.width);
    let config = mock::load_config(DEFAULT_MANAGER_CONF, "built-in manager.conf")?;
    let monitor_read =
        config.user(MONITOR.0.as_bytes()).map_or(Privilege::from_bits(0), |u| u.read);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| CliError::io("cannot listen on 127.0.0.1", e))?;
    let addr = listener.local_addr().map_err(|e| CliError::io("local address", e))?;
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

    let cols = Columns { width, start: Instant::now() };
    cols.para(&format!(
        "ami demo: mock PBX on {addr}; two users log in over TCP with the MD5 challenge"
    ));
    outln!("  operator  read = all    write = all        (full rights)");
    outln!("  monitor   read = call   write = reporting  (read-only call monitor)");
    outln!();

    let login = |(user, secret): (&str, &str)| {
        ClientOptions::new(Target::new("127.0.0.1", addr.port()), user, Secret::new(secret))
            .with_connect_timeout(Duration::from_secs(5))
            .with_action_timeout(Duration::from_secs(5))
            .with_reconnect(None)
    };
    let (op, mut op_events) = Client::connect_with_events(login(OPERATOR)).await?;
    let (mon, mut mon_events) = Client::connect_with_events(login(MONITOR)).await?;
    cols.row("OPERATOR sees (read = all)", "MONITOR sees (read = call)");
    cols.rule();
    cols.row(
        &format!("{} logged in: {}", cols.stamp(), op.banner().unwrap_or_default()),
        &format!("{} logged in: {}", cols.stamp(), mon.banner().unwrap_or_default()),
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
    let stop = crate::stop::signal();
    tokio::pin!(stop);
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
            () = &mut stop => { interrupted = true; break }
            item = op_events.recv() => {
                let Some(ev) = event_of(item, "operator")? else { continue };
                let name = name_of(&ev);
                let category = event_category(name.as_bytes()).unwrap_or(Privilege::from_bits(0));
                let note = if may_receive(monitor_read, category) {
                    String::new()
                } else {
                    format!("  [withheld from monitor: {}]", category.to_config_list().unwrap_or_else(|| category.to_string()))
                };
                *op_counts.entry(name).or_default() += 1;
                cols.row(&format!("{} {}{note}", cols.stamp(), summary(&ev)), "");
            }
            item = mon_events.recv() => {
                let Some(ev) = event_of(item, "monitor")? else { continue };
                *mon_counts.entry(name_of(&ev)).or_default() += 1;
                cols.row("", &format!("{} {}", cols.stamp(), summary(&ev)));
            }
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
                        let answered = r.as_ref().ok().and_then(Reply::originate_response).map(|m| {
                            let m = m.as_message();
                            format!(
                                "; OriginateResponse {} (Reason {})",
                                String::from_utf8_lossy(m.get("Response").unwrap_or_default()),
                                String::from_utf8_lossy(m.get("Reason").unwrap_or_default())
                            )
                        });
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
                            Ok(rep) if rep.is_success() => format!("Status: {} channels listed", rep.items().len()),
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
                            Ok(rep) if rep.is_success() => {
                                let last = rep
                                    .output()
                                    .unwrap_or_default()
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
    op.close().await;
    mon.close().await;
    let _ = stop_tx.send(());
    let stats =
        server.await.map_err(|e| CliError::Config(format!("the mock PBX task failed: {e}")))??;

    let op_total: u64 = op_counts.values().sum();
    let mon_total: u64 = mon_counts.values().sum();
    cols.rule();
    outln!();
    outln!(
        "Summary after {:.1} s{}:",
        cols.start.elapsed().as_secs_f64(),
        if interrupted { " (interrupted)" } else { "" }
    );
    cols.para(&format!(
        "  operator received {op_total} events, monitor {mon_total} (the simulated PBX published {}; \
         the rest are the core's own FullyBooted and security events)",
        stats.events
    ));
    for r in &results {
        cols.para(&format!("  {r}"));
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
        cols.para("  withheld from monitor: nothing");
    } else {
        cols.para(&format!("  withheld from monitor: {}", withheld.join(", ")));
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_every_word_whole() {
        let text = "  1.0 >> Originate PJSIP/101 -> 200: refused: Permission denied";
        let lines = wrap(text, 38, 6);
        assert_eq!(
            lines,
            ["  1.0 >> Originate PJSIP/101 -> 200:", "      refused: Permission denied"]
        );
        assert!(lines.iter().all(|l| l.chars().count() <= 38));
        // A word longer than a line is split, never dropped.
        let long = wrap("x abcdefghijklmnopqrstuvwxyz", 20, 4);
        assert_eq!(long.concat().replace(' ', ""), "xabcdefghijklmnopqrstuvwxyz");
        assert!(long.iter().all(|l| l.chars().count() <= 20), "{long:?}");
        assert_eq!(wrap("", 20, 4), [""]);
        // Spaces inside a line are kept.
        assert_eq!(wrap("  monitor:  Originate", 40, 4), ["  monitor:  Originate"]);
    }
}
