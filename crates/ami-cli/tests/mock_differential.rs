//! `ami mock --config <the conformance manager.conf>` against the live Asterisk: the same
//! scripted sessions sent to both over raw connections, every answer compared after masking
//! only what differs per run (times, uptime, counters, ids, challenge digits, ports, channel
//! name suffixes).
//!
//! Every difference that remains is either a bug or listed in [`TABLED`] with the reason it
//! stays; a tabled difference that no longer occurs fails the test too, so the table is
//! always the exact list of what a client sees differently.
//!
//! Each step of a script is followed by a `Ping` with its own ActionID, whose answer closes
//! the step; what the server sends in between is the step's answer.

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ami_testkit::{ADMIN, DENIED, FILTERED, LIMITED, READER, RawAmi, User};
use support::{MockProc, fully_booted};

/// The differences a client sees between the mock and Asterisk 22.10.1, and why they stay.
/// `(script, step, reason)`.
const TABLED: &[(&str, &str, &str)] = &[
    (
        "actions",
        "Command Command: core show version",
        "the build line names the host and date Asterisk was built on; the mock says it is the mock",
    ),
    (
        "sweep",
        "DeviceStateList",
        "Asterisk lists the Queue:testqueue devices of app_queue; the mock runs no queue",
    ),
    ("sweep", "QueueStatus", "Asterisk has testqueue from queues.conf; the mock runs no queue"),
    ("reader", "QueueStatus", "Asterisk has testqueue from queues.conf; the mock runs no queue"),
    ("sweep", "QueueSummary", "Asterisk has testqueue from queues.conf; the mock runs no queue"),
    (
        "sweep",
        "ShowDialPlan",
        "Asterisk also lists contexts of other modules (func_periodic_hook); the mock lists its \
         dialplan, which adds from-internal for its simulated phones",
    ),
];

/// Tests that change or observe what every session of the shared Asterisk sees (calls,
/// channel lists) run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a step sends.
#[derive(Clone, Debug)]
struct Step {
    label: String,
    bytes: Vec<u8>,
}

fn step(label: impl Into<String>, request: &str) -> Step {
    Step { label: label.into(), bytes: request.as_bytes().to_vec() }
}

/// An action with `headers` (`Name: value` lines) and an ActionID.
fn action(name: &str, headers: &[&str], id: &str) -> Step {
    let mut r = format!("Action: {name}\r\nActionID: {id}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    Step {
        label: if headers.is_empty() {
            name.to_owned()
        } else {
            format!("{name} {}", headers.join(" "))
        },
        bytes: r.into_bytes(),
    }
}

/// Masks what differs per run in one message.
fn mask(message: &str) -> String {
    const MASKED: [&str; 21] = [
        "ExpectedResponse",
        "Timestamp",
        "EventTV",
        "SessionTV",
        "SessionID",
        "Uptime",
        "LastReload",
        "CoreStartupDate",
        "CoreStartupTime",
        "CoreReloadDate",
        "CoreReloadTime",
        "CoreProcessedCalls",
        "CoreCurrentCalls",
        "Challenge",
        "Uniqueid",
        "Linkedid",
        "Seconds",
        "Duration",
        "LoginTime",
        "LocalAddress",
        "RemoteAddress",
    ];
    let uuid_key = message.contains("\r\nKey: /pbx/UUID\r\n");
    let mut out = Vec::new();
    for line in message.split("\r\n") {
        let masked = match line.split_once(": ") {
            Some((k, _)) if MASKED.iter().any(|m| m.eq_ignore_ascii_case(k)) => format!("{k}: *"),
            Some(("Val", _)) if uuid_key => "Val: *".to_owned(),
            Some(("Output", v))
                if v.starts_with("System uptime:")
                    || v.starts_with("Last reload:")
                    || v.ends_with("processed") =>
            {
                "Output: *".to_owned()
            }
            _ => channel_suffixes(line),
        };
        out.push(masked);
    }
    out.join("\r\n")
}

/// `Local/park@amitest-0000000b;2` → `Local/park@amitest-*;2`.
fn channel_suffixes(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if bytes[i] == b'-'
            && i + 9 <= line.len()
            && bytes[i + 1..i + 9].iter().all(u8::is_ascii_hexdigit)
            && (i + 9 == line.len() || !bytes[i + 9].is_ascii_alphanumeric())
            && line[..i].contains('/')
        {
            out.push_str("-*");
            i += 9;
            continue;
        }
        let c = line[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The order in which Asterisk lists channels is its hash container's (it varies with the
/// names' random suffixes): list items and `core show channels` rows are compared sorted.
fn sort_unordered(got: &mut [String]) {
    if got.first().is_some_and(|m| m.contains("\r\nEventList: start\r\n")) && got.len() > 2 {
        let end = got.len() - 1;
        got[1..end].sort();
    }
    for m in got.iter_mut() {
        if !m.contains("\r\nOutput: Channel ") {
            continue;
        }
        let mut lines: Vec<String> = m.split("\r\n").map(str::to_owned).collect();
        let start =
            lines.iter().position(|l| l.starts_with("Output: Channel ")).map_or(0, |p| p + 1);
        let end = lines.iter().position(|l| l.contains(" active channel")).unwrap_or(start);
        if start < end {
            lines[start..end].sort();
        }
        *m = lines.join("\r\n");
    }
}

/// Runs the steps on a connection; each step's masked answer (one string per message).
fn run(raw: &mut RawAmi, steps: &[Step]) -> Vec<Vec<String>> {
    let mut answers = Vec::new();
    for (n, s) in steps.iter().enumerate() {
        let fence = format!("fence-{n}");
        let mut bytes = s.bytes.clone();
        bytes.extend_from_slice(format!("Action: Ping\r\nActionID: {fence}\r\n\r\n").as_bytes());
        if let Err(e) = raw.send(&bytes) {
            answers.push(vec![format!("<cannot send: {}>", e.kind())]);
            continue;
        }
        let deadline = Instant::now() + Duration::from_secs(8);
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match raw.read_message(left) {
                Ok(Some(m)) => {
                    let lead = m.len() - m.trim_start_matches("\r\n").len();
                    let body = &m[lead..];
                    let fenced = body.starts_with("Response: ")
                        && body.split("\r\n").nth(1) == Some(&format!("ActionID: {fence}"));
                    if fenced {
                        if lead > 0 {
                            got.push(format!("<{} extra CRLF>", lead / 2));
                        }
                        break;
                    }
                    got.push(mask(&m));
                }
                Ok(None) => {
                    got.push("<closed>".to_owned());
                    break;
                }
                Err(_) => {
                    got.push("<no fence within 8 s>".to_owned());
                    break;
                }
            }
        }
        sort_unordered(&mut got);
        answers.push(got);
    }
    answers
}

/// Logs in (Events off unless `events`), answer checked.
fn login(mut raw: RawAmi, user: User, events: &str) -> RawAmi {
    let reply = raw.login(user, Some(events)).expect("login");
    assert!(reply.contains("Authentication accepted"), "{}: {reply}", user.name);
    if events != "off" {
        // What follows the login (FullyBooted, SuccessfulAuth) belongs to the login script.
        let _ = raw.drain_for(Duration::from_millis(300));
    }
    raw
}

/// Compares the two servers' answers to a script; returns the differences as
/// `(script, step, detail)`.
fn differences(
    script: &str,
    steps: &[Step],
    live: &[Vec<String>],
    mock: &[Vec<String>],
) -> Vec<(String, String, String)> {
    let mut diffs = Vec::new();
    for ((s, l), m) in steps.iter().zip(live).zip(mock) {
        if l != m {
            diffs.push((script.to_owned(), s.label.clone(), format!("live {l:#?}\nmock {m:#?}")));
        }
    }
    diffs
}

/// Fails unless the differences are exactly the tabled ones of `scripts`.
fn check(scripts: &[&str], diffs: &[(String, String, String)]) {
    let untabled: Vec<String> = diffs
        .iter()
        .filter(|(sc, st, _)| !TABLED.iter().any(|(s, t, _)| s == sc && t == st))
        .map(|(sc, st, d)| format!("[{sc}] {st}:\n{d}"))
        .collect();
    let stale: Vec<String> = TABLED
        .iter()
        .filter(|(s, _, _)| scripts.contains(s))
        .filter(|(s, t, _)| !diffs.iter().any(|(sc, st, _)| sc == s && st == t))
        .map(|(s, t, r)| format!("[{s}] {t} ({r})"))
        .collect();
    assert!(
        untabled.is_empty() && stale.is_empty(),
        "differences between the mock and Asterisk that are not in TABLED:\n{}\n\n\
         tabled differences that no longer occur:\n{}",
        untabled.join("\n\n"),
        stale.join("\n")
    );
}

/// Runs a script on both servers (a fresh connection each, logged in as `user`).
fn both(
    ast: &ami_testkit::Asterisk,
    mock: &MockProc,
    script: &str,
    user: Option<User>,
    steps: &[Step],
) -> Vec<(String, String, String)> {
    let (mut a, mut b) = (ast.raw(), mock.raw());
    if let Some(u) = user {
        a = login(a, u, "off");
        b = login(b, u, "off");
    }
    let (l, m) = std::thread::scope(|s| {
        let l = s.spawn(|| run(&mut a, steps));
        let m = run(&mut b, steps);
        (l.join().expect("live script"), m)
    });
    differences(script, steps, &l, &m)
}

fn listed_actions(raw: &mut RawAmi) -> Vec<String> {
    raw.send(b"Action: ListCommands\r\nActionID: lc\r\n\r\n").expect("send");
    let m = raw
        .read_until(Duration::from_secs(5), |m| m.contains("ActionID: lc"))
        .expect("ListCommands");
    let text = m.last().cloned().unwrap_or_default();
    text.split("\r\n")
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_owned()))
        .collect()
}

#[test]
fn every_listed_action_answers_like_asterisk() {
    let _one = serial();
    let ast = ami_testkit::shared();
    fully_booted(&ast);
    let mock = MockProc::conformance(&[]);
    let mut diffs = Vec::new();
    // ListCommands: the same actions, synopses and rights for every user.
    let mut names = Vec::new();
    for user in [ADMIN, READER, LIMITED, FILTERED] {
        let steps = [action("ListCommands", &[], "lc")];
        diffs.extend(both(&ast, &mock, "listcommands", Some(user), &steps));
        if user == ADMIN {
            names = listed_actions(&mut login(ast.raw(), ADMIN, "off"));
        }
    }
    assert_eq!(names.len(), 107, "{names:?}");
    // Every listed action without arguments, then with arguments that name nothing.
    let skip = ["Login", "Logoff", "Challenge", "WaitEvent"];
    let bare: Vec<Step> = names
        .iter()
        .filter(|n| !skip.contains(&n.as_str()))
        .enumerate()
        .map(|(i, n)| {
            let mut s = action(n, &[], &format!("a{i}"));
            s.label.clone_from(n);
            s
        })
        .collect();
    diffs.extend(both(&ast, &mock, "sweep", Some(ADMIN), &bare));
    let nothing = "Local/nosuch-00000000;1";
    let chan = format!("Channel: {nothing}");
    let with_args: Vec<(&str, Vec<String>)> = vec![
        ("AbsoluteTimeout", vec![chan.clone(), "Timeout: 5".into()]),
        ("AGI", vec![chan.clone(), "Command: ANSWER".into()]),
        ("AOCMessage", vec![chan.clone(), "MsgType: D".into(), "ChargeType: Currency".into()]),
        ("Atxfer", vec![chan.clone(), "Exten: 100".into()]),
        ("Atxfer", vec![chan.clone()]),
        ("BlindTransfer", vec![chan.clone(), "Exten: 100".into()]),
        (
            "Bridge",
            vec![format!("Channel1: {nothing}"), "Channel2: Local/nosuch-00000000;2".into()],
        ),
        ("BridgeDestroy", vec!["BridgeUniqueid: nosuch".into()]),
        ("BridgeInfo", vec!["BridgeUniqueid: nosuch".into()]),
        ("BridgeKick", vec![chan.clone()]),
        ("BridgeList", vec!["BridgeType: basic".into()]),
        ("BridgeTechnologySuspend", vec!["BridgeTechnology: nosuch".into()]),
        ("BridgeTechnologyUnsuspend", vec!["BridgeTechnology: nosuch".into()]),
        ("CancelAtxfer", vec![chan.clone()]),
        ("ConfbridgeKick", vec!["Conference: nosuch".into(), chan.clone()]),
        ("ConfbridgeList", vec!["Conference: nosuch".into()]),
        ("ConfbridgeLock", vec!["Conference: nosuch".into()]),
        ("ConfbridgeMute", vec!["Conference: nosuch".into(), chan.clone()]),
        ("ConfbridgeStartRecord", vec!["Conference: nosuch".into()]),
        ("ControlPlayback", vec![chan.clone(), "Control: pause".into()]),
        ("CoreShowChannelMap", vec![chan.clone()]),
        ("DBPut", vec!["Family: libami-diff".into(), "Key: k".into(), "Val: v".into()]),
        ("DBGet", vec!["Family: libami-diff".into(), "Key: k".into()]),
        ("DBGetTree", vec!["Family: libami-diff".into()]),
        ("DBDel", vec!["Family: libami-diff".into(), "Key: k".into()]),
        ("DBDel", vec!["Family: libami-diff".into(), "Key: k".into()]),
        ("DBGet", vec!["Family: libami-diff".into()]),
        ("DBPut", vec!["Family: libami-diff".into(), "Key: a/b".into(), "Val: 1".into()]),
        ("DBDelTree", vec!["Family: libami-diff".into()]),
        ("DBDelTree", vec!["Family: libami-diff".into()]),
        ("DialplanExtensionRemove", vec!["Context: libami-nosuch".into(), "Extension: 1".into()]),
        ("ExtensionState", vec!["Exten: 100".into(), "Context: libami-nosuch".into()]),
        ("ExtensionState", vec!["Exten: start".into(), "Context: amitest".into()]),
        ("FAXSession", vec!["SessionNumber: 99".into()]),
        ("GetConfig", vec!["Filename: libami-nosuch.conf".into()]),
        ("GetConfigJSON", vec!["Filename: libami-nosuch.conf".into()]),
        ("ListCategories", vec!["Filename: libami-nosuch.conf".into()]),
        ("LocalOptimizeAway", vec![chan.clone()]),
        ("MailboxCount", vec!["Mailbox: nosuch@default".into()]),
        ("MailboxStatus", vec!["Mailbox: nosuch@default".into()]),
        ("MessageSend", vec!["To: pjsip:nosuch".into(), "From: x".into(), "Body: hi".into()]),
        ("MixMonitor", vec![chan.clone(), "File: x.wav".into()]),
        ("MixMonitorMute", vec![chan.clone(), "Direction: both".into(), "State: 1".into()]),
        ("MixMonitorMute", vec!["Direction: both".into()]),
        ("ModuleCheck", vec!["Module: nosuch".into()]),
        ("ModuleLoad", vec!["Module: nosuch.so".into(), "LoadType: load".into()]),
        ("MuteAudio", vec![chan.clone(), "Direction: in".into(), "State: on".into()]),
        ("MuteAudio", vec![chan.clone()]),
        ("PlayDTMF", vec![chan.clone(), "Digit: 1".into()]),
        ("PlayMF", vec![chan.clone(), "Digit: 1".into()]),
        ("PresenceState", vec!["Provider: CustomPresence:nosuch".into()]),
        ("QueueAdd", vec!["Queue: nosuch".into(), "Interface: Local/x@y".into()]),
        ("QueueAdd", vec!["Queue: nosuch".into()]),
        (
            "QueueChangePriorityCaller",
            vec!["Queue: nosuch".into(), format!("Caller: {nothing}"), "Priority: 1".into()],
        ),
        ("QueueLog", vec!["Queue: nosuch".into(), "Event: LIBAMITEST".into()]),
        (
            "QueueMemberRingInUse",
            vec!["Interface: Local/x@y".into(), "RingInUse: yes".into(), "Queue: nosuch".into()],
        ),
        ("QueuePause", vec!["Interface: Local/x@y".into(), "Paused: true".into()]),
        ("QueuePenalty", vec!["Interface: Local/x@y".into(), "Penalty: 1".into()]),
        ("QueueRemove", vec!["Queue: nosuch".into(), "Interface: Local/x@y".into()]),
        ("QueueRule", vec!["Rule: nosuch".into()]),
        ("QueueStatus", vec!["Queue: nosuch".into()]),
        ("QueueSummary", vec!["Queue: nosuch".into()]),
        ("QueueWithdrawCaller", vec!["Queue: nosuch".into(), format!("Caller: {nothing}")]),
        (
            "Redirect",
            vec![chan.clone(), "Exten: 1".into(), "Context: amitest".into(), "Priority: 1".into()],
        ),
        ("Reload", vec!["Module: nosuch".into()]),
        ("SendFlash", vec![chan.clone()]),
        ("SendText", vec![chan.clone(), "Message: hi".into()]),
        ("SendText", vec![chan.clone()]),
        ("ShowDialPlan", vec!["Context: amitest".into()]),
        ("ShowDialPlan", vec!["Context: amitest".into(), "Extension: busy".into()]),
        ("ShowDialPlan", vec!["Context: amitest".into(), "Extension: nosuch".into()]),
        ("ShowDialPlan", vec!["Context: libami-nosuch".into()]),
        ("SorceryMemoryCacheExpire", vec!["Cache: nosuch".into()]),
        ("SorceryMemoryCacheStaleObject", vec!["Cache: nosuch".into(), "Object: x".into()]),
        ("StopMixMonitor", vec![chan.clone()]),
        ("VoicemailBoxSummary", vec!["Context: default".into(), "Mailbox: nosuch".into()]),
        ("VoicemailForward", vec!["Mailbox: nosuch@default".into()]),
        ("VoicemailMove", vec!["Mailbox: nosuch@default".into()]),
        ("VoicemailRemove", vec!["Mailbox: nosuch@default".into()]),
        ("VoicemailUserStatus", vec!["Context: default".into(), "Mailbox: nosuch".into()]),
    ];
    let steps: Vec<Step> = with_args
        .iter()
        .enumerate()
        .map(|(i, (n, h))| {
            let h: Vec<&str> = h.iter().map(String::as_str).collect();
            action(n, &h, &format!("p{i}"))
        })
        .collect();
    diffs.extend(both(&ast, &mock, "sweep-args", Some(ADMIN), &steps));
    check(&["listcommands", "sweep", "sweep-args"], &diffs);
}

/// The actions the mock simulates, their errors, refusals, and malformed input.
#[test]
fn sessions_answer_like_asterisk() {
    let _one = serial();
    let ast = ami_testkit::shared();
    fully_booted(&ast);
    let mock = MockProc::conformance(&[]);
    let var = format!("LIBAMIDIFF{}", std::process::id());
    let setvar = format!("Variable: {var}");
    let long_id = format!("ChannelId: {}", "u".repeat(150));
    let mut diffs = Vec::new();
    let actions = vec![
        action("CoreSettings", &[], "1"),
        action("CoreStatus", &[], "2"),
        action("Command", &["Command: core show version"], "3"),
        action("Command", &["Command: core show uptime"], "4"),
        action("Command", &["Command: core show channels"], "5"),
        action("Command", &["Command: no such command here"], "6"),
        action("Command", &["Command: "], "7"),
        action("Getvar", &["Variable: TESTGLOBAL"], "8"),
        action("Setvar", &[&setvar, "Value: set via ami"], "9"),
        action("Getvar", &[&setvar], "10"),
        action("Setvar", &[&setvar], "11"),
        action("Getvar", &[&setvar], "12"),
        action("Getvar", &["Variable: NOSUCHVAR"], "13"),
        action("Getvar", &["Variable: LEN(hello world)"], "14"),
        action("Getvar", &[], "15"),
        action("Getvar", &["Channel: Local/nosuch-00000000;1", "Variable: X"], "16"),
        action("Setvar", &["Channel: Local/nosuch-00000000;1", "Variable: X", "Value: 1"], "17"),
        action("UserEvent", &["UserEvent: LibamiDiff", "Foo: bar"], "18"),
        action("Status", &["Channel: Local/nosuch-00000000;1"], "19"),
        action("Hangup", &[], "20"),
        action("Hangup", &["Channel: Local/nosuch-00000000;1"], "21"),
        action("Hangup", &["Channel: /^libami-nomatch$/"], "22"),
        action("Hangup", &["Channel: /[/"], "23"),
        action("Originate", &[], "24"),
        action("Originate", &["Channel: Local/x@y", "Priority: nolabel"], "25"),
        action("Originate", &["Channel: Local/x@y", "Timeout: soon"], "26"),
        action("Originate", &["Channel: noslash", "Exten: 1"], "27"),
        action(
            "Originate",
            &["Channel: Local/x@amitest", "Context: amitest", "Exten: nosuch", "Priority: 1"],
            "28",
        ),
        action("Originate", &["Channel: Local/x@amitest", "Exten: 1"], "29"),
        action("Originate", &["Channel: Foo/bar", "Application: Wait"], "30"),
        action("Originate", &["Channel: Local/nosuch@amitest", "Application: Wait"], "31"),
        action("Originate", &["Channel: Local/x@y", &long_id, "Application: Wait"], "32"),
        action("Events", &["EventMask: off"], "33"),
        action("Events", &["EventMask: nonsense"], "34"),
        action("Filter", &["Operation: Add", "Filter: Event: Foo"], "35"),
        action("Filter", &["Operation: Add"], "36"),
        action("Filter", &["Operation: Remove"], "37"),
        action("Ping", &[], "38"),
        action("WaitEvent", &["Timeout: 1"], "39"),
        action("ExtensionState", &["Exten: 100"], "40"),
        action("NoSuchAction", &[], "41"),
        action("coresettings", &[], "42"),
    ];
    diffs.extend(both(&ast, &mock, "actions", Some(ADMIN), &actions));
    let before_login = vec![
        action("Ping", &[], "b1"),
        action("Command", &["Command: core show version"], "b2"),
        action("NoSuchAction", &[], "b3"),
        step("Ping without ActionID", "Action: Ping\r\n\r\n"),
        action("Challenge", &["AuthType: plain"], "b4"),
        action("Challenge", &[], "b5"),
        action("Logoff", &[], "b6"),
    ];
    diffs.extend(both(&ast, &mock, "before-login", None, &before_login));
    let malformed = vec![
        step("bare LF", "Action: Ping\nActionID: lf-1\n\n"),
        step("mixed line ends", "Action: Ping\r\nActionID: lf-2\n\r\n"),
        step("bare CR inside", "Action: Ping\rActionID: lf-3\r\r\n\r\n"),
        step(
            "a line without colon",
            "Action: Ping\r\nThisLineHasNoColon\r\nActionID: nc-1\r\n\r\n",
        ),
        step("no colon first", "NoColonFirst\r\nAction: Ping\r\nActionID: nc-2\r\n\r\n"),
        step("action line without colon", "Action Ping\r\nActionID: nc-3\r\n\r\n"),
        step("no action", "ActionID: na-1\r\nFoo: bar\r\n\r\n"),
        step("empty action", "Action: \r\nActionID: na-2\r\n\r\n"),
        step("200 headers", &{
            let mut r = "Action: Ping\r\nActionID: many-1\r\n".to_owned();
            for i in 1..=198 {
                r.push_str(&format!("X-Header-{i:03}: v\r\n"));
            }
            r + "\r\n"
        }),
        step("ActionID after line 128", &{
            let mut r = "Action: Ping\r\n".to_owned();
            for i in 1..=127 {
                r.push_str(&format!("F{i}: v\r\n"));
            }
            r + "ActionID: many-2\r\n\r\n"
        }),
        step(
            "a 1100-byte line",
            &format!("Action: Ping\r\nActionID: long-1\r\nX: {}\r\n\r\n", "y".repeat(1100)),
        ),
        step(
            "a 1100-byte ActionID",
            &format!("Action: Ping\r\nActionID: {}\r\n\r\n", "z".repeat(1100)),
        ),
        step("header name with a blank", "Action: Ping\r\nAction ID : sp-1\r\n\r\n"),
        step("value with leading blanks", "Action:    Ping\r\nActionID:   sp-2\r\n\r\n"),
    ];
    diffs.extend(both(&ast, &mock, "malformed", Some(ADMIN), &malformed));
    let reader = vec![
        action("Originate", &["Channel: Local/echo@amitest", "Application: Wait"], "r1"),
        action("Command", &["Command: core show version"], "r2"),
        action("Status", &[], "r3"),
        action("CoreSettings", &[], "r4"),
        action("UserEvent", &["UserEvent: X"], "r5"),
        action("Getvar", &["Variable: X"], "r6"),
        action("QueueStatus", &[], "r7"),
        action("Ping", &[], "r8"),
    ];
    diffs.extend(both(&ast, &mock, "reader", Some(READER), &reader));
    let limited = vec![
        action("Command", &["Command: core show version"], "l1"),
        action(
            "Originate",
            &["Channel: Local/echo@amitest", "Application: System", "Data: id"],
            "l2",
        ),
        action("Originate", &["Channel: Local/echo@amitest", "Application: EVAL"], "l3"),
        action("Getvar", &["Variable: SHELL(id)"], "l4"),
        action("Getvar", &["Variable: EVAL(x)"], "l5"),
        action("Status", &["Variables: SHELL(id)"], "l6"),
        action("CoreSettings", &[], "l7"),
        action("Setvar", &["Variable: X", "Value: 1"], "l8"),
        action("Hangup", &["Channel: Local/nosuch-00000000;1"], "l9"),
        action("DBGet", &["Family: x", "Key: y"], "l10"),
    ];
    diffs.extend(both(&ast, &mock, "limited", Some(LIMITED), &limited));
    check(&["actions", "before-login", "malformed", "reader", "limited"], &diffs);
}

/// Logins both ways, the events that follow, and failed logins (their answer, the delay,
/// the close, and the security events an observer sees).
#[test]
fn logins_answer_like_asterisk() {
    let _one = serial();
    let ast = ami_testkit::shared();
    fully_booted(&ast);
    let mock = MockProc::conformance(&[]);
    let mut diffs = Vec::new();
    // Asterisk publishes SuccessfulAuth through its event bus: it may come after the next
    // answer, or never if the session is gone by then (a CI run saw a Logoff win that race).
    // So each session waits half a second after its login before it logs off, and is
    // compared as the sorted list of what came.
    let sorted = |answers: Vec<Vec<String>>| -> Vec<Vec<String>> {
        let mut all: Vec<String> = answers.into_iter().flatten().collect();
        all.sort();
        vec![all]
    };
    for user in [ADMIN, READER, LIMITED, FILTERED] {
        let login = format!("Username: {}", user.name);
        let secret = format!("Secret: {}", user.secret);
        let steps = [action("Login", &[&login, &secret], "login"), action("Logoff", &[], "bye")];
        let session = |mut raw: RawAmi| -> Vec<Vec<String>> {
            let mut answers = run(&mut raw, &steps[..1]);
            let after = raw.drain_for(Duration::from_millis(500)).expect("read");
            answers.push(after.iter().map(|m| mask(m)).collect());
            answers.extend(run(&mut raw, &steps[1..]));
            sorted(answers)
        };
        let (l, m) = std::thread::scope(|s| {
            let l = s.spawn(|| session(ast.raw()));
            (l.join().expect("live login"), session(mock.raw()))
        });
        let label = [step(format!("login and logoff as {}", user.name), "")];
        diffs.extend(differences("login", &label, &l, &m));
    }
    // MD5: the challenge digits differ; the key is computed from each server's own.
    let md5 = |mut raw: RawAmi, key_for: &dyn Fn(&str) -> String| -> Vec<String> {
        raw.send(b"Action: Challenge\r\nActionID: c\r\nAuthType: MD5\r\n\r\n").expect("send");
        let c = raw
            .read_until(Duration::from_secs(5), |m| m.contains("ActionID: c"))
            .expect("challenge");
        let challenge = ami_testkit::header(c.last().map_or("", String::as_str), "Challenge")
            .unwrap_or("")
            .to_owned();
        // `%ld` of ast_random(): decimal digits, usually 9 or 10, fewer now and then.
        assert!(!challenge.is_empty() && challenge.bytes().all(|b| b.is_ascii_digit()), "{c:?}");
        let key = key_for(&challenge);
        let login = format!(
            "Action: Login\r\nActionID: l\r\nAuthType: MD5\r\nUsername: admin\r\nKey: {key}\r\nEvents: on\r\n\r\n"
        );
        raw.send(login.as_bytes()).expect("send");
        let mut got: Vec<String> = c.iter().map(|m| mask(m)).collect();
        got.extend(
            raw.drain_for(Duration::from_millis(500)).expect("read").iter().map(|m| mask(m)),
        );
        got.sort();
        got
    };
    let good = |c: &str| {
        String::from_utf8_lossy(&ami_proto::auth::md5_key(c.as_bytes(), ADMIN.secret.as_bytes()))
            .into_owned()
    };
    let (l, m) = (md5(ast.raw(), &good), md5(mock.raw(), &good));
    let md5_steps = [step("MD5 login", "")];
    diffs.extend(differences("login", &md5_steps, &[l], &[m]));
    // Failed logins: answered after the delay, then closed; an observer sees why.
    let failures: [(&str, String); 4] = [
        ("wrong secret", "Action: Login\r\nActionID: f\r\nUsername: admin\r\nSecret: wrong\r\n\r\n".into()),
        ("unknown user", "Action: Login\r\nActionID: f\r\nUsername: libami-nosuchuser\r\nSecret: x\r\n\r\n".into()),
        ("ACL", format!("Action: Login\r\nActionID: f\r\nUsername: {}\r\nSecret: {}\r\n\r\n", DENIED.name, DENIED.secret)),
        ("MD5 wrong key", "Action: Challenge\r\nActionID: c\r\nAuthType: MD5\r\n\r\nAction: Login\r\nActionID: f\r\nAuthType: MD5\r\nUsername: admin\r\nKey: 00000000000000000000000000000000\r\n\r\n".into()),
    ];
    let observe = |raw: RawAmi| login(raw, ADMIN, "security");
    let (mut live_obs, mut mock_obs) = (observe(ast.raw()), observe(mock.raw()));
    let fail = |mut raw: RawAmi, request: &str| -> (Vec<String>, Duration) {
        let start = Instant::now();
        raw.send(request.as_bytes()).expect("send");
        let mut got = Vec::new();
        loop {
            match raw.read_message(Duration::from_secs(5)) {
                Ok(Some(m)) => got.push(mask(&m)),
                Ok(None) => {
                    got.push("<closed>".to_owned());
                    break;
                }
                Err(e) => {
                    got.push(format!("<{e}>"));
                    break;
                }
            }
        }
        (got, start.elapsed())
    };
    for (label, request) in &failures {
        let ((l, lt), (m, mt)) = std::thread::scope(|s| {
            let l = s.spawn(|| fail(ast.raw(), request));
            let m = fail(mock.raw(), request);
            (l.join().expect("live login"), m)
        });
        for (who, t) in [("Asterisk", lt), ("the mock", mt)] {
            assert!(
                t >= Duration::from_millis(900) && t < Duration::from_secs(4),
                "{label}: {who} answered after {t:?}"
            );
        }
        diffs.extend(differences("failed-login", &[step(*label, "")], &[l], &[m]));
    }
    // The security events of the failures, as the observer got them.
    let security = |raw: &mut RawAmi| -> Vec<String> {
        let mut got: Vec<String> = raw
            .drain_for(Duration::from_millis(700))
            .expect("read")
            .into_iter()
            .filter(|m| {
                [
                    "InvalidPassword",
                    "InvalidAccountID",
                    "FailedACL",
                    "ChallengeResponseFailed",
                    "ChallengeSent",
                ]
                .iter()
                .any(|e| m.starts_with(&format!("Event: {e}\r\n")))
            })
            .map(|m| mask(&m))
            .collect();
        got.sort();
        got
    };
    let (l, m) = (security(&mut live_obs), security(&mut mock_obs));
    assert!(l.len() >= 4, "{l:#?}");
    diffs.extend(differences("failed-login", &[step("security events", "")], &[l], &[m]));
    check(&["login", "failed-login"], &diffs);
}

/// Status, CoreShowChannels, Getvar, Setvar and Hangup on a call in progress.
#[test]
fn a_call_in_progress_answers_like_asterisk() {
    let _one = serial();
    let ast = ami_testkit::shared();
    fully_booted(&ast);
    let mock = MockProc::conformance(&[]);
    let place = |mut raw: RawAmi| -> RawAmi {
        raw.send(
            b"Action: Originate\r\nActionID: park\r\nChannel: Local/park@amitest\r\nContext: amitest\r\n\
              Exten: sink\r\nPriority: 1\r\nAsync: true\r\n\r\n",
        )
        .expect("send");
        // Up, and the ;2 has reached Wait(30) (after Answer and Set): no sleep that a loaded
        // machine could outlast.
        let (mut answered, mut waiting) = (false, false);
        raw.read_until(Duration::from_secs(20), |m| {
            answered |= m.starts_with("Event: OriginateResponse");
            waiting |= m.starts_with("Event: Newexten")
                && ami_testkit::header(m, "Application") == Some("Wait")
                && ami_testkit::header(m, "Channel")
                    .is_some_and(|c| c.starts_with("Local/park@amitest-") && c.ends_with(";2"));
            answered && waiting
        })
        .expect("the call is up and waiting");
        raw
    };
    let (a, b) =
        (login(ast.raw(), ADMIN, "call,dialplan"), login(mock.raw(), ADMIN, "call,dialplan"));
    let (mut a, mut b) = std::thread::scope(|s| {
        let a = s.spawn(|| place(a));
        (a.join().expect("live call"), place(b))
    });
    // The events are not the point here (tests/mock_calls.rs compares them): off.
    for raw in [&mut a, &mut b] {
        raw.send(b"Action: Events\r\nEventMask: off\r\n\r\n").expect("send");
        raw.drain_for(Duration::from_millis(300)).expect("read");
    }
    let name = |raw: &mut RawAmi| -> String {
        raw.send(b"Action: CoreShowChannels\r\nActionID: n\r\n\r\n").expect("send");
        let items = raw
            .read_until(Duration::from_secs(5), |m| m.contains("CoreShowChannelsComplete"))
            .expect("list");
        items
            .iter()
            .filter_map(|m| ami_testkit::header(m, "Channel"))
            .find(|c| c.starts_with("Local/park@amitest-") && c.ends_with(";2"))
            .expect("the ;2")
            .to_owned()
    };
    let (la, lb) = (name(&mut a), name(&mut b));
    let steps = |two: &str| {
        vec![
            action("Status", &[], "s1"),
            action("Status", &[&format!("Channel: {two}"), "Variables: PARKVAR,FOO"], "s2"),
            action("CoreShowChannels", &[], "s3"),
            action("Getvar", &[&format!("Channel: {two}"), "Variable: PARKVAR"], "s4"),
            action("Setvar", &[&format!("Channel: {two}"), "Variable: MYVAR", "Value: 123"], "s5"),
            action("Getvar", &[&format!("Channel: {two}"), "Variable: MYVAR"], "s6"),
            action("Getvar", &[&format!("Channel: {two}"), "Variable: CALLERID(all)"], "s7"),
            action("Getvar", &[&format!("Channel: {two}"), "Variable: CHANNEL(state)"], "s8"),
            action("Command", &["Command: core show channels"], "s9"),
            // Only the ;2: with both halves matching, Asterisk hangs up the ;2 and may find
            // the ;1 already gone with it (one item or two, as the threads run).
            action("Hangup", &["Channel: /^Local\\/park@.*;2$/"], "s10"),
        ]
    };
    let (sa, sb) = (steps(&la), steps(&lb));
    let (l, m) = std::thread::scope(|s| {
        let l = s.spawn(|| run(&mut a, &sa));
        (l.join().expect("live script"), run(&mut b, &sb))
    });
    let labels: Vec<Step> = sa
        .iter()
        .map(|s| Step { label: s.label.replace(&la, "Local/park@amitest-*;2"), bytes: Vec::new() })
        .collect();
    let diffs = differences("call", &labels, &l, &m);
    check(&["call"], &diffs);
}
