//! `ami mock`'s calls against the live Asterisk's: the same Originate of the same dialplan
//! (the conformance extensions.conf, which the mock runs built in) on both, compared event by
//! event.
//!
//! Asterisk publishes a call's events from several threads (each channel's, the bridge's,
//! the CDR, CEL and device-state engines), so their global order varies from run to run. What
//! does not vary, and what is compared:
//! - the multiset of events, each named by kind, channel shape (`Local/start@amitest-<1>;2`:
//!   the hex suffix numbered by order of creation) and its telling detail (the VarSet's
//!   variable, the Newexten's application, the CEL event, the cause ...);
//! - per channel, the order of the channel events naming it (`Channel`, `DestChannel`,
//!   `LocalOneChannel`, `LocalTwoChannel`), and the order of its CEL events;
//! - each event's header names, and their values but for what differs per run (unique ids,
//!   times, durations, bridge ids, channel name suffixes);
//! - per device, its final state (Asterisk's device-state thread computes a Local device's
//!   state when it gets to it, so the states in between, and how often each is published,
//!   vary);
//! - the Originate's response.
//!
//! Exceptions, for what Asterisk itself does not repeat: CEL `LINKEDID_END` goes to whichever
//! channel of the call ends last (compared without a channel, fields unchecked), and the
//! `Peer` of CEL `BRIDGE_EXIT` names whoever has not left the bridge yet.
//!
//! Each call is followed on its own connection by the Linkedid the test assigns
//! (`ChannelId`), its ActionID, its channels' names (Cdr) and devices (DeviceStateChange).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ami_testkit::RawAmi;
use support::{MockProc, get, headers};

type Msg = Vec<(String, String)>;

/// Events by label, each as its masked fields.
type ByLabel = BTreeMap<(String, String, String), Vec<Vec<(String, String)>>>;

/// One call: an Originate (without ActionID and ChannelId, which the test adds).
#[derive(Clone, Copy, Debug)]
struct Scenario {
    name: &'static str,
    originate: &'static str,
    is_async: bool,
}

const fn sc(name: &'static str, originate: &'static str, is_async: bool) -> Scenario {
    Scenario { name, originate, is_async }
}

/// Calls whose outcome does not depend on timing races (every wait ends with a margin of
/// a second or more), on distinct devices so that they can run at the same time.
const ROUND_1: [Scenario; 8] = [
    // Local/start dials Local/answer, which hangs up after 3 s; the ;1 waits 6 s.
    sc(
        "start-app-async",
        "Channel: Local/start@amitest\r\nApplication: Wait\r\nData: 6\r\nAsync: true",
        true,
    ),
    sc("simple-app-sync", "Channel: Local/simple@amitest\r\nApplication: Wait\r\nData: 5", false),
    sc(
        "busy-app-async",
        "Channel: Local/busy@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true",
        true,
    ),
    sc(
        "congest-exten-sync",
        "Channel: Local/congest@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1",
        false,
    ),
    sc(
        "nosuch-app-async",
        "Channel: Local/nosuch@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true",
        true,
    ),
    sc(
        "badtech-app-async",
        "Channel: Foo/bar\r\nApplication: Wait\r\nData: 1\r\nAsync: true",
        true,
    ),
    sc(
        "echo-app-async",
        "Channel: Local/echo@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true",
        true,
    ),
    sc(
        "delayed-app-async",
        "Channel: Local/delayed@amitest\r\nApplication: Wait\r\nData: 5\r\nAsync: true",
        true,
    ),
];

/// The same devices as `start-app-async`: after it.
const ROUND_2: [Scenario; 2] = [
    sc(
        "start-exten-async",
        "Channel: Local/start@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1\r\nAsync: true",
        true,
    ),
    sc("badtech-app-sync", "Channel: Foo/bar\r\nApplication: Wait\r\nData: 1", false),
];

/// What one server did for one call.
#[derive(Debug, Default)]
struct Call {
    response: Msg,
    events: Vec<Msg>,
}

fn is_event(m: &Msg, name: &str) -> bool {
    get(m, "Event") == Some(name)
}

/// Places the scenario's call on `raw` (logged in, events on) and collects its events until
/// its channels are gone and nothing more comes for a moment.
fn place(raw: &mut RawAmi, s: &Scenario, tag: &str) -> Call {
    let action = format!(
        "Action: Originate\r\nActionID: {tag}\r\nChannelId: {tag}\r\nOtherChannelId: {tag}.2\r\n{}\r\n\r\n",
        s.originate
    );
    raw.send(action.as_bytes()).expect("send the Originate");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut call = Call::default();
    let mut all: Vec<Msg> = Vec::new();
    let mut alive: BTreeSet<String> = BTreeSet::new();
    let mut seen_channel = false;
    let mut originate_response = false;
    let mut settle_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let until = settle_until.unwrap_or(deadline).min(deadline);
        if now >= until {
            let kinds: Vec<_> =
                call.events.iter().map(|m| get(m, "Event").unwrap_or("?")).collect();
            assert!(
                settle_until.is_some(),
                "{tag}: the call did not end within 30 s: response {:?}, channels up {alive:?}, \
                 events {kinds:?}",
                call.response
            );
            break;
        }
        let Some(text) = raw
            .read_message(until - now)
            .or_else(|e| if e.kind() == std::io::ErrorKind::TimedOut { Ok(None) } else { Err(e) })
            .expect("read")
        else {
            continue;
        };
        let m = headers(&text);
        if m.first().is_some_and(|(k, _)| k == "Response") && get(&m, "ActionID") == Some(tag) {
            call.response = m;
        } else if is_event(&m, "OriginateResponse") && get(&m, "ActionID") == Some(tag) {
            originate_response = true;
            call.events.push(m);
        } else if m.iter().any(|(k, v)| k.to_ascii_lowercase().ends_with("linkedid") && v == tag) {
            if is_event(&m, "Newchannel") {
                seen_channel = true;
                alive.insert(get(&m, "Channel").unwrap_or_default().to_owned());
            }
            if is_event(&m, "Hangup") {
                alive.remove(get(&m, "Channel").unwrap_or_default());
            }
            call.events.push(m);
        } else {
            all.push(m);
        }
        let over = !call.response.is_empty()
            && (originate_response || !s.is_async)
            && (alive.is_empty() || !seen_channel);
        // Over, unless something more comes meanwhile (a sync Originate's events follow
        // its response).
        if !over {
            settle_until = None;
        } else if settle_until.is_none() {
            settle_until = Some(Instant::now() + Duration::from_millis(700));
        }
    }
    // Cdr and DeviceStateChange name no Linkedid: by channel name and device.
    let names: BTreeSet<String> =
        call.events.iter().filter_map(|m| get(m, "Channel").map(str::to_owned)).collect();
    let devices: BTreeSet<String> = names.iter().map(|n| device(n)).collect();
    for m in all {
        let cdr = is_event(&m, "Cdr") && get(&m, "Channel").is_some_and(|c| names.contains(c));
        let dsc = is_event(&m, "DeviceStateChange")
            && get(&m, "Device").is_some_and(|d| devices.contains(d));
        if cdr || dsc {
            call.events.push(m);
        }
    }
    call
}

/// `Local/start@amitest-0000000a;1` → `Local/start@amitest`.
fn device(channel: &str) -> String {
    let base = channel.split(';').next().unwrap_or(channel);
    match base.rfind('-') {
        Some(i) => base[..i].to_owned(),
        None => base.to_owned(),
    }
}

/// Renames channel suffixes (`-0000000a`) to their order of creation in the call (`-<1>`).
struct Shapes(BTreeMap<String, usize>);

impl Shapes {
    fn of(call: &Call) -> Shapes {
        let mut map = BTreeMap::new();
        for m in call.events.iter().filter(|m| is_event(m, "Newchannel")) {
            if let Some(s) = get(m, "Channel").and_then(suffix) {
                let n = map.len() + 1;
                map.entry(s.to_owned()).or_insert(n);
            }
        }
        Shapes(map)
    }

    fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (s, n) in &self.0 {
            out = out.replace(&format!("-{s}"), &format!("-<{n}>"));
        }
        out
    }
}

/// The 8-hex suffix of a channel name.
fn suffix(channel: &str) -> Option<&str> {
    let base = channel.split(';').next()?;
    let s = &base[base.rfind('-')? + 1..];
    (s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
}

/// Kind, channel shape and telling detail of an event.
fn label(m: &Msg, shapes: &Shapes) -> (String, String, String) {
    let name = get(m, "Event").unwrap_or_default().to_owned();
    let detail_key = match name.as_str() {
        "CEL" => "EventName",
        "VarSet" => "Variable",
        "UserEvent" => "UserEvent",
        "Newexten" => "Application",
        "Newstate" => "ChannelStateDesc",
        "Hangup" | "HangupRequest" | "SoftHangupRequest" => "Cause",
        "DialEnd" | "DialState" => "DialStatus",
        "OriginateResponse" => "Reason",
        "DeviceStateChange" => "State",
        _ => "",
    };
    let detail = get(m, detail_key).unwrap_or_default().to_owned();
    let chan = ["Channel", "DestChannel", "LocalOneChannel", "Device"]
        .iter()
        .find_map(|k| get(m, k))
        .unwrap_or_default();
    let chan =
        if name == "CEL" && detail == "LINKEDID_END" { String::new() } else { shapes.apply(chan) };
    (name, chan, detail)
}

/// Headers whose values differ per run.
fn masked(event: &str, name: &str, m: &Msg) -> bool {
    let lower = name.to_ascii_lowercase();
    // Who is still in the bridge when a channel leaves it: the other may be leaving too.
    if event == "CEL" && name == "Peer" && get(m, "EventName") == Some("BRIDGE_EXIT") {
        return true;
    }
    lower.ends_with("uniqueid")
        || lower.ends_with("linkedid")
        || matches!(name, "EventTime" | "StartTime" | "AnswerTime" | "EndTime" | "Duration")
        || matches!(name, "BillableSeconds" | "Timestamp")
        || (event == "VarSet"
            && name == "Value"
            && get(m, "Variable").is_some_and(|v| v.ends_with("TIME") || v.ends_with("TIME_MS")))
}

/// The event with masked values and channel shapes, for field-by-field comparison.
fn shape_of(m: &Msg, shapes: &Shapes) -> Vec<(String, String)> {
    let event = get(m, "Event").unwrap_or_default();
    m.iter()
        .map(|(k, v)| {
            let v = if masked(event, k, m) {
                "*".to_owned()
            } else if k == "Extra" {
                // The bridge id inside CEL's JSON.
                match v.find("\"bridge_id\":\"") {
                    Some(i) => format!("{}*{}", &v[..i + 13], &v[i + 13 + 36..]),
                    None => v.clone(),
                }
            } else {
                shapes.apply(v)
            };
            (k.clone(), v)
        })
        .collect()
}

/// Every difference between the live call and the mock's, as lines.
/// A Local channel's hangup request queued by its other half (cause 0) races the state
/// change its own application makes: live, `Congestion()` on the ;2 gave both
/// `HangupRequest(0)` then `Newstate(Busy)` and the reverse, its `ChannelState` Ring or Busy
/// accordingly (the ;1 reacts to the indication on another thread). Either is Asterisk's.
fn racing_request(key: &(String, String, String)) -> bool {
    key.0 == "HangupRequest" && key.2 == "0"
}

/// The fields of an event without its channel state (for [`racing_request`]s).
fn unstated(fields: &[(String, String)]) -> Vec<&(String, String)> {
    fields.iter().filter(|(k, _)| k != "ChannelState" && k != "ChannelStateDesc").collect()
}

/// One order for each racing pair of a channel's events: the request first.
fn settle_races(events: &mut [String]) {
    for i in 1..events.len() {
        if events[i] == "HangupRequest(0)" && events[i - 1].starts_with("Newstate(") {
            events.swap(i - 1, i);
        }
    }
}

fn compare(live: &Call, mock: &Call) -> Vec<String> {
    let mut diffs = Vec::new();
    let (ls, ms) = (Shapes::of(live), Shapes::of(mock));
    let strip = |r: &Msg| -> Msg { r.iter().filter(|(k, _)| k != "ActionID").cloned().collect() };
    if strip(&live.response) != strip(&mock.response) {
        diffs.push(format!("response: live {:?}, mock {:?}", live.response, mock.response));
    }
    let non_dsc = |c: &Call, s: &Shapes| -> ByLabel {
        let mut by: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for m in c.events.iter().filter(|m| !is_event(m, "DeviceStateChange")) {
            by.entry(label(m, s)).or_default().push(shape_of(m, s));
        }
        by
    };
    let (lb, mb) = (non_dsc(live, &ls), non_dsc(mock, &ms));
    for key in lb.keys().chain(mb.keys()).collect::<BTreeSet<_>>() {
        let (l, m) = (lb.get(key).map_or(0, Vec::len), mb.get(key).map_or(0, Vec::len));
        if l != m {
            diffs.push(format!("{key:?}: {l} live, {m} mock"));
            continue;
        }
        if key.0 == "CEL" && key.2 == "LINKEDID_END" {
            continue;
        }
        for (a, b) in lb[key].iter().zip(&mb[key]) {
            if racing_request(key) && unstated(a) == unstated(b) {
                continue;
            }
            if a != b {
                diffs.push(format!("{key:?} fields:\n      live {a:?}\n      mock {b:?}"));
            }
        }
    }
    // Per channel: the order of its channel events, and of its CEL events.
    let orders = |c: &Call, s: &Shapes| -> BTreeMap<String, (Vec<String>, Vec<String>)> {
        let mut by: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for m in &c.events {
            let (name, _, detail) = label(m, s);
            let item = if detail.is_empty() { name.clone() } else { format!("{name}({detail})") };
            if matches!(name.as_str(), "Cdr" | "DeviceStateChange" | "OriginateResponse") {
                continue;
            }
            if name == "CEL" {
                if detail != "LINKEDID_END" {
                    let ch = s.apply(get(m, "Channel").unwrap_or_default());
                    by.entry(ch).or_default().1.push(item);
                }
                continue;
            }
            for k in ["Channel", "DestChannel", "LocalOneChannel", "LocalTwoChannel"] {
                if let Some(ch) = get(m, k) {
                    by.entry(s.apply(ch)).or_default().0.push(item.clone());
                }
            }
        }
        by
    };
    let (mut lo, mut mo) = (orders(live, &ls), orders(mock, &ms));
    for (events, _) in lo.values_mut().chain(mo.values_mut()) {
        settle_races(events);
    }
    for ch in lo.keys().chain(mo.keys()).collect::<BTreeSet<_>>() {
        let (l, m) = (lo.get(ch), mo.get(ch));
        if l.map(|x| &x.0) != m.map(|x| &x.0) {
            diffs.push(format!(
                "{ch} events:\n      live {:?}\n      mock {:?}",
                l.map(|x| &x.0),
                m.map(|x| &x.0)
            ));
        }
        if l.map(|x| &x.1) != m.map(|x| &x.1) {
            diffs.push(format!(
                "{ch} CEL:\n      live {:?}\n      mock {:?}",
                l.map(|x| &x.1),
                m.map(|x| &x.1)
            ));
        }
    }
    // Per device: its final state.
    let states = |c: &Call| -> BTreeMap<String, String> {
        let mut by = BTreeMap::new();
        for m in c.events.iter().filter(|m| is_event(m, "DeviceStateChange")) {
            let st = get(m, "State").unwrap_or_default().to_owned();
            by.insert(get(m, "Device").unwrap_or_default().to_owned(), st);
        }
        by
    };
    if states(live) != states(mock) {
        diffs.push(format!("device states: live {:?}, mock {:?}", states(live), states(mock)));
    }
    diffs
}

/// Logs in as admin with every event.
fn logged_in(mut raw: RawAmi) -> RawAmi {
    let reply = raw.login(ami_testkit::ADMIN, Some("on")).expect("login");
    assert_eq!(get(&headers(&reply), "Response"), Some("Success"), "{reply}");
    raw
}

/// Runs the scenarios on both servers at once (one connection per call and server) and
/// returns the differences of each.
fn round(ast: &ami_testkit::Asterisk, mock: &MockProc, scenarios: &[Scenario]) -> Vec<String> {
    let results: Vec<(Scenario, Call, Call)> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .iter()
            .map(|s| {
                let s = *s;
                let (mut a, mut b) = (logged_in(ast.raw()), logged_in(mock.raw()));
                let tag = format!("cmp-{}-{}", s.name, std::process::id());
                let live = scope.spawn(move || place(&mut a, &s, &tag));
                let tag = format!("cmp-{}-{}", s.name, std::process::id());
                let fake = scope.spawn(move || place(&mut b, &s, &tag));
                (s, live, fake)
            })
            .collect();
        handles
            .into_iter()
            .map(|(s, l, m)| (s, l.join().expect("live call"), m.join().expect("mock call")))
            .collect()
    });
    let mut report = Vec::new();
    for (s, live, mock) in &results {
        eprintln!(
            "{:<20} events per call: live {:>3}, mock {:>3}",
            s.name,
            live.events.len(),
            mock.events.len()
        );
        for d in compare(live, mock) {
            report.push(format!("{}: {d}", s.name));
        }
    }
    report
}

#[test]
fn the_mocks_calls_are_the_live_asterisks() {
    let ast = ami_testkit::shared();
    support::fully_booted(&ast);
    let mock = MockProc::conformance(&["--cel"]);
    let mut diffs = round(&ast, &mock, &ROUND_1);
    diffs.extend(round(&ast, &mock, &ROUND_2));
    assert!(diffs.is_empty(), "the mock's calls differ from Asterisk's:\n{}", diffs.join("\n"));
}

/// The comparison itself tells a different call from the same one.
#[test]
fn the_comparison_sees_a_difference() {
    let call = |suffix: &str, vars: &[&str]| -> Call {
        let chan = format!("Local/a@b-{suffix};1");
        let msg = |pairs: &[(&str, &str)]| -> Msg {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let mut events =
            vec![msg(&[("Event", "Newchannel"), ("Channel", &chan), ("Linkedid", "x")])];
        for v in vars {
            events.push(msg(&[
                ("Event", "VarSet"),
                ("Channel", &chan),
                ("Variable", v),
                ("Value", "1"),
            ]));
        }
        Call { response: msg(&[("Response", "Success")]), events }
    };
    let a = call("0000000a", &["A", "B"]);
    assert!(compare(&a, &call("000000ff", &["A", "B"])).is_empty(), "suffixes are masked");
    let reordered = compare(&a, &call("0000000a", &["B", "A"]));
    assert_eq!(reordered.len(), 1, "{reordered:?}");
    assert!(reordered[0].contains("events"), "{reordered:?}");
    assert!(!compare(&a, &call("0000000a", &["A"])).is_empty(), "a missing event is seen");
}
