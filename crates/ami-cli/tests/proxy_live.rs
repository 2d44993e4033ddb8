//! `ami proxy` in front of the real Asterisk 22: its users see exactly what Asterisk's own users
//! with the same rights see; what it refuses never reaches Asterisk (proven by Asterisk's side
//! effects, not by the proxy's word); one tenant's synchronous Originate does not hold up
//! another's actions.

mod support;

use std::time::{Duration, Instant};

use ami_testkit::{ADMIN, Asterisk, RawAmi, User, header};
use support::*;

/// The conformance users, for the proxy; the filtered user with the same filters.
const PROXY_USERS: &str = "\
[reader]
secret = reader123
read = call,cdr,agent,user
write =

[limited]
secret = limited123
read = system,call
write = originate,call

[filtered]
secret = filtered123
read = all
write = all
eventfilter = Event: Newchannel
eventfilter = Event: UserEvent
eventfilter(action(include),name(Hangup)) =
eventfilter(action(include),name(DialEnd)) =
eventfilter(action(exclude),name(Newchannel),header(Channel),method(starts_with)) = Local/answer@
eventfilter = !UserEvent: Answered

[boss]
secret = boss123
read = all
write = all
";

const READER: User = User { name: "reader", secret: "reader123" };
const LIMITED: User = User { name: "limited", secret: "limited123" };
const FILTERED: User = User { name: "filtered", secret: "filtered123" };
const BOSS: User = User { name: "boss", secret: "boss123" };

fn start_proxy_for(ast: &Asterisk, dir: &std::path::Path, upstream_extra: &str) -> Proc {
    let conf = format!(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = 5038\n\n\
         [upstream:pbx]\nhost = 127.0.0.1\nport = {}\nusername = admin\nsecret_env = PBX_SECRET\n{upstream_extra}\n\n{PROXY_USERS}",
        ast.port()
    );
    let path = dir.join("proxy.conf");
    std::fs::write(&path, conf).unwrap();
    let args = ["proxy", "--config", path.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    let p = Proc::spawn(&args, &[("PBX_SECRET", ADMIN.secret)]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.stderr().contains("upstream pbx logged in") {
        assert!(Instant::now() < deadline, "{}", p.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

fn raw_login(addr: std::net::SocketAddr, user: User) -> RawAmi {
    let mut raw = RawAmi::connect(addr).unwrap();
    let reply = raw.login(user, None).unwrap();
    assert_eq!(header(&reply, "Response"), Some("Success"), "{}: {reply}", user.name);
    raw
}

#[test]
fn proxy_users_see_exactly_what_asterisk_users_with_the_same_rights_see() {
    let ast = Asterisk::start();
    let dir = temp_dir("live-events");
    let proxy = start_proxy_for(&ast, &dir, "");
    let users = [READER, LIMITED, FILTERED];
    let mut direct: Vec<RawAmi> = users.iter().map(|u| raw_login(ast.addr(), *u)).collect();
    let mut proxied: Vec<RawAmi> = users.iter().map(|u| raw_login(proxy.addr, *u)).collect();
    let mut admin = raw_login(ast.addr(), ADMIN);
    // Let the logins' own events pass, then start from silence.
    std::thread::sleep(Duration::from_millis(500));
    for c in direct.iter_mut().chain(proxied.iter_mut()) {
        c.drain_for(Duration::from_millis(100)).unwrap();
    }
    // A real call: start@amitest dials answer@amitest (UserEvents, Dial, bridge, CDRs).
    admin
        .send(b"Action: Originate\r\nActionID: call\r\nChannel: Local/start@amitest\r\nApplication: Wait\r\nData: 10\r\nAsync: true\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    for (i, user) in users.iter().enumerate() {
        let want = direct[i].drain_for(Duration::from_millis(1_500)).unwrap();
        let got = proxied[i].drain_for(Duration::from_millis(1_500)).unwrap();
        assert!(!want.is_empty(), "{}: Asterisk sent nothing during a call", user.name);
        assert_eq!(
            got.len(),
            want.len(),
            "{}: {} events through the proxy, {} from Asterisk",
            user.name,
            got.len(),
            want.len()
        );
        for (n, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{}: event {n} differs", user.name);
        }
    }
}

#[test]
fn what_the_proxy_refuses_never_reaches_asterisk() {
    let ast = Asterisk::start();
    let dir = temp_dir("live-refusals");
    let proxy = start_proxy_for(&ast, &dir, "");
    let marker = |name: &str| dir.join(name);
    // limited (write = originate,call): Originate to System() and Getvar of SHELL() need
    // `system`; Command needs `command`. Each would leave a trace in Asterisk if it ran.
    let mut limited = raw_login(proxy.addr, LIMITED);
    // Asterisk's own user with the same rights: its refusals are the reference.
    let mut limited_direct = raw_login(ast.addr(), LIMITED);
    let attempts = [
        format!(
            "Action: Originate\r\nActionID: a1\r\nChannel: Local/simple@amitest\r\nApplication: System\r\nData: touch {}\r\n\r\n",
            marker("originate-system").display()
        ),
        format!(
            "Action: Getvar\r\nActionID: a2\r\nVariable: SHELL(touch {})\r\n\r\n",
            marker("getvar-shell").display()
        ),
        "Action: Command\r\nActionID: a3\r\nCommand: dialplan set global PROXYMARK refused\r\n\r\n"
            .to_owned(),
    ];
    for (i, attempt) in attempts.iter().enumerate() {
        let id = format!("a{}", i + 1);
        let answer = |c: &mut RawAmi| {
            c.send(attempt.as_bytes()).unwrap();
            let reply = c
                .read_until(Duration::from_secs(10), |m| header(m, "ActionID") == Some(&id))
                .unwrap();
            reply.last().cloned().unwrap()
        };
        let (via_proxy, from_asterisk) = (answer(&mut limited), answer(&mut limited_direct));
        assert_eq!(header(&via_proxy, "Response"), Some("Error"), "{attempt}");
        assert_eq!(via_proxy, from_asterisk, "{attempt}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(!marker("originate-system").exists() && !marker("getvar-shell").exists());
    assert!(!ast.cli("dialplan show globals").contains("PROXYMARK"));
    // The control: the same actions from a user that may make them do leave the traces, so
    // their absence above is Asterisk's own evidence.
    let mut boss = raw_login(proxy.addr, BOSS);
    for (i, attempt) in attempts.iter().enumerate() {
        boss.send(attempt.replace("refused", "allowed").as_bytes()).unwrap();
        let id = format!("a{}", i + 1);
        boss.read_until(Duration::from_secs(10), |m| header(m, "ActionID") == Some(&id)).unwrap();
    }
    // (SHELL() itself never runs from AMI while asterisk.conf has `live_dangerously = no`,
    // Asterisk 22's default: its refusal above is compared with Asterisk's, not traced.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marker("originate-system").exists() {
        assert!(Instant::now() < deadline, "the allowed Originate left no trace");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!marker("getvar-shell").exists());
    assert!(ast.cli("dialplan show globals").contains("PROXYMARK=allowed"));
}

#[test]
fn a_synchronous_originate_holds_up_no_other_tenant() {
    let ast = Asterisk::start();
    let dir = temp_dir("live-isolation");
    // One upstream session: the conversion to async alone keeps the others moving.
    let proxy = start_proxy_for(&ast, &dir, "sessions = 1");
    let mut caller = raw_login(proxy.addr, LIMITED);
    let mut other = raw_login(proxy.addr, BOSS);
    // delayed@amitest answers after 2 s: a synchronous Originate waits that long.
    caller
        .send(b"Action: Originate\r\nActionID: slow\r\nChannel: Local/delayed@amitest\r\nApplication: Wait\r\nData: 1\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..20 {
        other.send(format!("Action: Getvar\r\nActionID: g{i}\r\nVariable: TESTGLOBAL\r\n\r\nAction: Ping\r\nActionID: p{i}\r\n\r\n").as_bytes()).unwrap();
    }
    // Every answer of the other tenant comes while the Originate still waits.
    let answers = other
        .read_until(Duration::from_secs(10), |m| header(m, "ActionID") == Some("p19"))
        .unwrap();
    assert_eq!(answers.iter().filter(|m| header(m, "Value") == Some("hello")).count(), 20);
    let waiting = caller.drain_for(Duration::from_millis(0)).unwrap();
    assert!(
        waiting.iter().all(|m| header(m, "ActionID") != Some("slow")),
        "the Originate answered before the others"
    );
    // Then the Originate's answer: what Asterisk gives a synchronous Originate.
    let done = caller
        .read_until(Duration::from_secs(20), |m| header(m, "ActionID") == Some("slow"))
        .unwrap();
    let reply = done.last().unwrap();
    assert_eq!(
        reply,
        "Response: Success\r\nActionID: slow\r\nMessage: Originate successfully queued\r\n"
    );
    // A failing one, compared with Asterisk's own answer to the same request.
    let failing = b"Action: Originate\r\nActionID: busy\r\nChannel: Local/busy@amitest\r\nApplication: Wait\r\nData: 1\r\nTimeout: 5000\r\n\r\n";
    caller.send(failing).unwrap();
    let via_proxy = caller
        .read_until(Duration::from_secs(20), |m| header(m, "ActionID") == Some("busy"))
        .unwrap();
    let mut direct = raw_login(ast.addr(), ADMIN);
    direct.send(failing).unwrap();
    let from_asterisk = direct
        .read_until(Duration::from_secs(20), |m| header(m, "ActionID") == Some("busy"))
        .unwrap();
    assert_eq!(via_proxy.last(), from_asterisk.last());
    assert_eq!(header(via_proxy.last().unwrap(), "Message"), Some("Originate failed"));
}
