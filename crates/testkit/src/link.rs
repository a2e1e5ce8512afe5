//! A link emulator for tests and benchmarks (issue 18): a user-space UDP forwarder on loopback
//! that gives each direction a bandwidth cap with a bounded queue, a one-way delay, jitter and
//! random loss — seeded, so that a run repeats packet for packet. This kernel has no netem; a
//! forwarder also needs no privileges and works for QUIC as it is.
//!
//! Clients send to [`Link::addr`]; each client address gets a socket of its own towards the
//! upstream server, so the server sees one peer per client, as through a NAT. Packets are never
//! reordered (jitter delays a packet and those behind it), as on a single path.
//!
//! [`TcpLink`] does the same for TCP (the relay's fallback): a forwarder whose directions pass
//! bytes at the cap after the delay, holding at most the queue; when the queue is full it stops
//! reading, and TCP's flow control (the forwarder's sockets keep small buffers) makes the
//! sender's kernel hold what the path cannot carry, as a congested bottleneck makes TCP do.
//! Loss and jitter do not apply: TCP hides a lost segment as delay, which the delay models.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What one direction of the link does to packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Bits per second; `None`: no cap.
    pub rate_bps: Option<u64>,
    /// Bytes that may wait for the cap before packets are dropped (a router's queue).
    pub queue_bytes: usize,
    /// One-way delay added to every packet.
    pub delay: Duration,
    /// Up to this much more, uniformly at random, per packet.
    pub jitter: Duration,
    /// Probability that a packet is lost, 0.0 … 1.0.
    pub loss: f64,
}

impl Shape {
    /// A clean, unlimited direction.
    pub const CLEAN: Shape = Shape {
        rate_bps: None,
        queue_bytes: 64 * 1024,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss: 0.0,
    };

    /// A direction capped at `mbit_s` with `delay_ms` of one-way delay and `loss` (0.0 … 1.0);
    /// its queue holds 50 ms at the cap (at least 16 kB).
    pub fn capped(mbit_s: f64, delay_ms: u64, loss: f64) -> Shape {
        let rate = (mbit_s * 1_000_000.0) as u64;
        Shape {
            rate_bps: Some(rate),
            queue_bytes: ((rate / 8 / 20) as usize).max(16 * 1024),
            delay: Duration::from_millis(delay_ms),
            jitter: Duration::ZERO,
            loss,
        }
    }
}

/// What went through, per direction (client → server is "up").
#[derive(Debug, Default)]
pub struct LinkStats {
    pub up_packets: AtomicU64,
    /// Bytes of the packets carried up (UDP payload, QUIC's headers included).
    pub up_bytes: AtomicU64,
    pub up_lost: AtomicU64,
    pub up_queue_drops: AtomicU64,
    pub down_packets: AtomicU64,
    pub down_lost: AtomicU64,
    pub down_queue_drops: AtomicU64,
}

/// A running link; stops when dropped.
#[derive(Debug)]
pub struct Link {
    /// Where clients send.
    pub addr: SocketAddr,
    pub stats: Arc<LinkStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// splitmix64: small, seeded, the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One direction's state: when its "wire" is free again, what waits, and the dice.
struct Lane {
    shape: Shape,
    rng: Rng,
    busy_until: Instant,
    last_release: Instant,
    /// (release time, bytes) of what is queued for the cap, oldest first.
    queued: std::collections::VecDeque<(Instant, usize)>,
}

/// What becomes of a packet.
enum Fate {
    Lost,
    QueueFull,
    At(Instant),
}

impl Lane {
    fn new(shape: Shape, seed: u64) -> Lane {
        let now = Instant::now();
        Lane {
            shape,
            rng: Rng::new(seed),
            busy_until: now,
            last_release: now,
            queued: std::collections::VecDeque::new(),
        }
    }

    fn admit(&mut self, now: Instant, len: usize) -> Fate {
        // The dice are thrown for every packet in order, whatever else happens to it, so that
        // the same packets are lost on every run.
        let lost = self.rng.unit() < self.shape.loss;
        let jitter = self.shape.jitter.mul_f64(self.rng.unit());
        let mut sent = now;
        if let Some(rate) = self.shape.rate_bps {
            while self.queued.front().is_some_and(|(t, _)| *t <= now) {
                self.queued.pop_front();
            }
            let waiting: usize = self.queued.iter().map(|(_, b)| b).sum();
            if waiting + len > self.shape.queue_bytes {
                return Fate::QueueFull;
            }
            let start = self.busy_until.max(now);
            let on_wire = Duration::from_nanos(len as u64 * 8 * 1_000_000_000 / rate.max(1));
            self.busy_until = start + on_wire;
            self.queued.push_back((self.busy_until, len));
            sent = self.busy_until;
        }
        if lost {
            return Fate::Lost;
        }
        let release = (sent + self.shape.delay + jitter).max(self.last_release);
        self.last_release = release;
        Fate::At(release)
    }
}

/// Room for bursts in the kernel's buffers (its default holds under a hundred 1 kB datagrams).
fn big_buffers(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 4 * 1024 * 1024;
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: a valid socket and a c_int option value of the stated length.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// Sends what it is given at its release time, in order.
fn spawn_sender(
    socket: Arc<UdpSocket>,
    to: Option<SocketAddr>,
) -> mpsc::UnboundedSender<(Instant, Vec<u8>)> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    tokio::spawn(async move {
        while let Some((at, packet)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            let _ = match to {
                Some(to) => socket.send_to(&packet, to).await,
                None => socket.send(&packet).await,
            };
        }
    });
    tx
}

impl Link {
    /// A link on 127.0.0.1 towards `upstream`, shaped `up` (client → server) and `down`.
    pub async fn start(
        upstream: SocketAddr,
        up: Shape,
        down: Shape,
        seed: u64,
    ) -> std::io::Result<Link> {
        let front = UdpSocket::bind("127.0.0.1:0").await?;
        big_buffers(&front);
        let front = Arc::new(front);
        let addr = front.local_addr()?;
        let stats = Arc::new(LinkStats::default());
        let st = stats.clone();
        let task = tokio::spawn(async move {
            let mut up_lane = Lane::new(up, seed);
            let down_lane = Arc::new(std::sync::Mutex::new(Lane::new(down, seed ^ 0x5eed_d0e5)));
            let mut clients: HashMap<SocketAddr, mpsc::UnboundedSender<(Instant, Vec<u8>)>> =
                HashMap::new();
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = front.recv_from(&mut buf).await else {
                    continue;
                };
                let now = Instant::now();
                let to_server = match clients.get(&from) {
                    Some(tx) => tx.clone(),
                    None => {
                        let Ok(back) = UdpSocket::bind("127.0.0.1:0").await else {
                            continue;
                        };
                        big_buffers(&back);
                        if back.connect(upstream).await.is_err() {
                            continue;
                        }
                        let back = Arc::new(back);
                        let tx = spawn_sender(back.clone(), None);
                        // The server's answers to this client, shaped `down`.
                        let to_client = spawn_sender(front.clone(), Some(from));
                        let (lane, st) = (down_lane.clone(), st.clone());
                        tokio::spawn(async move {
                            let mut buf = vec![0u8; 65_536];
                            while let Ok(n) = back.recv(&mut buf).await {
                                let fate = lane
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .admit(Instant::now(), n);
                                match fate {
                                    Fate::Lost => st.down_lost.fetch_add(1, Ordering::Relaxed),
                                    Fate::QueueFull => {
                                        st.down_queue_drops.fetch_add(1, Ordering::Relaxed)
                                    }
                                    Fate::At(at) => {
                                        let _ = to_client.send((at, buf[..n].to_vec()));
                                        st.down_packets.fetch_add(1, Ordering::Relaxed)
                                    }
                                };
                            }
                        });
                        clients.insert(from, tx.clone());
                        tx
                    }
                };
                match up_lane.admit(now, n) {
                    Fate::Lost => st.up_lost.fetch_add(1, Ordering::Relaxed),
                    Fate::QueueFull => st.up_queue_drops.fetch_add(1, Ordering::Relaxed),
                    Fate::At(at) => {
                        let _ = to_server.send((at, buf[..n].to_vec()));
                        st.up_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        st.up_packets.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
        Ok(Link { addr, stats, task })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UDP server that answers every packet with the same bytes and records what came.
    async fn echo() -> (SocketAddr, Arc<std::sync::Mutex<Vec<u32>>>) {
        let (addr, seen, _) = echo_timed().await;
        (addr, seen)
    }

    /// Like [`echo`], also recording when each packet arrived.
    async fn echo_timed() -> (
        SocketAddr,
        Arc<std::sync::Mutex<Vec<u32>>>,
        Arc<std::sync::Mutex<Vec<Instant>>>,
    ) {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = s.local_addr().unwrap();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let when = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (got, at) = (seen.clone(), when.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                if n >= 4 {
                    got.lock()
                        .unwrap()
                        .push(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
                    at.lock().unwrap().push(Instant::now());
                }
                let _ = s.send_to(&buf[..n], from).await;
            }
        });
        (addr, seen, when)
    }

    async fn send_all(link: &Link, count: u32, size: usize, every: Duration) -> Vec<Duration> {
        let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.connect(link.addr).await.unwrap();
        let c = Arc::new(c);
        let sent_at = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let (rc, st) = (c.clone(), sent_at.clone());
        let reader = tokio::spawn(async move {
            let mut rtts = Vec::new();
            let mut buf = [0u8; 2048];
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(800), rc.recv(&mut buf)).await
            {
                if n >= 4 {
                    let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                    if let Some(t) = st.lock().unwrap().get(&seq) {
                        rtts.push(Instant::now() - *t);
                    }
                }
            }
            rtts
        });
        for seq in 0..count {
            let mut p = vec![0u8; size];
            p[..4].copy_from_slice(&seq.to_be_bytes());
            sent_at.lock().unwrap().insert(seq, Instant::now());
            c.send(&p).await.unwrap();
            if !every.is_zero() {
                tokio::time::sleep(every).await;
            }
        }
        reader.await.unwrap()
    }

    #[tokio::test]
    async fn delay_and_loss_are_applied_and_repeat_with_the_seed() {
        let mut runs = Vec::new();
        for _ in 0..2 {
            let (server, seen) = echo().await;
            let shape = Shape {
                delay: Duration::from_millis(15),
                loss: 0.1,
                ..Shape::CLEAN
            };
            let link = Link::start(server, shape, shape, 42).await.unwrap();
            let rtts = send_all(&link, 400, 100, Duration::from_micros(500)).await;
            let arrived = seen.lock().unwrap().clone();
            // About 10 % lost on the way up, about 19 % of round trips.
            assert!((320..=400).contains(&arrived.len()), "{}", arrived.len());
            assert!((270..=360).contains(&rtts.len()), "{}", rtts.len());
            assert!(
                rtts.iter().all(|r| *r >= Duration::from_millis(30)),
                "a round trip faster than both delays"
            );
            assert_eq!(
                link.stats.up_lost.load(Ordering::Relaxed) as usize,
                400 - arrived.len()
            );
            runs.push(arrived);
        }
        assert_eq!(runs[0], runs[1], "the same seed lost other packets");
    }

    #[tokio::test]
    async fn the_cap_paces_packets_and_a_full_queue_drops_them() {
        let (server, seen, when) = echo_timed().await;
        // 1 Mbit/s with a 16 kB queue: 1000-byte packets leave every 8 ms.
        let up = Shape::capped(1.0, 0, 0.0);
        let link = Link::start(server, up, Shape::CLEAN, 7).await.unwrap();
        // 100 packets at once: 16 fit the queue, the rest are dropped.
        let _ = send_all(&link, 100, 1000, Duration::ZERO).await;
        let arrived = seen.lock().unwrap().len();
        let drops = link.stats.up_queue_drops.load(Ordering::Relaxed) as usize;
        assert_eq!(arrived + drops, 100);
        assert!((15..=20).contains(&arrived), "{arrived} passed the queue");
        let when = when.lock().unwrap().clone();
        let spread = *when.last().unwrap() - when[0];
        assert!(
            spread >= Duration::from_millis(8 * (arrived as u64 - 1)) * 9 / 10,
            "{arrived} packets within {spread:?}: not paced at 1 Mbit/s"
        );
        // Sent at the cap's pace, all get through.
        let (server, seen) = echo().await;
        let link = Link::start(server, up, Shape::CLEAN, 7).await.unwrap();
        let _ = send_all(&link, 50, 1000, Duration::from_millis(9)).await;
        assert_eq!(seen.lock().unwrap().len(), 50);
        assert_eq!(link.stats.up_queue_drops.load(Ordering::Relaxed), 0);
    }
}

/// A TCP forwarder on 127.0.0.1 towards an upstream server, each direction passed at a cap after
/// a delay (see the module's notes); stops when dropped.
#[derive(Debug)]
pub struct TcpLink {
    /// Where clients connect.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TcpLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Socket buffers of the forwarder's own sockets: small, so that what the path cannot take
/// stays with the sender instead of in loopback buffers.
const TCP_LINK_BUFFER: usize = 16 * 1024;

impl TcpLink {
    /// A link towards `upstream`, shaped `up` (client → server) and `down`.
    pub async fn start(upstream: SocketAddr, up: Shape, down: Shape) -> std::io::Result<TcpLink> {
        let front = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        // Set before listening, so that accepted sockets start with it (the receive window).
        front.set_recv_buffer_size(TCP_LINK_BUFFER)?;
        front.set_reuse_address(true)?;
        front.bind(
            &"127.0.0.1:0"
                .parse::<SocketAddr>()
                .map_err(std::io::Error::other)?
                .into(),
        )?;
        front.listen(64)?;
        front.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(front.into())?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                conns.spawn(async move {
                    let Ok(server) = connect_small(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    small_buffers(&client);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pass(cr, sw, up), pass(sr, cw, down));
                });
            }
        });
        Ok(TcpLink { addr, task })
    }
}

async fn connect_small(to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpSocket::new_v4()?;
    s.set_recv_buffer_size(TCP_LINK_BUFFER as u32)?;
    s.set_send_buffer_size(TCP_LINK_BUFFER as u32)?;
    s.connect(to).await
}

fn small_buffers(s: &tokio::net::TcpStream) {
    let r = socket2::SockRef::from(s);
    let _ = r.set_recv_buffer_size(TCP_LINK_BUFFER);
    let _ = r.set_send_buffer_size(TCP_LINK_BUFFER);
}

/// One direction: reads while the queue has room, releases each piece when the cap and the
/// delay allow, and ends the write side when the read side ends.
async fn pass(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shape: Shape,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    // Bytes read and not yet released: what the bottleneck's queue holds.
    let queued = Arc::new(AtomicU64::new(0));
    let room = Arc::new(tokio::sync::Notify::new());
    // The far end: each piece written when its delay is over.
    let (delayed_tx, mut delayed) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let far = tokio::spawn(async move {
        while let Some((at, piece)) = delayed.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&piece).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    });
    // The wire: one piece after the other at the cap; a piece leaves the queue when it is sent.
    let writer = {
        let (queued, room) = (queued.clone(), room.clone());
        tokio::spawn(async move {
            let mut wire_free = Instant::now();
            while let Some((arrived, piece)) = rx.recv().await {
                let start = wire_free.max(arrived);
                let on_wire = shape.rate_bps.map_or(Duration::ZERO, |bps| {
                    Duration::from_secs_f64(piece.len() as f64 * 8.0 / bps as f64)
                });
                wire_free = start + on_wire;
                tokio::time::sleep_until(wire_free).await;
                queued.fetch_sub(piece.len() as u64, Ordering::Relaxed);
                room.notify_one();
                if delayed_tx.send((wire_free + shape.delay, piece)).is_err() {
                    return;
                }
            }
            drop(delayed_tx);
            let _ = far.await;
        })
    };
    let limit = shape.queue_bytes.max(1) as u64;
    // Pieces no larger than a few packets, so the cap paces them finely.
    let mut buf = vec![0u8; 4096];
    loop {
        while queued.load(Ordering::Relaxed) >= limit {
            room.notified().await;
        }
        let Ok(n) = from.read(&mut buf).await else {
            break;
        };
        if n == 0 {
            break;
        }
        queued.fetch_add(n as u64, Ordering::Relaxed);
        if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}
