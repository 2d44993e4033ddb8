//! The client against a server built on this crate's `Endpoint` and the core's `Server`, over
//! TCP and TLS: pipelining from many tasks, lists, events and what a slow reader is told.

use std::time::Duration;

use ami_proto::config::{ConfigOptions, NoIncludes, parse_manager_conf};
use ami_proto::encode::{Event as EventBody, Response};
use ami_proto::perm::Privilege;
use ami_proto::server::{PublishedEvent, Server, ServerEvent, ServerOptions};
use ami_tokio::server::{Activity, Endpoint};
use ami_tokio::{Client, ClientOptions, Secret, StreamEvent, Target, TlsClientOptions, TlsRoots};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const CONF: &str =
    "[general]\nenabled = yes\n\n[admin]\nsecret = admin123\nread = all\nwrite = all\n";

/// What the test tells the server to do besides answering.
enum Control {
    /// Publish UserEvents numbered from the first to the second (excluded), at once.
    Publish(usize, usize),
}

/// Serves `CONF` on `listener` (TLS if given): Getvar answers the variable's name in lower
/// case, CoreShowChannels lists `n` channels for `Count: n`.
fn spawn_server(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> mpsc::Sender<Control> {
    let config = parse_manager_conf(CONF, &mut NoIncludes, &ConfigOptions::default()).unwrap();
    let server =
        Server::new(config, ServerOptions::default(), ami_tokio::random::challenge_source());
    let mut endpoint = Endpoint::new(server);
    endpoint.listen(listener, tls);
    let (tx, mut rx) = mpsc::channel(8);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                activity = endpoint.next() => {
                    if let Activity::TlsFailed { error, .. } = activity {
                        eprintln!("test server: TLS failed: {error}");
                    }
                }
                Some(Control::Publish(from, to)) = rx.recv() => {
                    for i in from..to {
                        let mut ev = PublishedEvent::new("UserEvent", Privilege::USER).unwrap();
                        ev.header("UserEvent", "Tick").unwrap();
                        ev.header("N", i.to_string()).unwrap();
                        endpoint.server_mut().publish(&ev);
                        // Send as we go, as a PBX would.
                        if i % 64 == 0 {
                            endpoint.flush();
                        }
                    }
                }
            }
            while let Some((sid, event)) = endpoint.poll_event() {
                let ServerEvent::ActionReceived { action } = event else { continue };
                let server = endpoint.server_mut();
                let text = |n: &str| {
                    String::from_utf8_lossy(action.get(n).unwrap_or_default()).into_owned()
                };
                let _ = match action.name() {
                    "Getvar" => {
                        let var = text("Variable");
                        let reply = Response::new("Success")
                            .with("Variable", var.as_str())
                            .with("Value", var.to_lowercase());
                        server.respond(sid, &action, &reply)
                    }
                    "CoreShowChannels" => {
                        let n: usize = text("Count").parse().unwrap_or(0);
                        let _ = server.list_start(sid, &action, "Channels will follow");
                        for i in 0..n {
                            let item = EventBody::new("CoreShowChannel")
                                .with("Channel", format!("PJSIP/{i}"));
                            let _ = server.list_item(sid, &action, &item);
                        }
                        server.list_complete(sid, &action, "CoreShowChannelsComplete", n, &[])
                    }
                    _ => server.error(sid, &action, "Not here"),
                };
            }
            endpoint.flush();
        }
    });
    tx
}

async fn plain_server() -> (Target, mpsc::Sender<Control>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (Target::new("127.0.0.1", port), spawn_server(listener, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_from_many_tasks_are_answered_each_to_its_own() {
    let (target, _) = plain_server().await;
    let client = Client::connect(ClientOptions::new(target, "admin", Secret::new("admin123")))
        .await
        .unwrap();
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let var = format!("VAR{i}");
                let reply = client
                    .action(
                        &ami_proto::encode::Action::new("Getvar").with("Variable", var.as_str()),
                    )
                    .await
                    .unwrap()
                    .check()
                    .unwrap();
                assert_eq!(reply.get("Value"), Some(var.to_lowercase().as_bytes()));
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    let list = client
        .action(&ami_proto::encode::Action::new("CoreShowChannels").with("Count", "250"))
        .await
        .unwrap()
        .check()
        .unwrap();
    assert_eq!(list.items().len(), 250);
    assert_eq!(list.items()[249].get("Channel"), Some(&b"PJSIP/249"[..]));
    let items = client
        .action_list(&ami_proto::encode::Action::new("CoreShowChannels").with("Count", "3"))
        .await
        .unwrap();
    assert_eq!(items.len(), 3);
    // Not a list: an error that says so.
    let err = client
        .action_list(&ami_proto::encode::Action::new("Getvar").with("Variable", "X"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a list"), "{err}");
    // A list streamed part by part, for relaying.
    let mut parts = client
        .send(&ami_proto::encode::Action::new("CoreShowChannels").with("Count", "3"), None)
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while let Some(part) = parts.recv().await {
        kinds.push(format!("{part:?}").split(['(', ' ', '{']).next().unwrap().to_owned());
    }
    assert_eq!(kinds, ["ListStart", "ListItem", "ListItem", "ListItem", "ListComplete"]);
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_event_reader_is_told_what_it_missed_and_others_are_not_slowed() {
    let (target, control) = plain_server().await;
    let options =
        ClientOptions::new(target, "admin", Secret::new("admin123")).with_event_buffer(1_000);
    let client = Client::connect(options).await.unwrap();
    let mut slow = client.events();
    let mut fast = client.events();
    // Two bursts, each as large as the buffer: the fast reader reads each before the next;
    // the slow one reads nothing until the end.
    for burst in 0..2 {
        control.send(Control::Publish(burst * 1_000, (burst + 1) * 1_000)).await.unwrap();
        let mut n = burst * 1_000;
        while n < (burst + 1) * 1_000 {
            match tokio::time::timeout(Duration::from_secs(10), fast.recv()).await.unwrap().unwrap()
            {
                StreamEvent::Event(ev) => {
                    assert_eq!(ev.get("N"), Some(n.to_string().as_bytes()));
                    n += 1;
                }
                StreamEvent::Lagged { missed } => panic!("the fast reader missed {missed}"),
                _ => {}
            }
        }
    }
    // The slow one is told first how many it missed, then gets the newest ones: as many as
    // the buffer holds (1,000 rounded up to a power of two).
    let held = 1_024;
    let mut missed = 0;
    let mut got = Vec::new();
    while got.len() < held {
        match slow.recv().await.unwrap() {
            StreamEvent::Lagged { missed: m } => missed += m,
            StreamEvent::Event(ev) => {
                got.push(String::from_utf8_lossy(ev.get("N").unwrap()).into_owned())
            }
            _ => {}
        }
    }
    assert_eq!(missed, 2_000 - held as u64);
    assert_eq!(got.first().map(String::as_str), Some((2_000 - held).to_string().as_str()));
    assert_eq!(got.last().map(String::as_str), Some("1999"));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca_and_a_server_name() {
    let dir = std::env::temp_dir().join(format!("ami-tokio-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["pbx.test".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let acceptor = ami_tokio::tls::acceptor(&cert_file, Some(&key_file)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _control = spawn_server(listener, Some(acceptor));
    let target = Target::new("127.0.0.1", port);
    let trusted =
        TlsClientOptions::new(TlsRoots::CaFile(cert_file.clone())).with_server_name("pbx.test");
    let client = Client::connect(
        ClientOptions::new(target.clone(), "admin", Secret::new("admin123"))
            .with_tls(Some(trusted)),
    )
    .await
    .unwrap();
    let reply = client
        .action(&ami_proto::encode::Action::new("Getvar").with("Variable", "X"))
        .await
        .unwrap();
    assert_eq!(reply.get("Value"), Some(&b"x"[..]));
    client.close().await;
    // The wrong name is refused in the handshake, with a hint.
    let wrong =
        TlsClientOptions::new(TlsRoots::CaFile(cert_file.clone())).with_server_name("other.test");
    let err = Client::connect(
        ClientOptions::new(target.clone(), "admin", Secret::new("admin123"))
            .with_tls(Some(wrong))
            .with_reconnect(None),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ami_tokio::Error::TlsHandshake { .. }), "{err}");
    // Plain TCP to the TLS port: the server answers the client's first action with a TLS
    // alert, which is named as such at once.
    let err = Client::connect(
        ClientOptions::new(target, "admin", Secret::new("admin123"))
            .with_connect_timeout(Duration::from_secs(5))
            .with_reconnect(None),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("connect with TLS"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
