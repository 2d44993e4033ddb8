//! A Prometheus scrape endpoint: `GET /metrics` on a TCP address answers the registry in the
//! text exposition format. Anything else gets 404; a client gets 5 s to send its request head
//! (at most 8 KiB), so a slow or hostile scraper cannot hold the daemon.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Time for a scraper to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `addr` and serves `registry` on it until the task is dropped; returns the bound
/// address (port 0 picks a free one).
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Mutex<Registry>>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let registry = Arc::clone(&registry);
            tokio::spawn(async move {
                let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream, &registry)).await;
            });
        }
    });
    Ok((local, task))
}

async fn answer(mut stream: TcpStream, registry: &Mutex<Registry>) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let request_line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut words = request_line.split(|b| *b == b' ');
    let (method, path) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    let (status, body, kind) = if method == b"GET" && (path == b"/metrics" || path == b"/") {
        let mut text = String::new();
        let encoded = {
            let registry = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            encode(&mut text, &registry)
        };
        match encoded {
            Ok(()) => {
                ("200 OK", text, "application/openmetrics-text; version=1.0.0; charset=utf-8")
            }
            Err(_) => ("500 Internal Server Error", String::new(), "text/plain"),
        }
    } else {
        ("404 Not Found", "try GET /metrics\n".to_owned(), "text/plain")
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}
