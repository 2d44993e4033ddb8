//! `ami proxy` in front of `ami mock`, over loopback TCP: rights, routing, session-scoped
//! actions, spelling bypasses, slow clients, upstream restarts.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

#[test]
fn rights_routing_and_session_scoped_actions() {
    let dir = temp_dir("rights");
    let record = dir.join("record.jsonl");
    let mock = start_mock("127.0.0.1:0", &record);
    let proxy = start_proxy(&dir, mock.addr, &[]);
    let mut alice = Client::login(proxy.addr, "alice", "alice-secret");
    let mut bob = Client::login(proxy.addr, "bob", "bob-secret");
    let mut watch = Client::login(proxy.addr, "watch", "watch-secret");

    // Refused by the core: watch may not Originate; the request never reaches the mock.
    watch.send("Action: Originate\r\nActionID: w1\r\nChannel: PJSIP/9\r\nExten: 1\r\n\r\n");
    assert_eq!(text(watch.response("w1").get("Message")), "Permission denied");
    // §4.7 escalation, spelled without spaces: alice has originate but not system.
    alice.send("Action:Originate\r\nActionID:a0\r\nChannel:PJSIP/1\r\nApplication:System\r\nData:touch /tmp/x\r\n\r\n");
    let r = alice.response("a0");
    assert_eq!(text(r.as_message().response()), "Error");
    // Session-scoped actions are the proxy's: never forwarded.
    watch.send("Action:Events\r\nActionID: w2\r\nEventMask:on\r\n\r\n");
    watch.response("w2");
    alice.send(
        "Action: Filter\r\nActionID: a-f\r\nOperation: Add\r\nFilter: Event: Nothing\r\n\r\n",
    );
    alice.response("a-f");
    alice.send(
        "Action: Filter\r\nActionID: a-f2\r\nOperation: Add\r\nFilter: !Event: Nothing\r\n\r\n",
    );
    alice.response("a-f2");

    // Pipelined actions from two clients at once: each answer goes to its client, in order,
    // with the client's own ActionID.
    let n = 40;
    let mut a_batch = String::new();
    let mut b_batch = String::new();
    for i in 0..n {
        a_batch.push_str(&format!("Action: Setvar\r\nActionID: a{i}\r\nVariable: A{i}\r\nValue: alice-{i}\r\n\r\nAction: Getvar\r\nActionID: ag{i}\r\nVariable: A{i}\r\n\r\n"));
        b_batch.push_str(&format!("Action: Setvar\r\nActionID: a{i}\r\nVariable: B{i}\r\nValue: bob-{i}\r\n\r\nAction: Getvar\r\nActionID: ag{i}\r\nVariable: B{i}\r\n\r\n"));
    }
    alice.send(&a_batch);
    bob.send(&b_batch);
    for i in 0..n {
        assert_eq!(text(alice.response(&format!("ag{i}")).get("Value")), format!("alice-{i}"));
        assert_eq!(text(bob.response(&format!("ag{i}")).get("Value")), format!("bob-{i}"));
    }
    // Nobody saw an ActionID that is not theirs.
    for m in alice.got.iter().chain(bob.got.iter()) {
        if let Some(id) = m.get("ActionID") {
            assert!(!id.starts_with(b"ami-proxy-"), "{m:?}");
        }
    }

    // Async Originate by alice: her response and OriginateResponse carry her ActionID; bob
    // (same rights) never gets alice's OriginateResponse.
    alice.send("Action: Originate\r\nActionID: call-1\r\nChannel: PJSIP/200\r\nApplication: Wait\r\nData: 2\r\nAsync: true\r\n\r\n");
    assert_eq!(text(alice.response("call-1").get("Message")), "Originate successfully queued");
    alice.wait_for(|got| got.iter().any(|m| m.as_message().event() == Some(b"OriginateResponse")));
    let or = alice.events_named("OriginateResponse")[0].clone();
    assert_eq!(text(or.get("ActionID")), "call-1");
    assert_eq!(text(or.get("Response")), "Success");
    // A list: Status, with alice's ActionID on every item.
    alice.send("Action: Status\r\nActionID: st\r\n\r\n");
    alice.wait_for(|got| got.iter().any(|m| m.as_message().event() == Some(b"StatusComplete")));
    let items = alice.events_named("Status");
    assert!(!items.is_empty());
    assert!(items.iter().all(|m| m.get("ActionID") == Some(&b"st"[..])));
    let complete = alice.events_named("StatusComplete")[0].clone();
    assert_eq!(text(complete.get("ListItems")), items.len().to_string());

    // UserEvent by bob: everyone with `user` gets it, with bob's ActionID.
    bob.send("Action: UserEvent\r\nActionID: ue\r\nUserEvent: Hello\r\n\r\n");
    bob.response("ue");
    for c in [&mut alice, &mut bob, &mut watch] {
        c.wait_for(|got| got.iter().any(|m| m.get("UserEvent") == Some(&b"Hello"[..])));
        let ue = c.events_named("UserEvent")[0].clone();
        assert_eq!(text(ue.get("ActionID")), "ue");
        assert_eq!(text(ue.get("Privilege")), "user,all");
    }
    bob.settle(300);
    watch.settle(300);
    assert!(bob.events_named("OriginateResponse").is_empty(), "bob got alice's OriginateResponse");
    assert!(!bob.events_named("Newchannel").is_empty(), "bob reads call events");
    // watch (read = user) saw no call event at all.
    for m in &watch.got {
        if let Some(p) = m.get("Privilege") {
            assert_eq!(p, b"user,all", "watch got {m:?}");
        }
    }

    // Logoff spelled without a space ends alice's session only.
    alice.send("Action:Logoff\r\nActionID: bye\r\n\r\n");
    assert_eq!(text(alice.response("bye").as_message().response()), "Goodbye");
    bob.send("Action: Getvar\r\nActionID: after\r\nVariable: B1\r\n\r\n");
    assert_eq!(text(bob.response("after").get("Value")), "bob-1");

    // What reached the mock: Login (once), Setvar/Getvar, one Originate, Status, UserEvent —
    // never the refused Originates, Events, Filter or Logoff.
    let actions = recorded_actions(&record);
    let count = |name: &str| actions.iter().filter(|a| a.eq_ignore_ascii_case(name)).count();
    assert_eq!(count("Originate"), 1, "{actions:?}");
    assert_eq!(count("Logoff"), 0, "{actions:?}");
    assert_eq!(count("Events"), 0, "{actions:?}");
    assert_eq!(count("Filter"), 0, "{actions:?}");
    assert_eq!(count("Setvar"), 2 * n);
    assert_eq!(count("Getvar"), 2 * n + 1);
    assert_eq!(count("Status"), 1);
    assert_eq!(count("UserEvent"), 1);
    // Upstream ActionIDs are the proxy's own.
    for hs in recorded(&record) {
        if let Some((_, id)) = hs.iter().find(|(k, _)| k == "ActionID") {
            assert!(id.starts_with("ami-proxy-"), "{hs:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_slow_client_is_dropped_while_a_fast_one_keeps_up() {
    let dir = temp_dir("slow");
    let record = dir.join("record.jsonl");
    let mock = start_mock("127.0.0.1:0", &record);
    let proxy = start_proxy(&dir, mock.addr, &["--max-queue", "65536"]);
    let mut slow = Client::login(proxy.addr, "firehose", "firehose-secret");
    let mut fast = Client::login(proxy.addr, "watch", "watch-secret");
    let mut sender = Client::login(proxy.addr, "bob", "bob-secret");
    // ~6 MB of UserEvents: more than the kernel buffers and the 64 KiB queue hold.
    let payload = "x".repeat(900);
    let total = 6000;
    let mut sent = 0;
    while sent < total {
        let mut batch = String::new();
        for i in sent..(sent + 200).min(total) {
            batch.push_str(&format!("Action: UserEvent\r\nActionID: u{i}\r\nUserEvent: Flood\r\nSeq: {i}\r\nPad: {payload}\r\n\r\n"));
        }
        sender.send(&batch);
        sent = (sent + 200).min(total);
        let last = format!("u{}", sent - 1);
        sender.response(&last);
        sender.got.clear();
        // The fast client keeps reading.
        fast.wait_for(|got| {
            got.iter().filter(|m| m.get("UserEvent") == Some(&b"Flood"[..])).count() >= sent
        });
    }
    let seqs: Vec<usize> = fast
        .got
        .iter()
        .filter(|m| m.get("UserEvent") == Some(&b"Flood"[..]))
        .map(|m| text(m.get("Seq")).parse().unwrap())
        .collect();
    assert_eq!(seqs, (0..total).collect::<Vec<_>>(), "the fast client lost events");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !proxy.stderr().contains("cannot keep up") {
        assert!(Instant::now() < deadline, "slow client not dropped: {}", proxy.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    assert!(proxy.stderr().contains("(firehose) cannot keep up"), "{}", proxy.stderr());
    // The slow client's connection ends once it reads what was already sent.
    slow.stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = Vec::new();
    let _ = slow.stream.read_to_end(&mut sink);
    assert!(sink.len() < total * 1000, "the slow client got everything");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn upstream_restart_fails_pending_actions_clearly_and_recovers() {
    let dir = temp_dir("restart");
    let record = dir.join("record.jsonl");
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mock = start_mock(&listen, &record);
    let proxy = start_proxy(&dir, mock.addr, &[]);
    let mut alice = Client::login(proxy.addr, "alice", "alice-secret");
    // A sync Originate still pending when the mock dies (it answers when the call is up).
    alice.send(
        "Action: Originate\r\nActionID: pending\r\nChannel: PJSIP/noanswer-1\r\nApplication: Wait\r\n\r\n",
    );
    thread::sleep(Duration::from_millis(100));
    drop(mock);
    let r = alice.response("pending");
    assert_eq!(text(r.as_message().response()), "Error");
    assert!(text(r.get("Message")).starts_with("Upstream pbx: "), "{r:?}");
    alice.wait_for(|got| {
        got.iter().any(|m| m.as_message().event() == Some(b"UpstreamDisconnected"))
    });
    // While it is down: a clear error at once.
    alice.send("Action: Getvar\r\nActionID: down\r\nVariable: X\r\n\r\n");
    assert_eq!(text(alice.response("down").get("Message")), "Upstream pbx is not connected");
    // The PBX comes back: the proxy logs in again and says so.
    let _mock2 = start_mock(&listen, &record);
    alice.wait_for(|got| got.iter().any(|m| m.as_message().event() == Some(b"UpstreamConnected")));
    alice.send("Action: Setvar\r\nActionID: s\r\nVariable: X\r\nValue: back\r\n\r\nAction: Getvar\r\nActionID: g\r\nVariable: X\r\n\r\n");
    assert_eq!(text(alice.response("g").get("Value")), "back");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ami_check_understands_a_proxy_configuration() {
    let dir = temp_dir("check");
    let path = dir.join("proxy.conf");
    std::fs::write(
        &path,
        format!(
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\n\n[upstream:pbx]\nhost = 192.0.2.10\n\
             username = proxy\nsecret = upstream-secret-value\nauth = plain\n\n{USERS}"
        ),
    )
    .unwrap();
    let out = Command::new(AMI).args(["check", "--json", path.to_str().unwrap()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("upstream-secret-value"), "secret printed");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let users: Vec<&str> =
        doc["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(users, ["alice", "bob", "watch", "firehose"]);
    assert_eq!(doc["upstreams"][0]["host"], "192.0.2.10");
    assert_eq!(doc["users"][0]["upstream"], "pbx");
    let codes: Vec<&str> =
        doc["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    for code in ["upstream-cleartext", "upstream-plain-login", "upstream-inline-secret"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    // A broken upstream section is an error with its line.
    std::fs::write(&path, "[general]\nenabled = yes\n[upstream:pbx]\nhost = h\nusername = u\n")
        .unwrap();
    let out = Command::new(AMI).args(["check", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("proxy-config") && stdout.contains("give the secret"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_on_the_listener_and_to_the_upstream() {
    // proxy A (TLS listener) in front of the mock; proxy B reaches A over TLS, verifying A's
    // certificate against the CA file; a plain client talks to B.
    let dir = temp_dir("tls");
    let record = dir.join("record.jsonl");
    let mock = start_mock("127.0.0.1:0", &record);
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = dir.join("a.pem");
    let key_pem = dir.join("a.key");
    std::fs::write(&cert_pem, key.cert.pem()).unwrap();
    std::fs::write(&key_pem, key.signing_key.serialize_pem()).unwrap();
    let a_conf = dir.join("a.conf");
    std::fs::write(
        &a_conf,
        format!(
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\ntlsenable = yes\ntlsbindaddr = 127.0.0.1:0\n\
             tlscertfile = {}\ntlsprivatekey = {}\n\n[upstream:pbx]\nhost = 127.0.0.1\nport = {}\n\
             username = operator\nsecret_env = PBX_SECRET\n\n[chain]\nsecret = chain-secret\nread = all\nwrite = all\n",
            cert_pem.display(),
            key_pem.display(),
            mock.addr.port()
        ),
    )
    .unwrap();
    let a = Proc::spawn(
        &["proxy", "--config", a_conf.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &[("PBX_SECRET", "operator-secret")],
    );
    // "ami proxy: listening on ADDR, TLS on ADDR; …"
    let deadline = Instant::now() + Duration::from_secs(20);
    while !a.stderr().contains("upstream pbx logged in") {
        assert!(Instant::now() < deadline, "{}", a.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    let tls_port = a.tls_addr.expect("TLS address in the listening line").port();
    let b_conf = dir.join("b.conf");
    std::fs::write(
        &b_conf,
        format!(
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\n\n[upstream:a]\nhost = 127.0.0.1\nport = {tls_port}\n\
             username = chain\nsecret = chain-secret\ntls = yes\ntls_ca = {}\ntls_server_name = localhost\n\n{USERS}",
            cert_pem.display()
        ),
    )
    .unwrap();
    let b = Proc::spawn(
        &["proxy", "--config", b_conf.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !b.stderr().contains("upstream a logged in") {
        assert!(Instant::now() < deadline, "B never logged in to A over TLS: {}", b.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    let mut alice = Client::login(b.addr, "alice", "alice-secret");
    alice.send("Action: Setvar\r\nActionID: s\r\nVariable: T\r\nValue: over-tls\r\n\r\nAction: Getvar\r\nActionID: g\r\nVariable: T\r\n\r\n");
    assert_eq!(text(alice.response("g").get("Value")), "over-tls");
    // `ami action` and `ami tail` speak TLS to A's listener, verifying its certificate.
    let tls_target = format!("127.0.0.1:{tls_port}");
    let tls_args = ["--tls-ca", cert_pem.to_str().unwrap(), "--tls-server-name", "localhost"];
    let run = |args: &[&str]| {
        Command::new(AMI)
            .args(args)
            .env("CHAIN_SECRET", "chain-secret")
            .env_remove("AMI_SECRET")
            .stdin(Stdio::null())
            .output()
            .expect("run ami")
    };
    let mut args =
        vec!["action", tls_target.as_str(), "-u", "chain", "--secret-env", "CHAIN_SECRET"];
    args.extend_from_slice(&tls_args);
    args.push("Ping");
    let out = run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Ping: Pong"));
    let mut tail = {
        let mut args =
            vec!["tail", tls_target.as_str(), "-u", "chain", "--secret-env", "CHAIN_SECRET"];
        args.extend_from_slice(&tls_args);
        args.extend_from_slice(&["--json", "--count", "1", "--event", "UserEvent"]);
        Command::new(AMI)
            .args(&args)
            .env("CHAIN_SECRET", "chain-secret")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ami tail")
    };
    // Until tail has logged in and printed one, send events through the same TLS listener.
    let deadline = Instant::now() + Duration::from_secs(20);
    while tail.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "ami tail over TLS printed nothing");
        let mut args =
            vec!["action", tls_target.as_str(), "-u", "chain", "--secret-env", "CHAIN_SECRET"];
        args.extend_from_slice(&tls_args);
        args.extend_from_slice(&["UserEvent", "UserEvent=OverTls"]);
        assert!(run(&args).status.success());
        thread::sleep(Duration::from_millis(200));
    }
    let out = tail.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains(r#""UserEvent":"OverTls""#), "{line}");
    // A plain TCP client on A's TLS port gets no AMI banner.
    let mut plain = TcpStream::connect(("127.0.0.1", tls_port)).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    plain.write_all(b"Action: Login\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(b"Asterisk Call Manager"));
    // A proxy that does not trust the certificate refuses to log in (and says why).
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let wrong_ca = dir.join("wrong.pem");
    std::fs::write(&wrong_ca, other.cert.pem()).unwrap();
    let c_conf = dir.join("c.conf");
    std::fs::write(
        &c_conf,
        format!(
            "[general]\nenabled = yes\n\n[upstream:a]\nhost = 127.0.0.1\nport = {tls_port}\nusername = chain\n\
             secret = chain-secret\ntls = yes\ntls_ca = {}\ntls_server_name = localhost\n\n{USERS}",
            wrong_ca.display()
        ),
    )
    .unwrap();
    let c = Proc::spawn(
        &["proxy", "--config", c_conf.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !c.stderr().contains("TLS handshake") {
        assert!(Instant::now() < deadline, "{}", c.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!c.stderr().contains("upstream a logged in"));
    let _ = std::fs::remove_dir_all(&dir);
}
