//! The PBX and the core's server on a virtual clock: calls of the conformance dialplan against
//! the live recordings of `live_calls.txt`, and what no live test reaches (Dial outcomes,
//! loops, phones).

use std::collections::BTreeMap;

use ami_proto::authority::ACTIONS;
use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use ami_proto::server::{Server, ServerEvent, ServerOptions, SessionId};
use ami_proto::time::Instant;

use super::{MODULES, Pbx, PbxOptions};
use crate::mock::dialplan::Dialplan;

type Msg = Vec<(String, String)>;

const CONF: &str = "[general]\nenabled = yes\n[admin]\nsecret = s\nread = all\nwrite = all\n";

struct Sim {
    server: Server,
    pbx: Pbx,
    now: u64,
    sid: SessionId,
    wire: Vec<u8>,
}

impl Sim {
    fn new(dialplan: Dialplan, calls_per_second: f64) -> Sim {
        let config = parse_manager_conf(CONF, &mut NoIncludes, &ConfigOptions::default()).unwrap();
        let opts = ServerOptions {
            actions: ACTIONS.iter().filter(|a| MODULES.contains(&a.module)).collect(),
            ..ServerOptions::default()
        };
        let mut server = Server::new(config, opts, Box::new(|| 7u32));
        let start = Instant::from_millis(1_000);
        let pbx = Pbx::new(
            start,
            1_795_380_000_000,
            PbxOptions { dialplan, calls_per_second, seed: 3, cel: true },
        );
        let sid = server.accept("127.0.0.1:40000".parse().unwrap(), start).unwrap();
        let mut sim = Sim { server, pbx, now: 1_000, sid, wire: Vec::new() };
        sim.send("Action: Login\r\nUsername: admin\r\nSecret: s\r\n\r\n");
        sim.wire.clear();
        sim
    }

    fn conformance() -> Sim {
        Sim::new(Dialplan::builtin(), 0.0)
    }

    fn at(&self) -> Instant {
        Instant::from_millis(self.now)
    }

    fn pump(&mut self) {
        while let Some((sid, ev)) = self.server.poll_event() {
            if let ServerEvent::ActionReceived { action } = ev {
                let now = self.at();
                self.pbx.handle_action(&mut self.server, sid, action, now);
            }
        }
        let out = self.server.poll_transmit(self.sid).to_vec();
        self.server.consume_transmit(self.sid, out.len());
        self.wire.extend_from_slice(&out);
    }

    fn send(&mut self, text: &str) {
        let now = self.at();
        self.server.handle_input(self.sid, text.as_bytes(), now);
        self.pump();
    }

    /// Runs the simulation for `ms` virtual milliseconds.
    fn run(&mut self, ms: u64) {
        let end = self.now + ms;
        while let Some(due) = self.pbx.next_due() {
            if due.as_millis() > end {
                break;
            }
            self.now = self.now.max(due.as_millis());
            let now = self.at();
            self.pbx.tick(&mut self.server, now);
            self.pump();
        }
        self.now = end;
    }

    /// Every message written so far (and forgets them).
    fn take(&mut self) -> Vec<Msg> {
        let text = String::from_utf8(std::mem::take(&mut self.wire)).unwrap();
        text.split("\r\n\r\n")
            .filter(|m| !m.is_empty())
            .map(|m| {
                m.split("\r\n")
                    .map(|l| match l.split_once(": ") {
                        Some((k, v)) => (k.to_owned(), v.to_owned()),
                        None => (l.trim_end_matches(':').to_owned(), String::new()),
                    })
                    .collect()
            })
            .collect()
    }
}

fn get<'a>(m: &'a Msg, k: &str) -> Option<&'a str> {
    m.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn events<'a>(msgs: &'a [Msg], name: &str) -> Vec<&'a Msg> {
    msgs.iter().filter(|m| get(m, "Event") == Some(name)).collect()
}

/// Per channel shape, the channel events naming it, as `live_calls.txt` lists them.
fn per_channel(msgs: &[Msg]) -> BTreeMap<String, String> {
    let mut suffixes: Vec<String> = Vec::new();
    for m in events(msgs, "Newchannel") {
        let name = get(m, "Channel").unwrap_or_default();
        let base = name.split(';').next().unwrap_or_default();
        let s = base[base.rfind('-').unwrap_or(0)..].to_owned();
        if !suffixes.contains(&s) {
            suffixes.push(s);
        }
    }
    let shape = |name: &str| {
        let mut out = name.to_owned();
        for (i, s) in suffixes.iter().enumerate() {
            out = out.replace(&format!("{s};"), &format!("-<{}>;", i + 1));
        }
        out
    };
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in msgs {
        let Some(name) = get(m, "Event") else { continue };
        if matches!(name, "CEL" | "Cdr" | "DeviceStateChange" | "OriginateResponse") {
            continue;
        }
        let key = match name {
            "VarSet" => "Variable",
            "UserEvent" => "UserEvent",
            "Newexten" => "Application",
            "Newstate" => "ChannelStateDesc",
            "Hangup" | "HangupRequest" | "SoftHangupRequest" => "Cause",
            "DialEnd" => "DialStatus",
            _ => "",
        };
        let item = match get(m, key) {
            Some(d) if !d.is_empty() => format!("{name}({d})"),
            _ => name.to_owned(),
        };
        for k in ["Channel", "DestChannel", "LocalOneChannel", "LocalTwoChannel"] {
            if let Some(ch) = get(m, k) {
                by.entry(shape(ch)).or_default().push(item.clone());
            }
        }
    }
    by.into_iter().map(|(k, v)| (k, v.join(" "))).collect()
}

/// The Originates of `live_calls.txt` (the same as `tests/mock_calls.rs` places).
fn originate_of(scenario: &str) -> &'static str {
    match scenario {
        "start-app-async" => {
            "Channel: Local/start@amitest\r\nApplication: Wait\r\nData: 6\r\nAsync: true"
        }
        "start-exten-async" => {
            "Channel: Local/start@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1\r\nAsync: true"
        }
        "simple-app-sync" => "Channel: Local/simple@amitest\r\nApplication: Wait\r\nData: 5",
        "busy-app-async" => {
            "Channel: Local/busy@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true"
        }
        "congest-exten-sync" => {
            "Channel: Local/congest@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1"
        }
        "nosuch-app-async" => {
            "Channel: Local/nosuch@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true"
        }
        "echo-app-async" => {
            "Channel: Local/echo@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true"
        }
        "delayed-app-async" => {
            "Channel: Local/delayed@amitest\r\nApplication: Wait\r\nData: 5\r\nAsync: true"
        }
        other => panic!("no Originate for scenario {other}"),
    }
}

#[test]
fn calls_follow_the_live_recordings() {
    let text = include_str!("live_calls.txt");
    let mut scenarios: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            scenarios.push((name.to_owned(), BTreeMap::new()));
        } else if let (Some((_, map)), Some((ch, seq))) =
            (scenarios.last_mut(), line.split_once(" = "))
        {
            map.insert(ch.to_owned(), seq.to_owned());
        }
    }
    assert_eq!(scenarios.len(), 8);
    for (name, expected) in &scenarios {
        let mut sim = Sim::conformance();
        sim.send(&format!("Action: Originate\r\nActionID: o\r\n{}\r\n\r\n", originate_of(name)));
        sim.run(20_000);
        let got = per_channel(&sim.take());
        assert_eq!(&got, expected, "{name}");
    }
}

#[test]
fn a_call_leaves_nothing_behind() {
    let mut sim = Sim::conformance();
    sim.send(&format!("Action: Originate\r\n{}\r\n\r\n", originate_of("start-exten-async")));
    sim.run(20_000);
    let msgs = sim.take();
    assert!(sim.pbx.chans.is_empty() && sim.pbx.pairs.is_empty() && sim.pbx.bridges.is_empty());
    assert!(sim.pbx.dials.is_empty() && sim.pbx.originates.is_empty());
    // Four CDRs as cdr_manager posts them (the ;1's, the callee ;2's, and the caller ;2's,
    // split by its Dial); the callee ;1 is the Dial's party B.
    let cdrs: Vec<_> =
        events(&msgs, "Cdr").iter().map(|m| get(m, "LastApplication").unwrap()).collect();
    assert_eq!(cdrs.len(), 4, "{cdrs:?}");
    let dial = events(&msgs, "Cdr")
        .into_iter()
        .find(|m| get(m, "LastApplication") == Some("Dial"))
        .unwrap();
    assert!(get(dial, "DestinationChannel").unwrap().starts_with("Local/answer@amitest-"));
    assert_eq!(get(dial, "UserField"), Some("amitest"));
    assert_eq!(get(dial, "LastData"), Some("Local/answer@amitest,10,g"));
    // The UserEvent after the Dial saw ${DIALSTATUS}.
    let after = events(&msgs, "UserEvent")
        .into_iter()
        .find(|m| get(m, "Stage") == Some("after-dial"))
        .unwrap();
    assert_eq!(get(after, "DialStatus"), Some("ANSWER"));
    // One LINKEDID_END, on the last channel to go.
    let ends: Vec<_> = events(&msgs, "CEL")
        .into_iter()
        .filter(|m| get(m, "EventName") == Some("LINKEDID_END"))
        .collect();
    assert_eq!(ends.len(), 1);
    sim.send("Action: CoreStatus\r\nActionID: c\r\n\r\n");
    let status = sim.take();
    assert_eq!(get(&status[0], "CoreCurrentCalls"), Some("0"));
    // As Asterisk counts them: dialplans run (the two ;2 and the ;1 at sink).
    assert_eq!(get(&status[0], "CoreProcessedCalls"), Some("3"));
}

fn dialplan(extra: &str) -> Dialplan {
    Dialplan::parse(&format!("{}\n{extra}", super::super::dialplan::CONFORMANCE)).unwrap()
}

#[test]
fn dial_outcomes_set_dialstatus() {
    let plan = dialplan(
        "[t]\n\
         exten => busy,1,Dial(PJSIP/busy-1,5)\n same => n,UserEvent(R,S: ${DIALSTATUS})\n\
         exten => late,1,Dial(PJSIP/noanswer-1,1)\n same => n,UserEvent(R,S: ${DIALSTATUS})\n\
         exten => none,1,Dial(Nope/x)\n same => n,UserEvent(R,S: ${DIALSTATUS})\n\
         exten => ok,1,Dial(PJSIP/100,5,g)\n same => n,UserEvent(R,S: ${DIALSTATUS})\n\
         exten => local,1,Dial(Local/busy@amitest)\n same => n,UserEvent(R,S: ${DIALSTATUS})\n",
    );
    for (exten, status) in [
        ("busy", "BUSY"),
        ("late", "NOANSWER"),
        ("none", "CHANUNAVAIL"),
        ("ok", "ANSWER"),
        ("local", "BUSY"),
    ] {
        let mut sim = Sim::new(plan.clone(), 0.0);
        sim.send(&format!(
            "Action: Originate\r\nChannel: Local/{exten}@t\r\nApplication: Wait\r\nData: 30\r\nAsync: true\r\n\r\n"
        ));
        sim.run(30_000);
        let msgs = sim.take();
        let results: Vec<_> =
            events(&msgs, "UserEvent").iter().filter_map(|m| get(m, "S")).collect();
        assert_eq!(results, [status], "{exten}");
        assert!(sim.pbx.chans.is_empty(), "{exten}: {:?}", sim.pbx.chans.keys());
        if status != "CHANUNAVAIL" {
            let end =
                events(&msgs, "DialEnd").into_iter().find(|m| get(m, "Channel").is_some()).unwrap();
            assert_eq!(get(end, "DialStatus"), Some(status), "{exten}");
        }
    }
}

#[test]
fn a_dialplan_that_loops_without_waiting_cannot_starve_the_server() {
    let plan = dialplan("[t]\nexten => loop,1,NoOp()\n same => n,Goto(loop,1)\n");
    let mut sim = Sim::new(plan, 0.0);
    sim.send("Action: Originate\r\nChannel: Local/loop@t\r\nApplication: Wait\r\nData: 1\r\nAsync: true\r\n\r\n");
    // Each tick runs a bounded amount of work; the rest stays due.
    assert_eq!(sim.pbx.next_due(), Some(sim.at()));
    sim.send("Action: Ping\r\nActionID: p\r\n\r\n");
    assert!(sim.take().iter().any(|m| get(m, "Ping") == Some("Pong")));
    sim.send("Action: Hangup\r\nActionID: h\r\nChannel: /loop/\r\n\r\n");
    sim.run(3_000);
    assert!(sim.pbx.chans.is_empty());
}

#[test]
fn actions_on_a_call_in_progress() {
    let mut sim = Sim::conformance();
    sim.send("Action: Originate\r\nChannel: Local/park@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1\r\nAsync: true\r\n\r\n");
    sim.run(1_000);
    sim.take();
    let names: Vec<String> = sim.pbx.chans.values().map(|c| c.name.clone()).collect();
    let two = names.iter().find(|n| n.ends_with(";2")).unwrap().clone();
    sim.send(&format!("Action: Getvar\r\nChannel: {two}\r\nVariable: PARKVAR\r\n\r\n"));
    sim.send(&format!("Action: Setvar\r\nChannel: {two}\r\nVariable: X\r\nValue: 1\r\n\r\n"));
    sim.send(&format!(
        "Action: Status\r\nActionID: s\r\nChannel: {two}\r\nVariables: X,NOPE\r\n\r\n"
    ));
    sim.send("Action: CoreShowChannels\r\nActionID: c\r\n\r\n");
    let msgs = sim.take();
    assert_eq!(get(&msgs[0], "Value"), Some("parked"));
    let status = events(&msgs, "Status");
    assert_eq!(get(status[0], "Application"), Some("Wait"));
    assert_eq!(get(status[0], "Data"), Some("30"));
    let vars: Vec<_> =
        status[0].iter().filter(|(k, _)| k == "Variable").map(|(_, v)| v.as_str()).collect();
    assert_eq!(vars, ["X=1", "NOPE=(null)"]);
    assert_eq!(status[0].last().unwrap(), &("ActionID".to_owned(), "s".to_owned()));
    assert_eq!(events(&msgs, "CoreShowChannel").len(), 2);
    sim.send("Action: Hangup\r\nActionID: h\r\nChannel: /^Local\\/park@/\r\n\r\n");
    sim.run(1_000);
    let msgs = sim.take();
    assert_eq!(events(&msgs, "ChannelHungup").len(), 2);
    let done = events(&msgs, "ChannelsHungupListComplete");
    assert_eq!(get(done[0], "ListItems"), Some("2"));
    assert!(sim.pbx.chans.is_empty());
}

#[test]
fn originate_refuses_what_action_originate_refuses() {
    let mut sim = Sim::conformance();
    for (args, error) in [
        ("Exten: 1", "Channel not specified"),
        ("Channel: Local/x@y\r\nPriority: nolabel", "Invalid priority"),
        ("Channel: Local/x@y\r\nTimeout: soon", "Invalid timeout"),
        ("Channel: nosl", "Invalid channel"),
        (
            "Channel: Local/x@y\r\nContext: amitest\r\nExten: nosuch\r\nPriority: 1",
            "Extension does not exist.",
        ),
        (
            "Channel: Local/x@y\r\nExten: 1",
            "Originate with 'Exten' requires 'Context' and 'Priority'",
        ),
        ("Channel: Foo/bar\r\nApplication: Wait", "Originate failed"),
    ] {
        sim.send(&format!("Action: Originate\r\n{args}\r\n\r\n"));
        let msgs = sim.take();
        assert_eq!(get(&msgs[0], "Message"), Some(error), "{args}");
    }
    // With Context and Priority it is queued.
    sim.send("Action: Originate\r\nChannel: Local/echo@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1\r\nAsync: yes\r\n\r\n");
    assert_eq!(get(&sim.take()[0], "Message"), Some("Originate successfully queued"));
}

#[test]
fn phones_ring_answer_talk_and_hang_up() {
    let mut sim = Sim::conformance();
    sim.send("Action: Originate\r\nActionID: p\r\nChannel: PJSIP/100\r\nApplication: Wait\r\nData: 60\r\nAsync: true\r\n\r\n");
    sim.run(10_000);
    let msgs = sim.take();
    let states: Vec<_> =
        events(&msgs, "Newstate").iter().filter_map(|m| get(m, "ChannelStateDesc")).collect();
    assert_eq!(states, ["Ringing", "Up"]);
    let or = events(&msgs, "OriginateResponse");
    assert_eq!((get(or[0], "Response"), get(or[0], "Reason")), (Some("Success"), Some("4")));
    let hangup = events(&msgs, "HangupRequest");
    assert_eq!(get(hangup[0], "Cause"), Some("16"), "the phone hung up after talking");
    assert!(sim.pbx.chans.is_empty());
    // Busy and unanswered phones.
    sim.send("Action: Originate\r\nActionID: b\r\nChannel: PJSIP/busy-7\r\nApplication: Wait\r\nAsync: true\r\n\r\n");
    sim.send("Action: Originate\r\nActionID: n\r\nChannel: PJSIP/noanswer-7\r\nApplication: Wait\r\nTimeout: 2000\r\nAsync: true\r\n\r\n");
    sim.run(3_000);
    let msgs = sim.take();
    let reasons: BTreeMap<_, _> = events(&msgs, "OriginateResponse")
        .iter()
        .map(|m| (get(m, "ActionID").unwrap().to_owned(), get(m, "Reason").unwrap().to_owned()))
        .collect();
    assert_eq!(reasons["b"], "5");
    assert_eq!(reasons["n"], "3");
}

#[test]
fn random_calls_go_through_from_internal() {
    let mut sim = Sim::new(Dialplan::builtin(), 2.0);
    sim.run(20_000);
    let msgs = sim.take();
    let calls = events(&msgs, "Newexten")
        .iter()
        .filter(|m| {
            get(m, "Context") == Some("from-internal") && get(m, "Application") == Some("Dial")
        })
        .count();
    assert!(calls >= 10, "{calls} calls in 20 s at 2 per second");
    assert!(!events(&msgs, "BridgeEnter").is_empty());
    assert!(events(&msgs, "Cdr").iter().all(|m| get(m, "Disposition") == Some("ANSWERED")));
    assert!(sim.pbx.chans.len() < 60, "calls end: {} channels up", sim.pbx.chans.len());
}

#[test]
fn every_registered_action_is_answered_by_the_core_the_pbx_or_the_table() {
    const CORE: [&str; 8] =
        ["Login", "Logoff", "Challenge", "Events", "Filter", "Ping", "ListCommands", "WaitEvent"];
    let table: Vec<&str> = super::unsupported::names().collect();
    let mut registered = 0;
    for a in ACTIONS.iter().filter(|a| MODULES.contains(&a.module)) {
        registered += 1;
        let places = [
            CORE.contains(&a.name),
            super::actions::MOCK_ACTIONS.contains(&a.name),
            table.contains(&a.name),
        ];
        assert_eq!(places.iter().filter(|p| **p).count(), 1, "{}: {places:?}", a.name);
    }
    // What the live Asterisk lists for admin (tests/mock_differential.rs checks the names).
    assert_eq!(registered, 107);
}

#[test]
fn what_clients_store_is_bounded() {
    let mut sim = Sim::conformance();
    for i in sim.pbx.astdb.len()..super::MAX_VARS {
        sim.pbx.astdb.insert(format!("/fill/{i}"), String::new());
    }
    for i in sim.pbx.globals.len()..super::MAX_VARS {
        sim.pbx.globals.insert(format!("FILL{i}"), String::new());
    }
    sim.send("Action: DBPut\r\nFamily: f\r\nKey: k\r\nVal: v\r\n\r\n");
    sim.send("Action: DBPut\r\nFamily: fill\r\nKey: 1\r\nVal: replaced\r\n\r\n");
    sim.send("Action: Setvar\r\nVariable: NEW\r\nValue: 1\r\n\r\n");
    sim.send("Action: Setvar\r\nVariable: FILL1\r\nValue: 1\r\n\r\n");
    let msgs = sim.take();
    let answers: Vec<_> = msgs.iter().filter_map(|m| get(m, "Message")).collect();
    assert_eq!(
        answers,
        [
            "Failed to update entry",
            "Updated database successfully",
            "Variable not set",
            "Variable Set"
        ]
    );
    assert_eq!(sim.pbx.astdb.len(), super::MAX_VARS);
    assert_eq!(sim.pbx.globals.len(), super::MAX_VARS);
}

#[test]
fn request_values_are_not_templates() {
    let mut sim = Sim::conformance();
    sim.send("Action: Redirect\r\nActionID: {ActionID}\r\nChannel: {Channel}\r\n\r\n");
    let msgs = sim.take();
    assert_eq!(get(&msgs[0], "Message"), Some("Channel does not exist: {Channel}"));
    assert_eq!(get(&msgs[0], "ActionID"), Some("{ActionID}"));
}

#[test]
fn substitution_takes_any_request() {
    let mut sim = Sim::conformance();
    sim.send("Action: Setvar\r\nVariable: V\r\nValue: abcdef\r\n\r\n");
    sim.take();
    sim.send("Action: Originate\r\nChannel: Local/park@amitest\r\nContext: amitest\r\nExten: sink\r\nPriority: 1\r\nAsync: 1\r\n\r\n");
    sim.run(1_000);
    sim.take();
    let two = sim.pbx.chans.values().find(|c| c.name.ends_with(";2")).unwrap().name.clone();
    for (var, want) in [
        ("PARKVAR:1:3", "ark"),
        ("PARKVAR:-3", "ked"),
        ("PARKVAR:0:-9223372036854775808", ""),
        ("PARKVAR:-9223372036854775808:9223372036854775807", "parked"),
        ("${${${${${${${${${${X}}}}}}}}}}", ""),
        ("}{${", "{"),
    ] {
        sim.send(&format!("Action: Getvar\r\nChannel: {two}\r\nVariable: {var}\r\n\r\n"));
        let msgs = sim.take();
        assert_eq!(get(&msgs[0], "Value"), Some(want), "{var}");
    }
}

#[test]
fn timers_of_finished_waits_do_not_pile_up() {
    let mut sim = Sim::conformance();
    sim.send("Action: Events\r\nEventMask: off\r\n\r\n");
    // Each call answers at once, so its (very long) Originate timeout and its ;1's Wait are
    // cancelled when the call ends.
    for _ in 0..1_200 {
        sim.send(
            "Action: Originate\r\nChannel: Local/echo@amitest\r\nApplication: Wait\r\nData: 100000\r\n\
             Timeout: 9000000000000\r\nAsync: true\r\n\r\n",
        );
        sim.run(1);
        sim.send("Action: Hangup\r\nChannel: /echo/\r\n\r\n");
        sim.run(1);
    }
    sim.run(1_000);
    sim.take();
    assert!(sim.pbx.chans.is_empty());
    assert!(sim.pbx.timer_jobs.is_empty(), "{} jobs left", sim.pbx.timer_jobs.len());
    assert!(sim.pbx.timers.len() <= 1_100, "{} heap entries", sim.pbx.timers.len());
}
