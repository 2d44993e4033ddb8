//! `ami action` and `ami tail` against the real Asterisk 22 (tests/live/asterisk.sh).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ami_testkit::{ADMIN, RawAmi, header};
use serde_json::{Map, Value};

const AMI: &str = env!("CARGO_BIN_EXE_ami");

fn ami(args: &[&str], secret: &str) -> std::process::Output {
    Command::new(AMI)
        .args(args)
        .env("LIVE_SECRET", secret)
        .env_remove("AMI_SECRET")
        .stdin(Stdio::null())
        .output()
        .expect("run ami")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A raw message as `ami tail --json` prints it: names in order, repeated names as arrays.
fn as_json(message: &str) -> Value {
    let mut obj = Map::new();
    for line in message.lines() {
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = Value::String(v.strip_prefix(' ').unwrap_or(v).to_owned());
        match obj.get_mut(k) {
            Some(Value::Array(a)) => a.push(v),
            Some(old) => {
                let first = old.take();
                *old = Value::Array(vec![first, v]);
            }
            None => {
                obj.insert(k.to_owned(), v);
            }
        }
    }
    Value::Object(obj)
}

#[test]
fn action_answers_like_asterisk_and_exits_by_the_answer() {
    let ast = ami_testkit::shared();
    let target = format!("127.0.0.1:{}", ast.port());
    let base = ["action", target.as_str(), "-u", "admin", "--secret-env", "LIVE_SECRET"];
    let run = |rest: &[&str], secret: &str| {
        let mut args = base.to_vec();
        args.extend_from_slice(rest);
        ami(&args, secret)
    };
    let out = run(&["Ping"], ADMIN.secret);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\nPing: Pong\n"), "{}", text(&out.stdout));
    let out = run(&["--plain", "CoreSettings"], ADMIN.secret);
    assert!(text(&out.stdout).contains("AsteriskVersion: 22.10.1"), "{}", text(&out.stdout));
    let out = run(&["Command", "Command=core show version"], ADMIN.secret);
    assert!(text(&out.stdout).contains("Output: Asterisk 22.10.1"), "{}", text(&out.stdout));
    // A list as JSON: response, items, completion with the count.
    let out = run(&["--json", "CoreShowChannels"], ADMIN.secret);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["response"]["EventList"], "start");
    assert_eq!(doc["complete"]["Event"], "CoreShowChannelsComplete");
    let items = doc["items"].as_array().unwrap().len();
    assert_eq!(doc["complete"]["ListItems"], items.to_string());
    // Response: Error → exit 1; a refused login → exit 1 with Asterisk's words.
    let out = run(&["Getvar", "Channel=Local/none@nowhere-1", "Variable=X"], ADMIN.secret);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("Message: No such channel"), "{}", text(&out.stdout));
    let out = run(&["Ping"], "wrong");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("refused: Authentication failed"), "{}", text(&out.stderr));
}

#[test]
fn tail_prints_exactly_what_a_raw_connection_receives() {
    let ast = ami_testkit::shared();
    let target = format!("127.0.0.1:{}", ast.port());
    let mut tail = Command::new(AMI)
        .args(["tail", target.as_str(), "-u", "admin", "--secret-env", "LIVE_SECRET", "--json"])
        .env("LIVE_SECRET", ADMIN.secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ami tail");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // tail is in once it sees events: poke until its first line.
    let mut poke = ast.raw();
    poke.login(ADMIN, None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        poke.send(b"Action: UserEvent\r\nUserEvent: Poke\r\n\r\n").unwrap();
        if rx.recv_timeout(Duration::from_millis(300)).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "ami tail printed nothing");
    }
    // The raw witness logs in with the same rights, then a call runs between two markers.
    let mut raw = RawAmi::connect(ast.addr()).unwrap();
    raw.login(ADMIN, None).unwrap();
    let nonce = std::process::id();
    let (start, end) = (format!("Start{nonce}"), format!("End{nonce}"));
    poke.send(format!("Action: UserEvent\r\nUserEvent: {start}\r\n\r\n").as_bytes()).unwrap();
    poke.send(
        b"Action: Originate\r\nActionID: call\r\nChannel: Local/simple@amitest\r\n\
          Application: Wait\r\nData: 1\r\nAsync: true\r\n\r\n",
    )
    .unwrap();
    let answered = poke
        .read_until(Duration::from_secs(20), |m| header(m, "Event") == Some("OriginateResponse"))
        .unwrap();
    assert_eq!(header(answered.last().unwrap(), "Response"), Some("Success"));
    // The call ends within about 3 s; then the closing marker.
    std::thread::sleep(Duration::from_secs(4));
    poke.send(format!("Action: UserEvent\r\nUserEvent: {end}\r\n\r\n").as_bytes()).unwrap();
    let between = |events: Vec<Value>| -> Vec<Value> {
        let s = events.iter().position(|e| e["UserEvent"] == start.as_str()).expect("start marker");
        let e = events.iter().position(|e| e["UserEvent"] == end.as_str()).expect("end marker");
        events[s..=e].to_vec()
    };
    let witnessed = raw
        .read_until(Duration::from_secs(20), |m| header(m, "UserEvent") == Some(end.as_str()))
        .unwrap()
        .iter()
        .map(|m| as_json(m))
        .filter(|v| v.get("Event").is_some())
        .collect::<Vec<_>>();
    let mut printed = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(20)).expect("ami tail stopped printing");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let done = v["UserEvent"] == end.as_str();
        printed.push(v);
        if done {
            break;
        }
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let (printed, witnessed) = (between(printed), between(witnessed));
    assert!(witnessed.len() > 30, "a real call gives dozens of events: {}", witnessed.len());
    assert_eq!(printed.len(), witnessed.len());
    for (i, (p, w)) in printed.iter().zip(&witnessed).enumerate() {
        assert_eq!(p, w, "event {i} differs");
    }
}
