//! One connection to or from the relay, over QUIC or — where UDP does not get through — over
//! TLS on TCP with yamux multiplexing ([`crate::tcp`]). Both carry the same messages on the same
//! kinds of streams; the roles above see one type and never need to know which one it is, except
//! to say so to a person ([`Connection::transport`]).

use crate::tcp;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// Which transport a connection runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// QUIC over UDP: the normal case.
    Quic,
    /// TLS 1.3 over TCP, streams multiplexed by yamux: when UDP is blocked.
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Quic => "QUIC",
            Transport::Tcp => "TCP",
        })
    }
}

/// Which transports a client tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TransportChoice {
    /// QUIC first; TLS over TCP on the same port when QUIC has not connected within
    /// [`crate::NetConfig::fallback_after`] (or failed for another reason than the pin).
    #[default]
    Auto,
    /// QUIC only.
    Quic,
    /// TCP only (tests and benchmarks of the fallback).
    Tcp,
}

impl std::str::FromStr for TransportChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(TransportChoice::Auto),
            "quic" => Ok(TransportChoice::Quic),
            "tcp" => Ok(TransportChoice::Tcp),
            other => Err(format!("{other:?} is not a transport: auto, quic or tcp")),
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionError {
    /// The peer closed it with a code and a reason.
    ApplicationClosed { code: u32, reason: Vec<u8> },
    /// We closed it.
    LocallyClosed,
    /// Nothing was heard from the peer for the idle timeout.
    TimedOut,
    /// The peer reset it or the path failed.
    Lost(String),
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::ApplicationClosed { code, reason } => write!(
                f,
                "closed by peer: {} (code {code})",
                String::from_utf8_lossy(reason)
            ),
            ConnectionError::LocallyClosed => f.write_str("closed"),
            ConnectionError::TimedOut => f.write_str("timed out"),
            ConnectionError::Lost(why) => write!(f, "connection lost: {why}"),
        }
    }
}

impl std::error::Error for ConnectionError {}

impl From<quinn::ConnectionError> for ConnectionError {
    fn from(e: quinn::ConnectionError) -> Self {
        match e {
            quinn::ConnectionError::ApplicationClosed(c) => ConnectionError::ApplicationClosed {
                code: u32::try_from(c.error_code.into_inner()).unwrap_or(u32::MAX),
                reason: c.reason.to_vec(),
            },
            quinn::ConnectionError::LocallyClosed => ConnectionError::LocallyClosed,
            quinn::ConnectionError::TimedOut => ConnectionError::TimedOut,
            other => ConnectionError::Lost(other.to_string()),
        }
    }
}

/// A read that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    #[error("stream reset by peer (code {0})")]
    Reset(u64),
    #[error(transparent)]
    ConnectionLost(ConnectionError),
    #[error("stream already closed")]
    ClosedStream,
}

impl From<quinn::ReadError> for ReadError {
    fn from(e: quinn::ReadError) -> Self {
        match e {
            quinn::ReadError::Reset(code) => ReadError::Reset(code.into_inner()),
            quinn::ReadError::ConnectionLost(c) => ReadError::ConnectionLost(c.into()),
            _ => ReadError::ClosedStream,
        }
    }
}

/// A write that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("stream stopped by peer (code {0})")]
    Stopped(u64),
    #[error(transparent)]
    ConnectionLost(ConnectionError),
    #[error("stream already closed")]
    ClosedStream,
}

impl From<quinn::WriteError> for WriteError {
    fn from(e: quinn::WriteError) -> Self {
        match e {
            quinn::WriteError::Stopped(code) => WriteError::Stopped(code.into_inner()),
            quinn::WriteError::ConnectionLost(c) => WriteError::ConnectionLost(c.into()),
            _ => WriteError::ClosedStream,
        }
    }
}

/// `read_exact` that did not get all its bytes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadExactError {
    /// The stream ended after this many bytes.
    #[error("stream finished early ({0} bytes read)")]
    FinishedEarly(usize),
    #[error(transparent)]
    ReadError(#[from] ReadError),
}

/// `read_to_end` that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadToEndError {
    #[error("stream longer than allowed")]
    TooLong,
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// What the path looks like: the signals the video's rate control listens to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathStats {
    /// Smoothed round trip time.
    pub rtt: Duration,
}

/// QUIC's default send buffer (quinn: 8 × 1.25 MB).
const DEFAULT_SEND_WINDOW: u64 = 10_000_000;
/// The least [`Connection::limit_send_backlog`] leaves: a few packets beyond the window.
const MIN_SEND_WINDOW: u64 = 16 * 1024;

/// A connection between a client and the relay.
#[derive(Clone)]
pub struct Connection(pub(crate) Inner);

#[derive(Clone)]
pub(crate) enum Inner {
    Quic {
        conn: quinn::Connection,
        /// A client's own endpoint, kept as long as the connection is.
        endpoint: Option<quinn::Endpoint>,
    },
    Tcp(tcp::TcpConnection),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Connection({} to {})",
            self.transport(),
            self.remote_address()
        )
    }
}

impl From<quinn::Connection> for Connection {
    fn from(conn: quinn::Connection) -> Self {
        Connection(Inner::Quic {
            conn,
            endpoint: None,
        })
    }
}

impl Connection {
    pub(crate) fn quic(conn: quinn::Connection, endpoint: quinn::Endpoint) -> Self {
        Connection(Inner::Quic {
            conn,
            endpoint: Some(endpoint),
        })
    }

    /// The transport under this connection.
    pub fn transport(&self) -> Transport {
        match &self.0 {
            Inner::Quic { .. } => Transport::Quic,
            Inner::Tcp(_) => Transport::Tcp,
        }
    }

    /// The QUIC connection, where it is one (tests that look at QUIC's own state).
    pub fn as_quic(&self) -> Option<&quinn::Connection> {
        match &self.0 {
            Inner::Quic { conn, .. } => Some(conn),
            Inner::Tcp(_) => None,
        }
    }

    pub async fn open_uni(&self) -> Result<SendStream, ConnectionError> {
        match &self.0 {
            Inner::Quic { conn, .. } => Ok(SendStream(SendInner::Quic(conn.open_uni().await?))),
            Inner::Tcp(c) => c.open_uni().await.map(|s| SendStream(SendInner::Tcp(s))),
        }
    }

    pub async fn open_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        match &self.0 {
            Inner::Quic { conn, .. } => {
                let (s, r) = conn.open_bi().await?;
                Ok((
                    SendStream(SendInner::Quic(s)),
                    RecvStream(RecvInner::Quic(r)),
                ))
            }
            Inner::Tcp(c) => {
                let (s, r) = c.open_bi().await?;
                Ok((SendStream(SendInner::Tcp(s)), RecvStream(RecvInner::Tcp(r))))
            }
        }
    }

    pub async fn accept_uni(&self) -> Result<RecvStream, ConnectionError> {
        match &self.0 {
            Inner::Quic { conn, .. } => Ok(RecvStream(RecvInner::Quic(conn.accept_uni().await?))),
            Inner::Tcp(c) => c.accept_uni().await.map(|r| RecvStream(RecvInner::Tcp(r))),
        }
    }

    pub async fn accept_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        match &self.0 {
            Inner::Quic { conn, .. } => {
                let (s, r) = conn.accept_bi().await?;
                Ok((
                    SendStream(SendInner::Quic(s)),
                    RecvStream(RecvInner::Quic(r)),
                ))
            }
            Inner::Tcp(c) => {
                let (s, r) = c.accept_bi().await?;
                Ok((SendStream(SendInner::Tcp(s)), RecvStream(RecvInner::Tcp(r))))
            }
        }
    }

    /// Closes the connection with a code and a reason the peer sees; streams end at once.
    pub fn close(&self, code: u32, reason: &[u8]) {
        match &self.0 {
            Inner::Quic { conn, .. } => conn.close(code.into(), reason),
            Inner::Tcp(c) => c.close(code, reason),
        }
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        match &self.0 {
            Inner::Quic { conn, .. } => conn.close_reason().map(Into::into),
            Inner::Tcp(c) => c.close_reason(),
        }
    }

    /// Waits until the connection has ended and says why.
    pub async fn closed(&self) -> ConnectionError {
        match &self.0 {
            Inner::Quic { conn, .. } => conn.closed().await.into(),
            Inner::Tcp(c) => c.closed().await,
        }
    }

    /// Waits (callers bound it) until a close of ours has reached the network.
    pub async fn wait_idle(&self) {
        match &self.0 {
            Inner::Quic { endpoint, .. } => {
                if let Some(e) = endpoint {
                    e.wait_idle().await
                }
            }
            Inner::Tcp(c) => c.wait_idle().await,
        }
    }

    pub fn remote_address(&self) -> SocketAddr {
        match &self.0 {
            Inner::Quic { conn, .. } => conn.remote_address(),
            Inner::Tcp(c) => c.remote_address(),
        }
    }

    /// The current round trip time estimate.
    pub fn rtt(&self) -> Duration {
        self.path_stats().rtt
    }

    /// Keeps what waits in this connection's send buffer, beyond what the congestion controller
    /// lets into the network, to about `extra` bytes, so that a stream written faster than the
    /// path carries makes its writer wait instead of queueing seconds of data (QUIC's default
    /// buffer holds 10 MB). The congestion window moves: call again every round trip or so.
    /// Over TCP the limit is on what our streams wrote and the kernel has not sent yet (in
    /// yamux's, TLS's or the kernel's buffer), and the writer keeps it by awaiting
    /// [`Connection::backlog_room`] before each write.
    pub fn limit_send_backlog(&self, extra: u64) {
        match &self.0 {
            Inner::Quic { conn, .. } => {
                let cwnd = conn.stats().path.cwnd;
                conn.set_send_window(cwnd.saturating_add(extra).max(MIN_SEND_WINDOW));
            }
            // The kernel keeps its own window; what waits before it is bounded by the writer
            // waiting in `backlog_room`.
            Inner::Tcp(c) => c.set_backlog_limit(Some(extra.max(MIN_SEND_WINDOW))),
        }
    }

    /// Lifts [`Connection::limit_send_backlog`]: the default buffer again.
    pub fn unlimit_send_backlog(&self) {
        match &self.0 {
            Inner::Quic { conn, .. } => conn.set_send_window(DEFAULT_SEND_WINDOW),
            Inner::Tcp(c) => c.set_backlog_limit(None),
        }
    }

    /// Waits, while [`Connection::limit_send_backlog`] is in force over TCP, until no more than
    /// the limit of what our streams wrote is still unsent; call before each write that must
    /// not queue (a video frame). Over QUIC the send window does this inside the write: returns at once.
    pub async fn backlog_room(&self) {
        if let Inner::Tcp(c) = &self.0 {
            c.backlog_room().await;
        }
    }

    /// Round trip time so far.
    pub fn path_stats(&self) -> PathStats {
        match &self.0 {
            Inner::Quic { conn, .. } => {
                let p = conn.stats().path;
                PathStats { rtt: p.rtt }
            }
            Inner::Tcp(c) => c.path_stats(),
        }
    }
}

/// The sending half of a stream.
pub struct SendStream(SendInner);

enum SendInner {
    Quic(quinn::SendStream),
    Tcp(tcp::TcpSend),
}

impl fmt::Debug for SendStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendStream")
    }
}

impl SendStream {
    pub async fn write_all(&mut self, buf: &[u8]) -> Result<(), WriteError> {
        match &mut self.0 {
            SendInner::Quic(s) => s.write_all(buf).await.map_err(Into::into),
            SendInner::Tcp(s) => s.write_all(buf).await,
        }
    }

    /// Ends the stream once everything written has been sent (dropping it does the same).
    pub fn finish(&mut self) -> Result<(), WriteError> {
        match &mut self.0 {
            SendInner::Quic(s) => s.finish().map_err(|_| WriteError::ClosedStream),
            SendInner::Tcp(s) => s.finish(),
        }
    }

    /// Abandons the stream: what was not yet delivered is dropped; the reader sees the end.
    pub fn reset(&mut self, code: u32) -> Result<(), WriteError> {
        match &mut self.0 {
            SendInner::Quic(s) => s.reset(code.into()).map_err(|_| WriteError::ClosedStream),
            SendInner::Tcp(s) => {
                s.reset();
                Ok(())
            }
        }
    }

    /// After [`SendStream::finish`]: waits until the peer has read everything (`None`) or
    /// stopped the stream (`Some(code)`).
    pub async fn stopped(&mut self) -> Result<Option<u64>, ConnectionError> {
        match &mut self.0 {
            SendInner::Quic(s) => match s.stopped().await {
                Ok(code) => Ok(code.map(|c| c.into_inner())),
                Err(quinn::StoppedError::ConnectionLost(e)) => Err(e.into()),
                Err(_) => Ok(None),
            },
            SendInner::Tcp(s) => s.stopped().await,
        }
    }
}

/// The receiving half of a stream.
pub struct RecvStream(RecvInner);

enum RecvInner {
    Quic(quinn::RecvStream),
    Tcp(tcp::TcpRecv),
}

impl fmt::Debug for RecvStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecvStream")
    }
}

impl RecvStream {
    /// Reads some bytes; `None` at the end of the stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        match &mut self.0 {
            RecvInner::Quic(s) => s.read(buf).await.map_err(Into::into),
            RecvInner::Tcp(s) => s.read(buf).await,
        }
    }

    /// Fills `buf` completely.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ReadExactError> {
        let mut got = 0;
        while got < buf.len() {
            match self.read(&mut buf[got..]).await? {
                Some(n) => got += n,
                None => return Err(ReadExactError::FinishedEarly(got)),
            }
        }
        Ok(())
    }

    /// Reads the rest of the stream, at most `limit` bytes.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, ReadToEndError> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Some(n) = self.read(&mut buf).await? {
            if out.len() + n > limit {
                return Err(ReadToEndError::TooLong);
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(out)
    }

    /// Tells the sender to stop: its writes fail from now on.
    pub fn stop(&mut self, code: u32) -> Result<(), ReadError> {
        match &mut self.0 {
            RecvInner::Quic(s) => s.stop(code.into()).map_err(|_| ReadError::ClosedStream),
            RecvInner::Tcp(s) => {
                s.stop(code);
                Ok(())
            }
        }
    }
}
