//! The client against scripted hostile or broken servers on loopback: each robustness promise
//! of the crate, with memory counted (not timed) where it is about memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ami_proto::client::LoginMethod;
use ami_proto::encode::Action;
use ami_tokio::{Backoff, Client, ClientOptions, Error, ListLimits, Secret, Status, Target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---- a heap that keeps count of the bytes in use and their peak ----

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_alloc(size: usize) {
    let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        note_alloc(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---- scripted servers ----

const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// A listener whose every connection runs `script`; returns the target and a connection count.
async fn scripted<F, Fut>(script: F) -> (Target, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(script(stream));
        }
    });
    (Target::new("127.0.0.1", addr.port()), count)
}

/// Reads one message (up to its blank line) and returns its ActionID.
async fn read_action(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.lines().find_map(|l| l.strip_prefix("ActionID: ").map(str::to_owned))
}

/// Greets and accepts a plain Login; returns the stream.
async fn logged_in(mut stream: TcpStream) -> Option<TcpStream> {
    stream.write_all(BANNER).await.ok()?;
    let id = read_action(&mut stream).await?;
    let ok =
        format!("Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\n");
    stream.write_all(ok.as_bytes()).await.ok()?;
    Some(stream)
}

fn options(target: Target) -> ClientOptions {
    ClientOptions::new(target, "admin", Secret::new("secret"))
        .with_login(LoginMethod::Plain)
        .with_reconnect(None)
        .with_connect_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn an_endless_list_is_capped_and_memory_stays_bounded() {
    let sent = Arc::new(AtomicUsize::new(0));
    let sent_by_server = Arc::clone(&sent);
    let (target, _) = scripted(move |stream| {
        let sent = Arc::clone(&sent_by_server);
        async move {
            let Some(mut s) = logged_in(stream).await else { return };
            let Some(id) = read_action(&mut s).await else { return };
            let start = format!("Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n");
            let _ = s.write_all(start.as_bytes()).await;
            let item = format!(
                "Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: PJSIP/100-00000001\r\n{}\r\n\r\n",
                "Padding: ".to_owned() + &"x".repeat(900)
            );
            // 100 items per write, until 64 MiB have gone or the client is gone.
            let chunk = item.repeat(100);
            while sent.load(Ordering::Relaxed) < 64 << 20 {
                if s.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
                sent.fetch_add(chunk.len(), Ordering::Relaxed);
            }
        }
    })
    .await;
    let limits = ListLimits { max_items: 100_000, max_bytes: 4 << 20 };
    let client = Client::connect(options(target).with_list_limits(limits)).await.unwrap();
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let err = client.action(&Action::new("CoreShowChannels")).await.unwrap_err();
    match &err {
        Error::TooLarge { items, limit, .. } => {
            assert_eq!(*limit, "bytes", "{err}");
            assert!(*items < 5_000, "{err}");
        }
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(err.to_string().contains("too large"), "{err}");
    // The server goes on streaming; the client reads and drops it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sent.load(Ordering::Relaxed) < 32 << 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let streamed = sent.load(Ordering::Relaxed);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    assert!(streamed >= 32 << 20, "the server sent {streamed} bytes");
    // The cap is 4 MiB of messages; everything else the client holds is buffers.
    assert!(peak < 16 << 20, "peak heap growth {peak} bytes while {streamed} bytes were sent");
    client.close().await;
}

#[tokio::test]
async fn a_silent_server_is_declared_dead_while_an_action_waits() {
    let (target, connections) = scripted(|stream| async move {
        let Some(mut s) = logged_in(stream).await else { return };
        // Read everything, answer nothing, keep the connection open.
        let mut buf = [0u8; 4096];
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(100),
        stable_after: Duration::from_secs(60),
    };
    let client = Client::connect(
        options(target)
            .with_keepalive(Some(Duration::from_millis(300)), Duration::from_millis(300))
            .with_reconnect(Some(backoff)),
    )
    .await
    .unwrap();
    let started = Instant::now();
    // An action with a long limit of its own: before, it kept the keepalive from running.
    let err = client
        .action_with_timeout(&Action::new("Getvar").with("Variable", "X"), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed { .. }), "{err}");
    assert!(err.to_string().contains("stopped answering"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "noticed after {:?}", started.elapsed());
    // It reconnects.
    client.wait_connected(Duration::from_secs(10)).await.unwrap();
    assert!(connections.load(Ordering::SeqCst) >= 2);
    client.close().await;
}

#[tokio::test]
async fn consecutive_timeouts_declare_it_dead_too() {
    let (target, _) = scripted(|stream| async move {
        let Some(mut s) = logged_in(stream).await else { return };
        let mut buf = [0u8; 4096];
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    let client = Client::connect(
        options(target)
            .with_keepalive(None, Duration::from_secs(1))
            .with_max_consecutive_timeouts(Some(2)),
    )
    .await
    .unwrap();
    let t = Duration::from_millis(200);
    for _ in 0..2 {
        let err = client.action_with_timeout(&Action::new("Ping"), t).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
    }
    // The second timeout closed the connection: no reconnect configured, so the client ends.
    let mut waited = 0;
    while !matches!(client.status(), Status::Disconnected { .. } | Status::Closed) && waited < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    match client.status() {
        Status::Disconnected { reason } => assert!(reason.contains("timed out"), "{reason}"),
        Status::Closed => {}
        other => panic!("still {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_is_not_ami_is_named_at_once() {
    for (greeting, hint) in [
        (&b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..], "an HTTP server"),
        (&b"\x15\x03\x03\x00\x02\x02\x46"[..], "connect with TLS"),
        (&b"SSH-2.0-OpenSSH_9.2\r\n"[..], "instead of"),
    ] {
        let (target, _) = scripted(move |mut stream| async move {
            let _ = stream.write_all(greeting).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        })
        .await;
        let started = Instant::now();
        let err = Client::connect(options(target).with_connect_timeout(Duration::from_secs(20)))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotAmi { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("is not an AMI server") && text.contains(hint), "{text}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not at once: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn silence_instead_of_a_banner_times_out_saying_so() {
    let (target, _) = scripted(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let err = Client::connect(options(target).with_connect_timeout(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("nothing was received"), "{err}");
}

#[tokio::test]
async fn a_flapping_server_is_not_hammered() {
    // Logs in, then drops the connection at once: the backoff must not reset.
    let (target, connections) = scripted(|stream| async move {
        drop(logged_in(stream).await);
    })
    .await;
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
        stable_after: Duration::from_secs(10),
    };
    let client = Client::connect(options(target).with_reconnect(Some(backoff))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let n = connections.load(Ordering::SeqCst);
    // Waits of at least 25, 50, 100, 200, then 200 ms each: at most 13 attempts in 2 s (a
    // reset after every login would allow 80).
    assert!((3..=13).contains(&n), "{n} connections in 2 s");
    client.close().await;
}

#[tokio::test]
async fn calls_end_by_their_deadline_whatever_the_server_does() {
    // This server never reads after the login: the client's writes pile up in the socket.
    let (target, _) = scripted(|stream| async move {
        let s = logged_in(stream).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    })
    .await;
    let client = Client::connect(
        options(target)
            .with_keepalive(None, Duration::from_secs(1))
            .with_max_consecutive_timeouts(None),
    )
    .await
    .unwrap();
    let big = Action::new("UserEvent").with("UserEvent", "Big").with("Data", "x".repeat(900));
    let limit = Duration::from_millis(500);
    let started = Instant::now();
    let calls: Vec<_> = (0..2_000)
        .map(|_| {
            let (client, big) = (client.clone(), big.clone());
            tokio::spawn(async move { client.action_with_timeout(&big, limit).await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Timeout { .. } | Error::Local(_)), "{err}");
    }
    // 500 ms and a margin; generous for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}
