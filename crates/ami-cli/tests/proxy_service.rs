//! `ami proxy` as a service, in front of `ami mock` over loopback: SIGTERM, SIGHUP, metrics,
//! structured logs, `--check-config`, strict mode, a hung upstream, and what it forwards.

mod support;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

fn signal(p: &Proc, name: &str) {
    let ok =
        Command::new("kill").args([format!("-{name}"), p.child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

fn wait_stderr(p: &Proc, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.stderr().contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in: {}", p.stderr());
        thread::sleep(Duration::from_millis(20));
    }
}

fn write_conf(
    dir: &std::path::Path,
    general: &str,
    upstream_port: u16,
    upstream: &str,
    users: &str,
) -> std::path::PathBuf {
    let conf = format!(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = 5038\n{general}\n\
         [upstream:pbx]\nhost = 127.0.0.1\nport = {upstream_port}\nusername = operator\n\
         secret_env = PBX_SECRET\naction_timeout = 5\n{upstream}\n\n{users}"
    );
    let path = dir.join("proxy.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

fn spawn_proxy(path: &std::path::Path, extra: &[&str]) -> Proc {
    let mut args = vec![
        "proxy",
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--max-backoff",
        "0.3",
    ];
    args.extend_from_slice(extra);
    let p = Proc::spawn(&args, &[("PBX_SECRET", "operator-secret")]);
    wait_stderr(&p, "upstream pbx logged in");
    p
}

const ADMIN: &str = "[admin]\nsecret = admin-secret\nread = all\nwrite = all\n\n";

#[test]
fn sigterm_tells_clients_finishes_what_is_pending_and_exits_0() {
    let dir = temp_dir("sigterm");
    let mock = start_mock("127.0.0.1:0", &dir.join("record.jsonl"));
    let path = write_conf(&dir, "", mock.addr.port(), "", &format!("{ADMIN}{USERS}"));
    let mut proxy = spawn_proxy(&path, &["--shutdown-timeout", "10"]);
    let mut admin = Client::login(proxy.addr, "admin", "admin-secret");
    // A synchronous Originate in flight when the signal comes (the mock answers in < 1 s).
    admin.send("Action: Originate\r\nActionID: call\r\nChannel: PJSIP/300\r\nApplication: Wait\r\nData: 5\r\n\r\n");
    thread::sleep(Duration::from_millis(50));
    signal(&proxy, "TERM");
    let answer = admin.response("call");
    assert_eq!(text(answer.get("Response")), "Success", "{answer:?}");
    admin.wait_for(|got| got.iter().any(|m| m.as_message().event() == Some(b"Shutdown")));
    let shutdown = admin.events_named("Shutdown")[0];
    assert_eq!(text(shutdown.get("Shutdown")), "Cleanly");
    assert_eq!(text(shutdown.get("Restart")), "False");
    let status = proxy.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{}", proxy.stderr());
    assert!(
        proxy.stderr().contains("stopped (0 forwarded actions did not finish in time)"),
        "{}",
        proxy.stderr()
    );
    assert!(std::net::TcpStream::connect(proxy.addr).is_err(), "no longer listening");
}

#[test]
fn sighup_reloads_rights_without_dropping_sessions_and_refuses_a_broken_file() {
    let dir = temp_dir("sighup");
    let mock = start_mock("127.0.0.1:0", &dir.join("record.jsonl"));
    let path = write_conf(&dir, "", mock.addr.port(), "", USERS);
    let proxy = spawn_proxy(&path, &[]);
    let mut alice = Client::login(proxy.addr, "alice", "alice-secret");
    let bob = Client::login(proxy.addr, "bob", "bob-secret");
    alice.send("Action: Getvar\r\nActionID: g1\r\nVariable: X\r\n\r\n");
    assert_eq!(text(alice.response("g1").get("Response")), "Success");
    // A broken file is refused; the running configuration stays.
    std::fs::write(&path, "[general]\nenabled = yes\n[upstream:pbx]\nhost = h\n").unwrap();
    signal(&proxy, "HUP");
    wait_stderr(&proxy, "reload refused, the running configuration stays");
    alice.send("Action: Getvar\r\nActionID: g2\r\nVariable: X\r\n\r\n");
    assert_eq!(text(alice.response("g2").get("Response")), "Success");
    // Bob removed, alice's write reduced to `user`: bob's session closes, alice's stays with
    // her new rights from the next action on.
    let users = USERS
        .replace("[bob]\nsecret = bob-secret\nread = call,user\nwrite = call,originate,user\n", "")
        .replacen("write = call,originate,user", "write = user", 1);
    write_conf(&dir, "", mock.addr.port(), "", &users);
    signal(&proxy, "HUP");
    wait_stderr(&proxy, "1 sessions closed");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !closed(&bob) {
        assert!(Instant::now() < deadline, "bob's session stayed open");
    }
    alice.send("Action: Getvar\r\nActionID: g3\r\nVariable: X\r\n\r\n");
    let refused = alice.response("g3");
    assert_eq!(text(refused.get("Message")), "Permission denied", "{refused:?}");
    alice.send("Action: UserEvent\r\nActionID: u\r\nUserEvent: StillHere\r\n\r\n");
    assert_eq!(text(alice.response("u").get("Response")), "Success");
}

/// Whether the server closed the client's connection (a read returns 0).
fn closed(c: &Client) -> bool {
    use std::io::Read;
    let mut probe = [0u8; 1];
    let mut stream = c.stream.try_clone().unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    matches!(stream.read(&mut probe), Ok(0))
}

#[test]
fn metrics_and_json_logs() {
    let dir = temp_dir("metrics");
    let mock = start_mock("127.0.0.1:0", &dir.join("record.jsonl"));
    let path = write_conf(&dir, "", mock.addr.port(), "sessions = 2", USERS);
    let args = [
        "proxy",
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--metrics",
        "127.0.0.1:0",
        "--log-format",
        "json",
    ];
    let proxy = Proc::spawn(&args, &[("PBX_SECRET", "operator-secret")]);
    wait_stderr(&proxy, "upstream pbx logged in");
    let mut alice = Client::login(proxy.addr, "alice", "alice-secret");
    alice.send("Action: Getvar\r\nActionID: g\r\nVariable: X\r\n\r\nAction: Command\r\nActionID: c\r\nCommand: core show version\r\n\r\n");
    alice.response("g");
    alice.response("c");
    // (alice may not write `command`: the Command is refused by the proxy, never forwarded.)
    // Every stderr line is one JSON object with a level and a message.
    for line in proxy.stderr().lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"]["message"].is_string(), "{line}");
    }
    // The scrape (per-user counts are brought up to date every second).
    thread::sleep(Duration::from_millis(1_200));
    let metrics_addr = proxy_metrics_addr(&proxy);
    let body = scrape(&metrics_addr);
    for line in [
        "ami_proxy_upstream_connected{upstream=\"pbx\"} 1",
        "ami_proxy_upstream_actions_total{upstream=\"pbx\"} 1",
        "ami_proxy_user_sessions{user=\"alice\"} 1",
        "ami_proxy_user_actions_allowed_total{user=\"alice\"} 2",
        "ami_proxy_user_actions_refused_total{user=\"alice\"} 1",
    ] {
        assert!(body.contains(line), "{line} missing from:\n{body}");
    }
    assert!(body.contains("ami_proxy_upstream_action_seconds_count{upstream=\"pbx\"} 1"), "{body}");
    let not_found = raw_http(&metrics_addr, "GET /nothing HTTP/1.1\r\n\r\n");
    assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
}

fn proxy_metrics_addr(p: &Proc) -> String {
    p.metrics_addr().unwrap_or_else(|| panic!("no metrics address in {:?}", p.line)).to_string()
}

fn raw_http(addr: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn scrape(addr: &str) -> String {
    let reply = raw_http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    reply.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

#[test]
fn check_config_loads_it_as_the_proxy_would() {
    let dir = temp_dir("checkconfig");
    let path = write_conf(&dir, "strict = yes", 5038, "sessions = 3", USERS);
    let out = Command::new(AMI)
        .args(["proxy", "--config", path.to_str().unwrap(), "--check-config"])
        .env("PBX_SECRET", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("OK: 4 users, 1 upstreams (pbx = 127.0.0.1:5038); strict"), "{stdout}");
    // The secret variable missing: the proxy would not start, and says why.
    let out = Command::new(AMI)
        .args(["proxy", "--config", path.to_str().unwrap(), "--check-config"])
        .env_remove("PBX_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PBX_SECRET"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A bad key names its line.
    let path = write_conf(&dir, "", 5038, "sessions = 100", USERS);
    let out = Command::new(AMI)
        .args(["proxy", "--config", path.to_str().unwrap(), "--check-config"])
        .env("PBX_SECRET", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sessions must be 1-64"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forwarded_headers_unknown_actions_and_strict_security() {
    let dir = temp_dir("forwarding");
    let record = dir.join("record.jsonl");
    let mock = start_mock("127.0.0.1:0", &record);
    let auditor = "[auditor]\nsecret = auditor-secret\nread = security,user\nwrite = user\n\n";
    let path =
        write_conf(&dir, "strict = yes", mock.addr.port(), "", &format!("{ADMIN}{auditor}{USERS}"));
    let proxy = spawn_proxy(&path, &[]);
    let mut admin = Client::login(proxy.addr, "admin", "admin-secret");
    let mut alice = Client::login(proxy.addr, "alice", "alice-secret");
    // `Application : System` is a header Asterisk never reads: it is left out, and the answer
    // does not speak of encoding.
    alice.send("Action: Originate\r\nActionID: o\r\nChannel: PJSIP/301\r\nApplication : System\r\nData: id\r\nExten: 200\r\nContext: default\r\nAsync: yes\r\n\r\n");
    let r = alice.response("o");
    assert!(!text(r.get("Message")).contains("blank"), "{r:?}");
    let sent = recorded(&record);
    let originate = sent
        .iter()
        .find(|h| h.iter().any(|(k, v)| k == "Action" && v == "Originate"))
        .expect("forwarded");
    assert!(!originate.iter().any(|(k, _)| k.trim() == "Application"), "{originate:?}");
    // A line that no longer fits once written `Name: value` is refused in plain words.
    let long = "v".repeat(1022 - "Variable:".len());
    alice.send(&format!("Action: Getvar\r\nActionID: long\r\nVariable:{long}\r\n\r\n"));
    let r = alice.response("long");
    assert!(text(r.get("Message")).starts_with("Header Variable is too long"), "{r:?}");
    // An action libami does not know: forwarded for write = all only.
    admin.send("Action: FancyModuleAction\r\nActionID: f\r\n\r\n");
    let r = admin.response("f");
    assert!(
        text(r.get("Message")).starts_with("Invalid/unknown command: FancyModuleAction"),
        "{r:?}"
    );
    alice.send("Action: FancyModuleAction\r\nActionID: f2\r\n\r\n");
    alice.response("f2");
    let actions = recorded_actions(&record);
    assert_eq!(
        actions.iter().filter(|a| a.as_str() == "FancyModuleAction").count(),
        1,
        "{actions:?}"
    );
    // Strict: a failed MD5 login shows no ExpectedResponse to security readers.
    let mut auditor = Client::login(proxy.addr, "auditor", "auditor-secret");
    let mut bad = Client::connect(proxy.addr);
    bad.send("Action: Challenge\r\nActionID: ch\r\nAuthType: MD5\r\n\r\n");
    bad.response("ch");
    bad.send("Action: Login\r\nActionID: l\r\nAuthType: MD5\r\nUsername: alice\r\nKey: 00000000000000000000000000000000\r\n\r\n");
    auditor.wait_for(|got| {
        got.iter().any(|m| m.as_message().event() == Some(b"ChallengeResponseFailed"))
    });
    let failed = auditor.events_named("ChallengeResponseFailed")[0];
    assert!(
        failed.get("Response").is_some() && failed.get("ExpectedResponse").is_none(),
        "{failed:?}"
    );
    // Strict: the upstream's security events about the proxy's own account are not relayed.
    // Restarting the mock makes the proxy log in there again (SuccessfulAuth for `operator`).
    let port = mock.addr.port();
    drop(mock);
    let _mock = Proc::spawn(
        &[
            "mock",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--seed",
            "5",
            "--record",
            record.to_str().unwrap(),
        ],
        &[],
    );
    let logins = proxy.stderr().matches("upstream pbx logged in").count();
    let deadline = Instant::now() + Duration::from_secs(20);
    while proxy.stderr().matches("upstream pbx logged in").count() == logins {
        assert!(Instant::now() < deadline, "{}", proxy.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    auditor.settle(500);
    let leaked: Vec<_> =
        auditor.got.iter().filter(|m| m.get("AccountID") == Some(&b"operator"[..])).collect();
    assert!(leaked.is_empty(), "the proxy's upstream logins leaked: {leaked:?}");
}

#[test]
fn a_hung_upstream_is_detected_under_load_and_replaced() {
    let dir = temp_dir("hung");
    let mock = start_mock("127.0.0.1:0", &dir.join("record.jsonl"));
    let path = write_conf(
        &dir,
        "",
        mock.addr.port(),
        "keepalive = 0.5\nkeepalive_timeout = 0.5\nsessions = 2",
        USERS,
    );
    let proxy = spawn_proxy(&path, &[]);
    let mut alice = Client::login(proxy.addr, "alice", "alice-secret");
    // The mock stops: its sockets stay open, nothing is answered.
    let stop = Command::new("kill").args(["-STOP", &mock.child.id().to_string()]).status().unwrap();
    assert!(stop.success());
    for i in 0..20 {
        alice.send(&format!("Action: Getvar\r\nActionID: g{i}\r\nVariable: X\r\n\r\n"));
    }
    alice.wait_for(|got| {
        got.iter().any(|m| m.as_message().event() == Some(b"UpstreamDisconnected"))
    });
    let lost = alice.events_named("UpstreamDisconnected")[0];
    assert!(text(lost.get("Reason")).contains("stopped answering"), "{lost:?}");
    // Every pending action got an answer (an error naming the upstream).
    for i in 0..20 {
        let r = alice.response(&format!("g{i}"));
        assert!(
            text(r.get("Message")).starts_with("Upstream pbx")
                || text(r.get("Response")) == "Success",
            "{r:?}"
        );
    }
    let cont = Command::new("kill").args(["-CONT", &mock.child.id().to_string()]).status().unwrap();
    assert!(cont.success());
    alice.wait_for(|got| got.iter().any(|m| m.as_message().event() == Some(b"UpstreamConnected")));
    alice.send("Action: Getvar\r\nActionID: after\r\nVariable: X\r\n\r\n");
    assert_eq!(text(alice.response("after").get("Response")), "Success");
}
