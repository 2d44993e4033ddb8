//! `Server::publish` fan-out: one event rendered once and delivered to 1,000 logged-in sessions
//! with mixed read rights and event filters. Reports deliveries/s.
//!
//! A quarter of the sessions each: `read=all`; `read=call,cdr`; `read=system` (never receives
//! the call event); `read=all` with a structured name filter and a legacy regex filter.

use std::hint::black_box;

use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use ami_proto::perm::Privilege;
use ami_proto::server::{PublishedEvent, Server, ServerOptions, SessionId};
use ami_proto::time::Instant;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CONF: &str = "\
[general]
enabled = yes
authlimit = 2000

[all]
secret = a
read = all
write = all

[calls]
secret = c
read = call,cdr

[system]
secret = s
read = system

[filtered]
secret = f
read = all
eventfilter(name(Newchannel)) =
eventfilter = !Channel: Local/
";

const SESSIONS: usize = 1_000;
const PUBLISHES: usize = 100;

fn setup() -> (Server, Vec<SessionId>) {
    let conf = parse_manager_conf(CONF, &mut NoIncludes, &ConfigOptions::default()).unwrap();
    let mut server = Server::new(conf, ServerOptions::default(), Box::new(|| 7u32));
    let now = Instant::from_millis(1);
    let users = [("all", "a"), ("calls", "c"), ("system", "s"), ("filtered", "f")];
    let mut ids = Vec::new();
    for n in 0..SESSIONS {
        let peer = format!("127.0.0.1:{}", 20_000 + n).parse().unwrap();
        let id = server.accept(peer, now).unwrap();
        let (user, secret) = users[n % users.len()];
        let login = format!("Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n");
        server.handle_input(id, login.as_bytes(), now);
        ids.push(id);
    }
    while server.poll_event().is_some() {}
    drain(&mut server, &ids);
    (server, ids)
}

fn drain(server: &mut Server, ids: &[SessionId]) {
    for &id in ids {
        let n = server.poll_transmit(id).len();
        server.consume_transmit(id, n);
    }
}

fn newchannel() -> PublishedEvent {
    let mut e = PublishedEvent::new("Newchannel", Privilege::CALL).unwrap();
    for (k, v) in [
        ("Channel", "PJSIP/100-0000001a"),
        ("ChannelState", "0"),
        ("ChannelStateDesc", "Down"),
        ("CallerIDNum", "100"),
        ("CallerIDName", "Alice"),
        ("ConnectedLineNum", "<unknown>"),
        ("ConnectedLineName", "<unknown>"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", "from-internal"),
        ("Exten", "200"),
        ("Priority", "1"),
        ("Uniqueid", "1763842829.26"),
        ("Linkedid", "1763842829.26"),
    ] {
        e.header(k, v).unwrap();
    }
    e
}

fn bench(c: &mut Criterion) {
    let (mut server, ids) = setup();
    let event = newchannel();
    let per_publish = server.publish(&event);
    // all + calls + filtered (its name filter admits Newchannel, the PJSIP channel passes the
    // exclude); not the system-only quarter.
    assert_eq!(per_publish, 750);
    drain(&mut server, &ids);

    let mut g = c.benchmark_group("publish-1000-sessions");
    g.throughput(Throughput::Elements((per_publish * PUBLISHES) as u64));
    g.sample_size(20);
    g.bench_function("deliveries", |b| {
        b.iter(|| {
            let mut delivered = 0;
            for _ in 0..PUBLISHES {
                delivered += server.publish(black_box(&event));
            }
            drain(&mut server, &ids);
            delivered
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
