//! The connections of an [`Endpoint`](super::Endpoint): per connection, a reader task (bytes
//! in) and a writer task (one chunk in flight), and what the owner task knows of it.

use std::collections::HashMap;
use std::net::SocketAddr;

use ami_proto::server::{Refused, Server, SessionId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::now;

/// Something a connection's tasks report to the owner task.
#[derive(Debug)]
pub(crate) enum Input {
    /// Bytes from the client.
    Data(SessionId, Vec<u8>),
    /// The client closed (or the socket failed).
    Eof(SessionId),
    /// The writer has sent its chunk and can take the next; the chunk's buffer comes back to
    /// be filled again.
    Written(SessionId, Vec<u8>),
}

/// The longest one chunk may take to be written (and the last bytes of a closing connection
/// to leave): after it the connection is dropped.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Size of one read from a client.
const READ_CHUNK: usize = 16 * 1024;

/// The largest write buffer a connection keeps for its next chunk. Reusing it spares an
/// allocation, and the page faults of fresh memory, per chunk (a fifth of a busy proxy's time
/// went to them); larger buffers, from a burst, are freed so that idle connections hold little.
const KEPT_WRITE_BUFFER: usize = 256 * 1024;

#[derive(Debug)]
struct Conn {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    in_flight: bool,
    /// The buffer the writer gave back, filled with the next chunk.
    spare: Vec<u8>,
    closing: bool,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    peer: SocketAddr,
    user: Option<String>,
}

/// The connections of one server.
#[derive(Debug)]
pub(crate) struct Conns {
    conns: HashMap<SessionId, Conn>,
    input_tx: mpsc::Sender<Input>,
}

impl Conns {
    /// No connections yet; their tasks report on `input_tx`.
    pub(crate) fn new(input_tx: mpsc::Sender<Input>) -> Conns {
        Conns { conns: HashMap::new(), input_tx }
    }

    /// Admits a connection through the core, starting its tasks.
    pub(crate) fn accept<S>(
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
        let writer = tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                // A peer that stops reading cannot hold its socket (and this task) forever.
                let written = tokio::time::timeout(WRITE_TIMEOUT, async {
                    wr.write_all(&chunk).await?;
                    wr.flush().await
                })
                .await;
                if !matches!(written, Ok(Ok(()))) {
                    let _ = tx_done.send(Input::Eof(sid)).await;
                    return;
                }
                if tx_done.send(Input::Written(sid, chunk)).await.is_err() {
                    return;
                }
            }
            let _ = wr.shutdown().await;
        });
        self.conns.insert(
            sid,
            Conn {
                tx: Some(tx),
                in_flight: false,
                spare: Vec::new(),
                closing: false,
                reader,
                writer,
                peer,
                user: None,
            },
        );
        Ok(sid)
    }

    /// Feeds one report of a connection task to the core.
    pub(crate) fn handle(&mut self, server: &mut Server, input: Input) {
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
            Input::Written(sid, mut buffer) => {
                if let Some(c) = self.conns.get_mut(&sid) {
                    c.in_flight = false;
                    if buffer.capacity() <= KEPT_WRITE_BUFFER {
                        buffer.clear();
                        c.spare = buffer;
                    }
                }
            }
        }
    }

    pub(crate) fn peer(&self, sid: SessionId) -> Option<SocketAddr> {
        self.conns.get(&sid).map(|c| c.peer)
    }

    pub(crate) fn user(&self, sid: SessionId) -> Option<&str> {
        self.conns.get(&sid).and_then(|c| c.user.as_deref())
    }

    pub(crate) fn set_user(&mut self, sid: SessionId, user: String) {
        if let Some(c) = self.conns.get_mut(&sid) {
            c.user = Some(user);
        }
    }

    pub(crate) fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.conns.keys().copied()
    }

    pub(crate) fn len(&self) -> usize {
        self.conns.len()
    }

    pub(crate) fn close_after_flush(&mut self, sid: SessionId) {
        if let Some(c) = self.conns.get_mut(&sid) {
            c.closing = true;
        }
    }

    pub(crate) fn close_now(&mut self, server: &mut Server, sid: SessionId) {
        if let Some(c) = self.conns.remove(&sid) {
            c.reader.abort();
            c.writer.abort();
        }
        server.remove(sid);
    }

    /// Hands each connection's queued bytes to its writer (one chunk in flight) and closes the
    /// connections that are done. Returns the sessions closed.
    pub(crate) fn flush(&mut self, server: &mut Server) -> Vec<SessionId> {
        let mut gone = Vec::new();
        for (sid, c) in &mut self.conns {
            let pending = server.poll_transmit(*sid);
            if !c.in_flight
                && !pending.is_empty()
                && let Some(tx) = &c.tx
            {
                let n = pending.len();
                let mut chunk = std::mem::take(&mut c.spare);
                chunk.extend_from_slice(pending);
                match tx.try_send(chunk) {
                    Ok(()) => {
                        c.in_flight = true;
                        server.consume_transmit(*sid, n);
                    }
                    Err(e) => {
                        let mut chunk = e.into_inner();
                        chunk.clear();
                        c.spare = chunk;
                    }
                }
            }
            // Done: everything sent, or the writer gave up (the peer stopped reading).
            let writer_gone = c.tx.as_ref().is_none_or(mpsc::Sender::is_closed);
            if c.closing && (server.poll_transmit(*sid).is_empty() || writer_gone) {
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
