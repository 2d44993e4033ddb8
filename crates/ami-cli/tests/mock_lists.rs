//! `ami mock`'s list answers over loopback: a list longer than a session's outbound queue
//! reaches a client that reads it, and a client that does not read is disconnected (as
//! Asterisk disconnects a session whose write exceeds `writetimeout`) instead of leaving its
//! session waiting forever with the list half-written (issue 16).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::MockProc;

/// A dialplan whose ShowDialPlan answer is about 10 MB: ten times the mock's 1 MiB queue
/// bound, and more than the kernel's socket buffers hold.
fn big_dialplan(name: &str) -> (std::path::PathBuf, usize) {
    let priorities = 30_000;
    let mut text = String::from("[big]\nexten => 1,1,NoOp(start)\n");
    let filler = "x".repeat(200);
    for _ in 1..priorities {
        text.push_str(&format!(" same => n,NoOp({filler})\n"));
    }
    let path =
        std::env::temp_dir().join(format!("ami-mock-lists-{}-{name}.conf", std::process::id()));
    std::fs::write(&path, text).expect("write the dialplan");
    (path, priorities)
}

fn connect(mock: &MockProc) -> TcpStream {
    let mut s = TcpStream::connect(mock.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    s.write_all(
        b"Action: Login\r\nUsername: operator\r\nSecret: operator-secret\r\nEvents: off\r\n\r\n",
    )
    .expect("login");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("Authentication accepted\r\n\r\n") {
        let n = s.read(&mut buf).expect("read the login answer");
        assert!(n > 0, "closed during login");
        got.extend_from_slice(&buf[..n]);
    }
    s
}

/// Reads until `until` appears or the connection ends; what came.
fn read_until(s: &mut TcpStream, until: &str) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                let tail = got.len().saturating_sub(n + until.len());
                if String::from_utf8_lossy(&got[tail..]).contains(until) {
                    return (got, false);
                }
            }
            Err(e) => panic!("read: {e} after {} bytes", got.len()),
        }
    }
}

#[test]
fn a_list_longer_than_the_queue_reaches_a_client_that_reads() {
    let (dialplan, priorities) = big_dialplan("reads");
    let mock = MockProc::start(&["--dialplan", dialplan.to_str().expect("path")]);
    let mut s = connect(&mock);
    s.write_all(
        b"Action: ShowDialPlan\r\nActionID: big\r\n\r\nAction: Ping\r\nActionID: after\r\n\r\n",
    )
    .expect("send");
    let (got, closed) = read_until(&mut s, "ActionID: after\r\nPing: Pong");
    assert!(!closed, "closed after {} bytes", got.len());
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("Event: ListDialplan\r\n").count(), priorities);
    assert!(text.contains(&format!("ListItems: {priorities}\r\n")));
    assert!(got.len() > 8 << 20, "{} bytes", got.len());
    let _ = std::fs::remove_file(dialplan);
}

#[test]
fn a_client_that_does_not_read_its_list_is_disconnected_and_others_go_on() {
    let (dialplan, _) = big_dialplan("deaf");
    let mock = MockProc::start(&["--dialplan", dialplan.to_str().expect("path")]);
    let mut deaf = connect(&mock);
    let mut other = connect(&mock);
    deaf.write_all(
        b"Action: ShowDialPlan\r\nActionID: big\r\n\r\nAction: Ping\r\nActionID: after\r\n\r\n",
    )
    .expect("send");
    // The other client is served while the deaf one's list waits, then is cut off.
    let start = Instant::now();
    for n in 0..20 {
        other
            .write_all(format!("Action: Ping\r\nActionID: p{n}\r\n\r\n").as_bytes())
            .expect("send");
        let (_, closed) = read_until(&mut other, &format!("ActionID: p{n}\r\nPing: Pong"));
        assert!(!closed);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(start.elapsed() < Duration::from_secs(20));
    // The deaf client reads at last: part of the list, then the end of the connection,
    // never the end of the list nor the answer to its Ping.
    let (got, closed) = read_until(&mut deaf, "ActionID: after\r\nPing: Pong");
    let text = String::from_utf8_lossy(&got);
    assert!(closed, "the session is still open after {} bytes", got.len());
    assert!(!text.contains("ShowDialPlanComplete"), "the whole list came");
    assert!(text.contains("Event: ListDialplan\r\n"), "no part of the list came");
    let _ = std::fs::remove_file(dialplan);
}
