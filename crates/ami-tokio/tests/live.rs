//! The client against the real Asterisk 22 (tests/live/asterisk.sh through ami-testkit).
//!
//! Calls are real: `Local/simple@amitest` answers, sets TESTVAR, sends UserEvent `Simple`,
//! plays a second of silence and hangs up; `Local/park@amitest` stays up for 30 s;
//! `Local/start@amitest` dials `Local/answer@amitest` (four channels). The Asterisk is shared
//! by the tests of this file, so each one follows its own call by its Linkedid.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ami_proto::client::LoginMethod;
use ami_proto::encode::Action;
use ami_testkit::{ADMIN, Asterisk, DENIED, LIMITED, READER, User};
use ami_tokio::{
    Client, ClientOptions, Error, Event, EventStream, ListLimits, Secret, StreamEvent, Target,
};

fn options(ast: &Asterisk, user: User) -> ClientOptions {
    let target = Target::new("127.0.0.1", ast.port());
    ClientOptions::new(target, user.name, Secret::new(user.secret))
}

fn text(ev: &Event, name: &str) -> String {
    ev.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
}

/// The events of one call: the call is known by the Uniqueid of its first channel; its events
/// carry its Linkedid in some header (LocalBridge: `LocalOneLinkedid`), or name one of its
/// channels (Cdr has no Linkedid).
struct Call {
    uniqueid: String,
    seen: Vec<Event>,
}

impl Call {
    fn new(uniqueid: String) -> Call {
        Call { uniqueid, seen: Vec::new() }
    }

    fn events(&self) -> Vec<&Event> {
        let Some(linkedid) = self
            .seen
            .iter()
            .find(|e| text(e, "Uniqueid") == self.uniqueid)
            .map(|e| text(e, "Linkedid"))
        else {
            return Vec::new();
        };
        let channels: HashSet<String> = self
            .seen
            .iter()
            .filter(|e| text(e, "Linkedid") == linkedid)
            .map(|e| text(e, "Channel"))
            .collect();
        self.seen
            .iter()
            .filter(|e| {
                e.as_message().iter().any(|h| h.value() == linkedid.as_bytes())
                    || (e.name() == b"Cdr" && channels.contains(&text(e, "Channel")))
            })
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.events().iter().map(|e| String::from_utf8_lossy(e.name()).into_owned()).collect()
    }

    /// Reads events until every channel of the call has hung up, then until a second passes
    /// without any (the CDRs and CEL records come last, not one per channel).
    async fn follow(&mut self, stream: &mut EventStream, channels: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut quiet_from: Option<tokio::time::Instant> = None;
        loop {
            let hangups = self.names().iter().filter(|n| *n == "Hangup").count();
            if hangups == channels && quiet_from.is_none() {
                quiet_from = Some(tokio::time::Instant::now());
            }
            let until = quiet_from.map_or(deadline, |q| q + Duration::from_secs(1));
            match tokio::time::timeout_at(until, stream.recv()).await {
                Ok(Some(StreamEvent::Event(e))) => {
                    self.seen.push(e);
                    if quiet_from.is_some() {
                        quiet_from = Some(tokio::time::Instant::now());
                    }
                }
                Ok(Some(StreamEvent::Lagged { missed })) => panic!("missed {missed} events"),
                Ok(Some(_)) => {}
                Ok(None) => panic!("the client ended"),
                Err(_) if quiet_from.is_some() => return,
                Err(_) => panic!("the call did not end in 30 s: {:?}", self.names()),
            }
        }
    }
}

#[tokio::test]
async fn logs_in_both_ways_and_is_refused_as_asterisk_refuses() {
    let ast = ami_testkit::shared();
    for method in [LoginMethod::Md5, LoginMethod::Plain] {
        let client = Client::connect(options(&ast, ADMIN).with_login(method)).await.unwrap();
        assert_eq!(client.banner().as_deref(), Some("Asterisk Call Manager/11.0.0"));
        let pong = client.action(&Action::new("Ping")).await.unwrap().check().unwrap();
        assert_eq!(pong.get("Ping"), Some(&b"Pong"[..]));
        client.close().await;
    }
    // A wrong secret and an address the user's ACL denies: Asterisk sleeps 1 s, then says
    // `Authentication failed` for both (spec §3.2).
    for (user, secret) in [(ADMIN.name, "wrong"), (DENIED.name, DENIED.secret)] {
        let target = Target::new("127.0.0.1", ast.port());
        let started = Instant::now();
        let err = Client::connect(
            ClientOptions::new(target, user, Secret::new(secret)).with_reconnect(None),
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() >= Duration::from_millis(900), "refused before Asterisk's delay");
        match err {
            Error::LoginFailed { message, .. } => assert_eq!(message, "Authentication failed"),
            other => panic!("{other}"),
        }
    }
}

#[tokio::test]
async fn answers_the_everyday_actions() {
    let ast = ami_testkit::shared();
    let client = Client::connect(options(&ast, ADMIN)).await.unwrap();
    let settings = client.action(&Action::new("CoreSettings")).await.unwrap().check().unwrap();
    assert_eq!(settings.get("AsteriskVersion"), Some(&b"22.10.1"[..]));
    assert_eq!(settings.get("AMIversion"), Some(&b"11.0.0"[..]));
    let status = client.action(&Action::new("CoreStatus")).await.unwrap().check().unwrap();
    assert!(status.get("CoreCurrentCalls").is_some());
    let version = client.command("core show version").await.unwrap();
    assert!(version[0].starts_with("Asterisk 22.10.1"), "{version:?}");
    // A CLI error is a Command answer with Response: Error.
    let err = client.command("core show nothing").await.unwrap_err();
    assert!(matches!(err, Error::Action { .. }), "{err}");
    // Global variables, with a value that needs no escaping but is easy to mangle.
    let set = Action::new("Setvar").with("Variable", "AMI_TOKIO_TEST").with("Value", "a b=c ");
    client.action(&set).await.unwrap().check().unwrap();
    let got = client
        .action(&Action::new("Getvar").with("Variable", "AMI_TOKIO_TEST"))
        .await
        .unwrap()
        .check()
        .unwrap();
    // The trailing blank survives both ways.
    assert_eq!(got.get("Value"), Some(&b"a b=c "[..]));
    // The reader may run nothing; Asterisk's refusal is a reply, `check` makes it an error.
    let reader = Client::connect(options(&ast, READER)).await.unwrap();
    let refused = reader
        .action(&Action::new("Originate").with("Channel", "Local/simple@amitest"))
        .await
        .unwrap();
    assert!(!refused.is_success());
    assert_eq!(refused.message().as_deref(), Some("Permission denied"));
    reader.close().await;
    client.close().await;
}

#[tokio::test]
async fn an_async_originate_ends_with_its_originate_response_and_the_call_is_seen_whole() {
    let ast = ami_testkit::shared();
    let client = Client::connect(options(&ast, ADMIN)).await.unwrap();
    let mut events = client.events();
    // The originated half waits longer than the dialplan runs, so the dialplan decides the
    // end: answer@ hangs up after ~3 s, then start@ sends its second UserEvent and hangs up.
    let originate = Action::new("Originate")
        .with("Channel", "Local/start@amitest")
        .with("Application", "Wait")
        .with("Data", "10")
        .with("Async", "true");
    let reply = client.action(&originate).await.unwrap().check().unwrap();
    assert_eq!(reply.message().as_deref(), Some("Originate successfully queued"));
    let done = reply.originate_response().expect("the OriginateResponse ends it");
    assert_eq!(done.get("Response"), Some(&b"Success"[..]));
    let uniqueid = String::from_utf8_lossy(done.get("Uniqueid").unwrap()).into_owned();
    let mut call = Call::new(uniqueid);
    // start@amitest dials answer@amitest: two Local pairs, four channels. (BridgeCreate and
    // BridgeDestroy name no channel, so they are not the call's by these rules.)
    call.follow(&mut events, 4).await;
    let names = call.names();
    for want in [
        "Newchannel",
        "LocalBridge",
        "DialBegin",
        "DialEnd",
        "BridgeEnter",
        "BridgeLeave",
        "VarSet",
        "UserEvent",
        "Hangup",
        "Cdr",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    let user_events: Vec<String> = call
        .events()
        .iter()
        .filter(|e| e.name() == b"UserEvent")
        .map(|e| text(e, "UserEvent"))
        .collect();
    assert_eq!(user_events, ["TestEvent", "Answered", "TestEvent"], "the dialplan's UserEvents");
    client.close().await;
}

#[tokio::test]
async fn a_sync_originate_waits_for_the_answer_and_lists_show_the_call() {
    let ast = ami_testkit::shared();
    let client = Client::connect(options(&ast, LIMITED)).await.unwrap();
    let mut events = client.events();
    // Synchronous: the response comes when the call is answered (park answers at once).
    let originate = Action::new("Originate")
        .with("Channel", "Local/park@amitest")
        .with("Application", "Wait")
        .with("Data", "30");
    let reply = client
        .action_with_timeout(&originate, Duration::from_secs(40))
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(reply.message().as_deref(), Some("Originate successfully queued"));
    assert!(reply.originate_response().is_none(), "a sync Originate ends with its response");
    // Its channels, from the events, then in both lists while the call is up.
    let mut parked = Vec::new();
    while parked.len() < 2 {
        if let Some(StreamEvent::Event(e)) = events.recv().await {
            let chan = text(&e, "Channel");
            if e.name() == b"Newchannel" && chan.starts_with("Local/park@amitest-") {
                parked.push(chan);
            }
        }
    }
    let admin = Client::connect(options(&ast, ADMIN)).await.unwrap();
    let listed = admin.action(&Action::new("CoreShowChannels")).await.unwrap().check().unwrap();
    let names: Vec<String> = listed
        .items()
        .iter()
        .map(|i| String::from_utf8_lossy(i.get("Channel").unwrap()).into_owned())
        .collect();
    for chan in &parked {
        assert!(names.contains(chan), "{chan} not in {names:?}");
    }
    let complete = listed.complete().expect("a completion event");
    assert_eq!(
        complete.get("ListItems").map(|v| v.to_vec()),
        Some(listed.items().len().to_string().into_bytes())
    );
    let status = admin.action(&Action::new("Status")).await.unwrap().check().unwrap();
    assert!(status.items().len() >= 2);
    // The same list against a cap that it breaks.
    let capped = Client::connect(
        options(&ast, ADMIN).with_list_limits(ListLimits { max_items: 1, max_bytes: 1 << 20 }),
    )
    .await
    .unwrap();
    let err = capped.action(&Action::new("Status")).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: "items", .. }), "{err}");
    // Ping still works on that connection once the list has been read and dropped.
    capped.action(&Action::new("Ping")).await.unwrap().check().unwrap();
    for chan in parked {
        let _ = admin.action(&Action::new("Hangup").with("Channel", chan)).await;
    }
    for c in [client, admin, capped] {
        c.close().await;
    }
}

#[tokio::test]
async fn reconnects_and_logs_in_again_when_asterisk_restarts() {
    let ast = Asterisk::start();
    let options = options(&ast, ADMIN).with_reconnect(Some(ami_tokio::Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
        stable_after: Duration::from_secs(30),
    }));
    let client = Client::connect(options).await.unwrap();
    let mut events = client.events();
    client.action(&Action::new("Ping")).await.unwrap().check().unwrap();
    let ast = std::sync::Arc::new(ast);
    let restarting = std::sync::Arc::clone(&ast);
    tokio::task::spawn_blocking(move || restarting.restart()).await.unwrap();
    let mut saw = Vec::new();
    while !saw.iter().any(|s: &String| s.starts_with("connected")) {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(StreamEvent::Disconnected { reason })) => saw.push(format!("lost: {reason}")),
            Ok(Some(StreamEvent::Connected { banner })) => saw.push(format!("connected: {banner}")),
            Ok(Some(_)) => {}
            other => panic!("no reconnection: {saw:?} {other:?}"),
        }
    }
    assert!(saw[0].starts_with("lost: "), "{saw:?}");
    client.action(&Action::new("Ping")).await.unwrap().check().unwrap();
    client.close().await;
}
