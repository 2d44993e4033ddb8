//! The I/O side of a server built on the core's [`Server`]: accepting connections, reading
//! their bytes, writing what the core queues, closing. Shared by `ami mock` and `ami proxy`.
//!
//! Each connection has a reader task (bytes in, over a bounded channel to the task that owns
//! the `Server`) and a writer task with one chunk in flight: a client that stops reading leaves
//! its bytes in the core's bounded per-session queue, where the core drops events for it
//! (reported as `SlowConsumer`), and never blocks the owner task or other clients.

use std::collections::HashMap;
use std::net::SocketAddr;

use ami_proto::server::{Refused, Server, SessionId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::now;

/// Something a connection's tasks report to the owner task.
#[derive(Debug)]
pub enum Input {
    /// Bytes from the client.
    Data(SessionId, Vec<u8>),
    /// The client closed (or the socket failed).
    Eof(SessionId),
    /// The writer has sent its chunk and can take the next.
    Written(SessionId),
}

/// Size of one read from a client.
const READ_CHUNK: usize = 16 * 1024;

#[derive(Debug)]
struct Conn {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    in_flight: bool,
    closing: bool,
    reader: JoinHandle<()>,
    peer: SocketAddr,
    user: Option<String>,
}

/// The connections of one server.
#[derive(Debug)]
pub struct Conns {
    conns: HashMap<SessionId, Conn>,
    input_tx: mpsc::Sender<Input>,
}

impl Conns {
    /// No connections yet; their tasks report on `input_tx`.
    pub fn new(input_tx: mpsc::Sender<Input>) -> Conns {
        Conns { conns: HashMap::new(), input_tx }
    }

    /// Admits a new connection (any stream: TCP, TLS) through the core, starting its tasks.
    pub fn accept<S>(
        &mut self,
        server: &mut Server,
        stream: S,
        peer: SocketAddr,
    ) -> Result<SessionId, Refused>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let sid = server.accept(peer, now())?;
        let (mut rd, mut wr) = tokio::io::split(stream);
        let tx_in = self.input_tx.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = tx_in.send(Input::Eof(sid)).await;
                        return;
                    }
                    Ok(n) => {
                        if tx_in.send(Input::Data(sid, buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(1);
        let tx_done = self.input_tx.clone();
        tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                if wr.write_all(&chunk).await.and(wr.flush().await).is_err() {
                    let _ = tx_done.send(Input::Eof(sid)).await;
                    return;
                }
                if tx_done.send(Input::Written(sid)).await.is_err() {
                    return;
                }
            }
            let _ = wr.shutdown().await;
        });
        self.conns.insert(
            sid,
            Conn { tx: Some(tx), in_flight: false, closing: false, reader, peer, user: None },
        );
        Ok(sid)
    }

    /// Feeds one report of a connection task to the core.
    pub fn handle(&mut self, server: &mut Server, input: Input) {
        match input {
            Input::Data(sid, data) => {
                if self.conns.contains_key(&sid) {
                    server.handle_input(sid, &data, now());
                }
            }
            Input::Eof(sid) => {
                if self.conns.contains_key(&sid) {
                    server.handle_eof(sid, now());
                }
            }
            Input::Written(sid) => {
                if let Some(c) = self.conns.get_mut(&sid) {
                    c.in_flight = false;
                }
            }
        }
    }

    /// The client's address.
    pub fn peer(&self, sid: SessionId) -> Option<SocketAddr> {
        self.conns.get(&sid).map(|c| c.peer)
    }

    /// The user the session logged in as.
    pub fn user(&self, sid: SessionId) -> Option<&str> {
        self.conns.get(&sid).and_then(|c| c.user.as_deref())
    }

    /// Records the session's user (on `LoggedIn`).
    pub fn set_user(&mut self, sid: SessionId, user: String) {
        if let Some(c) = self.conns.get_mut(&sid) {
            c.user = Some(user);
        }
    }

    /// Closes the connection once what the core has queued for it is sent (on `Disconnect`).
    pub fn close_after_flush(&mut self, sid: SessionId) {
        if let Some(c) = self.conns.get_mut(&sid) {
            c.closing = true;
        }
    }

    /// Closes the connection now, dropping what is queued (a slow client), and forgets the
    /// session.
    pub fn close_now(&mut self, server: &mut Server, sid: SessionId) {
        if let Some(c) = self.conns.remove(&sid) {
            c.reader.abort();
        }
        server.remove(sid);
    }

    /// Hands each connection's queued bytes to its writer (one chunk in flight) and closes the
    /// connections that are done. Returns the sessions closed.
    pub fn flush(&mut self, server: &mut Server) -> Vec<SessionId> {
        let mut gone = Vec::new();
        for (sid, c) in &mut self.conns {
            let pending = server.poll_transmit(*sid);
            if !c.in_flight && !pending.is_empty() {
                if let Some(tx) = &c.tx {
                    let n = pending.len();
                    if tx.try_send(pending.to_vec()).is_ok() {
                        c.in_flight = true;
                        server.consume_transmit(*sid, n);
                    }
                }
            }
            if c.closing && server.poll_transmit(*sid).is_empty() {
                // Dropping the sender ends the writer after its last chunk; it then shuts the
                // socket down.
                c.tx = None;
                c.reader.abort();
                gone.push(*sid);
            }
        }
        for sid in &gone {
            self.conns.remove(sid);
            server.remove(*sid);
        }
        gone
    }
}

/// Completes after `seconds` (if given, finite and not negative) or at Ctrl-C, whichever
/// comes first.
pub async fn stop_after(seconds: Option<f64>) {
    match seconds {
        Some(s) if s.is_finite() && s >= 0.0 => {
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs_f64(s)) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
