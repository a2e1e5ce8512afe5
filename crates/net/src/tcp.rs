//! The fallback transport for networks that drop UDP: TLS 1.3 over TCP (the same certificate,
//! pin and ALPN as QUIC), its streams multiplexed by yamux (the multiplexer libp2p maintains).
//!
//! What QUIC gives and yamux does not is added in the thinnest way that keeps the semantics the
//! roles rely on:
//! - every stream starts with one byte saying what it is: a one-way stream, a two-way stream,
//!   or the closing notice;
//! - closing a connection sends the notice (code and reason, as QUIC's CONNECTION_CLOSE) on a
//!   stream of its own before the yamux GoAway;
//! - on a one-way stream the unused backward direction carries "stop" (a 4-byte code, then the
//!   end), so a sender's writes fail once the reader stopped, and `stopped()` can tell "read to
//!   the end" (backward end without code) from "stopped";
//! - a connection that goes away ends every pending read and write (yamux alone leaves readers
//!   waiting when the local side closes).
//!
//! Liveness: TCP keep-alive every quarter of the idle timeout and `TCP_USER_TIMEOUT` (Linux) at
//! the idle timeout, so a vanished peer is noticed in about the same time as over QUIC.

use crate::NetConfig;
use crate::conn::{ConnectionError, PathStats, ReadError, WriteError};
use futures::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::{AsyncWrite, FutureExt};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// First byte of a one-way stream.
const KIND_UNI: u8 = b'u';
/// First byte of a two-way stream.
const KIND_BI: u8 = b'b';
/// First byte of the closing notice: then the code (4 bytes, big-endian) and the reason.
const KIND_CLOSE: u8 = b'c';
/// Longest closing reason read.
const MAX_REASON: u64 = 1024;
/// Streams at most, both directions together. With yamux's 256 KiB per stream this is also
/// the 16 MiB a peer may make us hold unread (as QUIC's receive window).
const MAX_STREAMS: usize = 64;
/// Streams of ours alive (open, being sorted or waiting to be taken) beyond which we open no more
/// until one ends: yamux ends the whole connection when asked for a stream over its maximum, and
/// it forgets ended streams only on its next turn, so some room is kept.
const OPEN_ROOM: usize = MAX_STREAMS - 16;
/// Beyond this many, a stream the peer opens is reset at once (a peer flooding streams can hurt
/// only itself).
const INBOUND_ROOM: usize = MAX_STREAMS - 8;
/// One-way and two-way streams the peer opened that nobody has taken yet.
const PENDING_UNI: usize = 64;
const PENDING_BI: usize = 4;
/// How long a new stream may take to say what it is.
const KIND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a close may take to reach the network.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

type Io = Compat<tokio_rustls::TlsStream<TcpStream>>;
type State = Arc<watch::Sender<Option<ConnectionError>>>;

enum Cmd {
    Open(oneshot::Sender<Result<Counted, ConnectionError>>),
    Close(u32, Vec<u8>),
}

/// How many yamux streams of the connection we hold, and who waits for one to end.
#[derive(Default)]
struct Live {
    count: std::sync::atomic::AtomicUsize,
    freed: futures::task::AtomicWaker,
}

impl Live {
    fn now(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// One stream counted in [`Live`] while it exists.
struct Guard(Arc<Live>);

impl Guard {
    fn new(live: &Arc<Live>) -> Guard {
        live.count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Guard(live.clone())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0
            .count
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.freed.wake();
    }
}

/// A yamux stream with its place in the count.
struct Counted {
    s: yamux::Stream,
    guard: Guard,
}

/// One TCP connection's handle (cheap to clone, like QUIC's).
#[derive(Clone)]
pub(crate) struct TcpConnection(Arc<Shared>);

struct Shared {
    cmds: mpsc::UnboundedSender<Cmd>,
    uni: tokio::sync::Mutex<mpsc::Receiver<Counted>>,
    bi: tokio::sync::Mutex<mpsc::Receiver<Counted>>,
    /// Why it ended; set once (locally at `close`, else by the driver).
    state: State,
    /// True once the driver has let go of the socket.
    idle: watch::Receiver<bool>,
    remote: SocketAddr,
    stats: Arc<Stats>,
    /// Unsent bytes the kernel may hold before [`TcpConnection::backlog_room`] waits
    /// (`u64::MAX`: no limit).
    backlog: std::sync::atomic::AtomicU64,
    /// Bytes our streams have handed to yamux, all of them together.
    written: Arc<std::sync::atomic::AtomicU64>,
}

/// Where the path's figures come from: the kernel's TCP_INFO of the socket while it is open.
struct Stats {
    #[cfg(target_os = "linux")]
    fd: std::sync::Mutex<Option<std::os::fd::RawFd>>,
}

impl Stats {
    fn of(tcp: &TcpStream) -> Stats {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            Stats {
                fd: std::sync::Mutex::new(Some(tcp.as_raw_fd())),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = tcp;
            Stats {}
        }
    }

    /// Forgets the socket (called before it is closed, under the same lock as reading it).
    fn forget(&self) {
        #[cfg(target_os = "linux")]
        {
            *self.fd.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// Bytes the kernel has sent on this connection, each once (TCP_INFO: sent less
    /// retransmitted, Linux 4.19 and later).
    fn sent_once(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        {
            // An older kernel writes a shorter structure, without these fields.
            let end = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_retrans) + 8;
            self.info()
                .filter(|(_, len)| *len >= end)
                .map(|(i, _)| i.tcpi_bytes_sent.saturating_sub(i.tcpi_bytes_retrans))
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    #[cfg(target_os = "linux")]
    fn info(&self) -> Option<(libc::tcp_info, usize)> {
        let fd = self.fd.lock().unwrap_or_else(|p| p.into_inner());
        let fd = (*fd)?;
        // SAFETY: `fd` is the connection's open socket (the lock keeps it from being closed
        // meanwhile); `info` and `len` are valid for the kernel to write.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let ok = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        } == 0;
        ok.then_some((info, len as usize))
    }

    fn read(&self) -> PathStats {
        #[cfg(target_os = "linux")]
        {
            self.info()
                .map_or_else(PathStats::default, |(info, _)| PathStats {
                    rtt: Duration::from_micros(u64::from(info.tcpi_rtt)),
                })
        }
        #[cfg(not(target_os = "linux"))]
        {
            PathStats::default()
        }
    }
}

impl TcpConnection {
    /// Starts multiplexing over an established TLS connection.
    fn start(
        tls: tokio_rustls::TlsStream<TcpStream>,
        mode: yamux::Mode,
        remote: SocketAddr,
        stats: Stats,
    ) -> TcpConnection {
        let mut cfg = yamux::Config::default();
        // Streams first: yamux checks that the window fits them.
        cfg.set_max_num_streams(MAX_STREAMS);
        cfg.set_max_connection_receive_window(Some(MAX_STREAMS * yamux::DEFAULT_CREDIT as usize));
        let conn = yamux::Connection::new(tls.compat(), cfg, mode);
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (uni_tx, uni) = mpsc::channel(PENDING_UNI);
        let (bi_tx, bi) = mpsc::channel(PENDING_BI);
        let state: State = Arc::new(watch::channel(None).0);
        let (idle_tx, idle) = watch::channel(false);
        let stats = Arc::new(stats);
        tokio::spawn(drive(
            conn,
            cmd_rx,
            uni_tx,
            bi_tx,
            state.clone(),
            idle_tx,
            stats.clone(),
        ));
        TcpConnection(Arc::new(Shared {
            cmds,
            uni: tokio::sync::Mutex::new(uni),
            bi: tokio::sync::Mutex::new(bi),
            state,
            idle,
            remote,
            stats,
            backlog: std::sync::atomic::AtomicU64::new(u64::MAX),
            written: Arc::default(),
        }))
    }

    fn ended(&self) -> ConnectionError {
        self.0
            .state
            .borrow()
            .clone()
            .unwrap_or(ConnectionError::LocallyClosed)
    }

    async fn open(&self, kind: u8) -> Result<Counted, ConnectionError> {
        let (tx, rx) = oneshot::channel();
        if let Some(e) = self.close_reason() {
            return Err(e);
        }
        self.0.cmds.send(Cmd::Open(tx)).map_err(|_| self.ended())?;
        let mut c = rx.await.map_err(|_| self.ended())??;
        c.s.write_all(&[kind])
            .await
            .map_err(|e| ConnectionError::Lost(e.to_string()))?;
        Ok(c)
    }

    pub async fn open_uni(&self) -> Result<TcpSend, ConnectionError> {
        let c = self.open(KIND_UNI).await?;
        let (r, w) = AsyncReadExt::split(c.s);
        Ok(TcpSend::new(
            w,
            Some(r),
            self.0.state.subscribe(),
            Arc::new(c.guard),
            self.0.written.clone(),
        ))
    }

    pub async fn open_bi(&self) -> Result<(TcpSend, TcpRecv), ConnectionError> {
        let c = self.open(KIND_BI).await?;
        let (r, w) = AsyncReadExt::split(c.s);
        let guard = Arc::new(c.guard);
        Ok((
            TcpSend::new(
                w,
                None,
                self.0.state.subscribe(),
                guard.clone(),
                self.0.written.clone(),
            ),
            TcpRecv::new(r, None, self.0.state.subscribe(), guard),
        ))
    }

    pub async fn accept_uni(&self) -> Result<TcpRecv, ConnectionError> {
        let c = self.0.uni.lock().await.recv().await;
        let c = c.ok_or_else(|| self.ended())?;
        let (r, w) = AsyncReadExt::split(c.s);
        Ok(TcpRecv::new(
            r,
            Some(w),
            self.0.state.subscribe(),
            Arc::new(c.guard),
        ))
    }

    pub async fn accept_bi(&self) -> Result<(TcpSend, TcpRecv), ConnectionError> {
        let c = self.0.bi.lock().await.recv().await;
        let c = c.ok_or_else(|| self.ended())?;
        let (r, w) = AsyncReadExt::split(c.s);
        let guard = Arc::new(c.guard);
        Ok((
            TcpSend::new(
                w,
                None,
                self.0.state.subscribe(),
                guard.clone(),
                self.0.written.clone(),
            ),
            TcpRecv::new(r, None, self.0.state.subscribe(), guard),
        ))
    }

    pub fn close(&self, code: u32, reason: &[u8]) {
        let first = self.0.state.send_if_modified(|s| {
            if s.is_none() {
                *s = Some(ConnectionError::LocallyClosed);
                true
            } else {
                false
            }
        });
        if first {
            let _ = self.0.cmds.send(Cmd::Close(code, reason.to_vec()));
        }
    }

    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.0.state.borrow().clone()
    }

    pub async fn closed(&self) -> ConnectionError {
        let mut rx = self.0.state.subscribe();
        gone(&mut rx).await
    }

    pub async fn wait_idle(&self) {
        let mut idle = self.0.idle.clone();
        let _ = idle.wait_for(|done| *done).await;
    }

    pub fn remote_address(&self) -> SocketAddr {
        self.0.remote
    }

    pub fn path_stats(&self) -> PathStats {
        self.0.stats.read()
    }

    /// Sets (or with `None` lifts) the limit [`TcpConnection::backlog_room`] waits for.
    pub fn set_backlog_limit(&self, limit: Option<u64>) {
        self.0.backlog.store(
            limit.unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Waits until no more than the limit of what our streams wrote is still unsent — in
    /// yamux's and TLS's buffers or the kernel's, which grows to megabytes: on a thin link,
    /// seconds of video queued behind each other. Unsent is what the streams handed to yamux
    /// less what the kernel has sent (once: retransmissions do not count), so TLS's and yamux's
    /// own bytes make it read a little low. Returns at once without a limit, where the kernel
    /// does not say, and once the connection has ended.
    pub async fn backlog_room(&self) {
        // A path that takes longer than this for the backlog is broken or gone; the write then
        // waits in yamux like any other.
        let give_up = tokio::time::Instant::now() + BACKLOG_WAIT_MAX;
        while tokio::time::Instant::now() < give_up {
            let limit = self.0.backlog.load(std::sync::atomic::Ordering::Relaxed);
            if limit == u64::MAX {
                return;
            }
            let written = self.0.written.load(std::sync::atomic::Ordering::Relaxed);
            match self.0.stats.sent_once() {
                Some(sent) if written.saturating_sub(sent) > limit => {}
                _ => return,
            }
            tokio::time::sleep(BACKLOG_POLL).await;
        }
    }
}

/// The longest [`TcpConnection::backlog_room`] waits.
const BACKLOG_WAIT_MAX: Duration = Duration::from_secs(2);

/// How often [`TcpConnection::backlog_room`] looks again while the kernel's backlog is above
/// the limit (a 1 Mbit/s path sends 250 bytes in that time).
const BACKLOG_POLL: Duration = Duration::from_millis(2);

/// Waits until the connection has ended; says why.
async fn gone(state: &mut watch::Receiver<Option<ConnectionError>>) -> ConnectionError {
    match state.wait_for(|s| s.is_some()).await {
        Ok(s) => s.clone().unwrap_or(ConnectionError::LocallyClosed),
        Err(_) => ConnectionError::Lost("connection driver gone".into()),
    }
}

/// What a new stream from the peer turned out to be.
enum Classified {
    Uni(Counted),
    Bi(Counted),
    Close(u32, Vec<u8>),
    Junk,
}

async fn classify(mut c: Counted) -> Classified {
    enum Kind {
        Uni,
        Bi,
        Close(u32, Vec<u8>),
        Junk,
    }
    let s = &mut c.s;
    let read = async {
        let mut kind = [0u8; 1];
        if s.read_exact(&mut kind).await.is_err() {
            return Kind::Junk;
        }
        match kind[0] {
            KIND_UNI => Kind::Uni,
            KIND_BI => Kind::Bi,
            KIND_CLOSE => {
                let mut code = [0u8; 4];
                if s.read_exact(&mut code).await.is_err() {
                    return Kind::Junk;
                }
                let mut reason = Vec::new();
                let _ = AsyncReadExt::take(&mut *s, MAX_REASON)
                    .read_to_end(&mut reason)
                    .await;
                Kind::Close(u32::from_be_bytes(code), reason)
            }
            _ => Kind::Junk,
        }
    };
    match tokio::time::timeout(KIND_TIMEOUT, read).await {
        Ok(Kind::Uni) => Classified::Uni(c),
        Ok(Kind::Bi) => Classified::Bi(c),
        Ok(Kind::Close(code, reason)) => Classified::Close(code, reason),
        Ok(Kind::Junk) | Err(_) => Classified::Junk,
    }
}

/// How the driver's loop ended.
enum End {
    Local(u32, Vec<u8>),
    Peer(u32, Vec<u8>),
    Failed(ConnectionError),
}

type Classifying = FuturesUnordered<Pin<Box<dyn Future<Output = Classified> + Send>>>;

/// Owns the yamux connection: opens streams on request, sorts the peer's new streams, and
/// closes the connection (with the notice) when asked or when every handle is gone.
async fn drive(
    mut conn: yamux::Connection<Io>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    uni: mpsc::Sender<Counted>,
    bi: mpsc::Sender<Counted>,
    state: State,
    idle: watch::Sender<bool>,
    stats: Arc<Stats>,
) {
    let live = Arc::new(Live::default());
    let mut classifying: Classifying = FuturesUnordered::new();
    // Opens wait here while yamux has no room for another stream; a close does not wait for
    // them.
    let mut opening: std::collections::VecDeque<oneshot::Sender<Result<Counted, ConnectionError>>> =
        std::collections::VecDeque::new();
    let end = std::future::poll_fn(|cx: &mut Context<'_>| {
        loop {
            match cmds.poll_recv(cx) {
                Poll::Ready(Some(Cmd::Open(tx))) => {
                    opening.push_back(tx);
                    continue;
                }
                Poll::Ready(Some(Cmd::Close(code, reason))) => {
                    return Poll::Ready(End::Local(code, reason));
                }
                // Every handle is gone: close as QUIC does then.
                Poll::Ready(None) => return Poll::Ready(End::Local(0, Vec::new())),
                Poll::Pending => {}
            }
            if !opening.is_empty() {
                // Woken when one of our streams ends, should there be no room now.
                live.freed.register(cx.waker());
                if live.now() < OPEN_ROOM
                    && let Poll::Ready(r) = conn.poll_new_outbound(cx)
                {
                    let r = r
                        .map(|s| Counted {
                            s,
                            guard: Guard::new(&live),
                        })
                        .map_err(|e| ConnectionError::Lost(e.to_string()));
                    if let Some(tx) = opening.pop_front() {
                        let _ = tx.send(r);
                    }
                    continue;
                }
            }
            match classifying.poll_next_unpin(cx) {
                Poll::Ready(Some(Classified::Uni(s))) => {
                    // Too many waiting: the stream is dropped, which resets it.
                    let _ = uni.try_send(s);
                    continue;
                }
                Poll::Ready(Some(Classified::Bi(s))) => {
                    let _ = bi.try_send(s);
                    continue;
                }
                Poll::Ready(Some(Classified::Close(code, reason))) => {
                    return Poll::Ready(End::Peer(code, reason));
                }
                Poll::Ready(Some(Classified::Junk)) => continue,
                Poll::Ready(None) | Poll::Pending => {}
            }
            match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(s))) => {
                    // Over the room: dropped, which resets it.
                    if live.now() < INBOUND_ROOM {
                        let c = Counted {
                            s,
                            guard: Guard::new(&live),
                        };
                        classifying.push(Box::pin(classify(c)));
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(End::Failed(lost(e))),
                Poll::Ready(None) => {
                    return Poll::Ready(End::Failed(ConnectionError::Lost(
                        "closed by the peer".into(),
                    )));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await;
    // Pending opens learn that there will be none.
    drop(opening);
    let why = match end {
        End::Local(code, reason) => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, close_with_notice(&mut conn, code, reason))
                .await;
            ConnectionError::LocallyClosed
        }
        End::Peer(code, reason) => {
            let _ = tokio::time::timeout(
                CLOSE_TIMEOUT,
                std::future::poll_fn(|cx| conn.poll_close(cx)),
            )
            .await;
            ConnectionError::ApplicationClosed { code, reason }
        }
        End::Failed(e) => {
            // The notice may have come just before the end: its bytes are already here.
            let mut why = e;
            while let Some(Some(c)) = classifying.next().now_or_never() {
                if let Classified::Close(code, reason) = c {
                    why = ConnectionError::ApplicationClosed { code, reason };
                    break;
                }
            }
            why
        }
    };
    state.send_if_modified(|s| {
        if s.is_none() {
            *s = Some(why);
            true
        } else {
            false
        }
    });
    stats.forget();
    drop(classifying);
    drop(conn);
    let _ = idle.send(true);
}

fn lost(e: yamux::ConnectionError) -> ConnectionError {
    match e {
        yamux::ConnectionError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            ConnectionError::TimedOut
        }
        other => ConnectionError::Lost(other.to_string()),
    }
}

async fn close_with_notice(conn: &mut yamux::Connection<Io>, code: u32, reason: Vec<u8>) {
    if let Ok(mut s) = std::future::poll_fn(|cx| conn.poll_new_outbound(cx)).await {
        let mut notice = Vec::with_capacity(5 + reason.len());
        notice.push(KIND_CLOSE);
        notice.extend_from_slice(&code.to_be_bytes());
        notice.extend_from_slice(&reason[..reason.len().min(MAX_REASON as usize)]);
        let _ = s.write_all(&notice).await;
        let _ = s.close().await;
    }
    let _ = std::future::poll_fn(|cx| conn.poll_close(cx)).await;
}

/// The sending half of a TCP stream.
pub(crate) struct TcpSend {
    w: Option<WriteHalf<yamux::Stream>>,
    /// One-way streams: the backward direction, where a reader says "stop".
    back: Option<ReadHalf<yamux::Stream>>,
    state: watch::Receiver<Option<ConnectionError>>,
    /// `finish` started closing but could not complete at once.
    finishing: bool,
    stopped: Option<u64>,
    _guard: Arc<Guard>,
    /// The connection's count of bytes handed to yamux.
    written: Arc<std::sync::atomic::AtomicU64>,
}

impl TcpSend {
    fn new(
        w: WriteHalf<yamux::Stream>,
        back: Option<ReadHalf<yamux::Stream>>,
        state: watch::Receiver<Option<ConnectionError>>,
        guard: Arc<Guard>,
        written: Arc<std::sync::atomic::AtomicU64>,
    ) -> Self {
        TcpSend {
            w: Some(w),
            back,
            state,
            finishing: false,
            stopped: None,
            _guard: guard,
            written,
        }
    }

    pub async fn write_all(&mut self, buf: &[u8]) -> Result<(), WriteError> {
        if let Some(code) = self.stopped {
            return Err(WriteError::Stopped(code));
        }
        if self.finishing {
            return Err(WriteError::ClosedStream);
        }
        let w = self.w.as_mut().ok_or(WriteError::ClosedStream)?;
        let mut state = self.state.clone();
        let back = &mut self.back;
        let result = tokio::select! {
            biased;
            e = gone(&mut state) => Err(WriteError::ConnectionLost(e)),
            code = stop_code(back) => Err(WriteError::Stopped(code)),
            r = w.write_all(buf) => r.map_err(|_| WriteError::Stopped(0)),
        };
        match result {
            Ok(()) => {
                self.written
                    .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Err(WriteError::Stopped(code)) => self.stopped = Some(code),
            Err(_) => {}
        }
        result
    }

    pub fn finish(&mut self) -> Result<(), WriteError> {
        let Some(w) = self.w.as_mut() else {
            return Err(WriteError::ClosedStream);
        };
        if self.finishing {
            return Ok(());
        }
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match Pin::new(w).poll_close(&mut cx) {
            Poll::Ready(_) => {}
            Poll::Pending => self.finishing = true,
        }
        Ok(())
    }

    pub fn reset(&mut self) {
        // Both halves gone while the stream is open: yamux resets it.
        self.w = None;
        self.back = None;
    }

    pub async fn stopped(&mut self) -> Result<Option<u64>, ConnectionError> {
        if let Some(code) = self.stopped {
            return Ok(Some(code));
        }
        let mut state = self.state.clone();
        if self.finishing
            && let Some(w) = self.w.as_mut()
        {
            tokio::select! {
                e = gone(&mut state) => return Err(e),
                _ = w.close() => self.finishing = false,
            }
        }
        let Some(back) = self.back.as_mut() else {
            return Ok(None);
        };
        let mut code = [0u8; 4];
        tokio::select! {
            e = gone(&mut state) => Err(e),
            r = back.read_exact(&mut code) => Ok(r.ok().map(|()| u64::from(u32::from_be_bytes(code)))),
        }
    }
}

/// Waits for a reader's "stop" on the backward direction of a one-way stream (its end without
/// a code counts as stop 0); never, where there is none.
async fn stop_code(back: &mut Option<ReadHalf<yamux::Stream>>) -> u64 {
    let Some(back) = back.as_mut() else {
        return std::future::pending().await;
    };
    let mut code = [0u8; 4];
    match back.read_exact(&mut code).await {
        Ok(()) => u64::from(u32::from_be_bytes(code)),
        Err(_) => 0,
    }
}

impl Drop for TcpSend {
    fn drop(&mut self) {
        // Dropping means finishing, as with QUIC: whatever was written still arrives.
        let Some(mut w) = self.w.take() else {
            return;
        };
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        if Pin::new(&mut w).poll_close(&mut cx).is_pending()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let back = self.back.take();
            rt.spawn(async move {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, w.close()).await;
                drop(back);
            });
        }
    }
}

/// The receiving half of a TCP stream.
pub(crate) struct TcpRecv {
    r: Option<ReadHalf<yamux::Stream>>,
    /// One-way streams: the backward direction, to say "stop".
    back: Option<WriteHalf<yamux::Stream>>,
    state: watch::Receiver<Option<ConnectionError>>,
    _guard: Arc<Guard>,
}

impl TcpRecv {
    fn new(
        r: ReadHalf<yamux::Stream>,
        back: Option<WriteHalf<yamux::Stream>>,
        state: watch::Receiver<Option<ConnectionError>>,
        guard: Arc<Guard>,
    ) -> Self {
        TcpRecv {
            r: Some(r),
            back,
            state,
            _guard: guard,
        }
    }

    pub async fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        let r = self.r.as_mut().ok_or(ReadError::ClosedStream)?;
        let mut state = self.state.clone();
        let n = tokio::select! {
            biased;
            r = r.read(buf) => r.map_err(|e| ReadError::ConnectionLost(ConnectionError::Lost(e.to_string())))?,
            e = gone(&mut state) => return Err(ReadError::ConnectionLost(e)),
        };
        if n > 0 || buf.is_empty() {
            return Ok(Some(n));
        }
        // yamux ends a stream the same way when the peer finished it, reset it, or the
        // connection went away; only the last is an error here.
        tokio::task::yield_now().await;
        if let Some(e) = self.state.borrow().clone() {
            return Err(ReadError::ConnectionLost(e));
        }
        Ok(None)
    }

    pub fn stop(&mut self, code: u32) {
        if let Some(mut back) = self.back.take() {
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            let bytes = code.to_be_bytes();
            if let Poll::Ready(Ok(4)) = Pin::new(&mut back).poll_write(&mut cx, &bytes) {
                let _ = Pin::new(&mut back).poll_close(&mut cx);
            }
        }
        self.r = None;
    }
}

/// Applies the transport settings to a fresh TCP connection.
fn tune(tcp: &TcpStream, cfg: &NetConfig) {
    let _ = tcp.set_nodelay(true);
    let sock = socket2::SockRef::from(tcp);
    let every = (cfg.idle_timeout / 4).max(Duration::from_secs(1));
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(every)
        .with_interval(every);
    #[cfg(unix)]
    let keepalive = keepalive.with_retries(3);
    let _ = sock.set_tcp_keepalive(&keepalive);
    #[cfg(target_os = "linux")]
    let _ = sock.set_tcp_user_timeout(Some(cfg.idle_timeout));
}

/// Connects over TLS on TCP to `addr` with the client's TLS configuration (pin verifier and
/// ALPN as for QUIC).
pub(crate) async fn connect(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    cfg: &NetConfig,
) -> Result<TcpConnection, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tune(&tcp, cfg);
    let stats = Stats::of(&tcp);
    let name = rustls::pki_types::ServerName::try_from(crate::endpoint::SERVER_NAME)
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    if tls.get_ref().1.alpn_protocol() != Some(lotse_proto::ALPN) {
        return Err("the relay does not speak Lotse on TCP".into());
    }
    Ok(TcpConnection::start(
        tokio_rustls::TlsStream::Client(tls),
        yamux::Mode::Client,
        addr,
        stats,
    ))
}

/// The relay's side of a TCP connection that has been accepted: the TLS handshake (bounded
/// by `handshake`), then multiplexing.
pub async fn accept(
    tcp: TcpStream,
    acceptor: &tokio_rustls::TlsAcceptor,
    cfg: &NetConfig,
    handshake: Duration,
) -> Result<crate::Connection, String> {
    let remote = tcp.peer_addr().map_err(|e| e.to_string())?;
    tune(&tcp, cfg);
    let stats = Stats::of(&tcp);
    let tls = tokio::time::timeout(handshake, acceptor.accept(tcp))
        .await
        .map_err(|_| "TLS handshake took too long".to_owned())?
        .map_err(|e| e.to_string())?;
    finish_accept(tokio_rustls::TlsStream::Server(tls), remote, stats)
}

/// Like [`accept`] for a TLS connection already established elsewhere (a listener that
/// shares its port with the portal and chose by ALPN).
pub fn accept_established(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    cfg: &NetConfig,
) -> Result<crate::Connection, String> {
    let tcp = tls.get_ref().0;
    let remote = tcp.peer_addr().map_err(|e| e.to_string())?;
    tune(tcp, cfg);
    let stats = Stats::of(tcp);
    finish_accept(tokio_rustls::TlsStream::Server(tls), remote, stats)
}

fn finish_accept(
    tls: tokio_rustls::TlsStream<TcpStream>,
    remote: SocketAddr,
    stats: Stats,
) -> Result<crate::Connection, String> {
    if tls.get_ref().1.alpn_protocol() != Some(lotse_proto::ALPN) {
        return Err("the peer does not speak Lotse".into());
    }
    Ok(crate::Connection(crate::conn::Inner::Tcp(
        TcpConnection::start(tls, yamux::Mode::Server, remote, stats),
    )))
}
