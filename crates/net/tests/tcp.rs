//! The TCP fallback against a real TLS-over-TCP server on loopback: the stream semantics the
//! roles rely on (as QUIC gives them), closing with a reason, the pin, the receive bound, and
//! choosing the transport.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lotse_net::{
    Connection, ConnectionError, Endpoints, NetConfig, Pin, ReadError, Transport, TransportChoice,
    WriteError, connect, generate_identity, read_msg, write_msg,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(20);

fn tcp_only() -> NetConfig {
    NetConfig {
        transport: TransportChoice::Tcp,
        ..NetConfig::default()
    }
}

/// A TLS-over-TCP server with a fresh identity; every accepted connection goes to the channel.
async fn server() -> (SocketAddr, Pin, mpsc::Receiver<Connection>) {
    let (cert, key) = generate_identity(vec!["relay.lotse".into()]).unwrap();
    let pin = Pin::of_certificate(&cert).unwrap();
    let acceptor = lotse_net::tcp_acceptor(&cert, &key).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let cfg = NetConfig::default();
                if let Ok(c) =
                    lotse_net::tcp::accept(tcp, &acceptor, &cfg, Duration::from_secs(5)).await
                {
                    let _ = tx.send(c).await;
                }
            });
        }
    });
    (addr, pin, rx)
}

async fn pair() -> (Connection, Connection) {
    let (addr, pin, mut accepted) = server().await;
    let client = connect(addr, pin, &tcp_only()).await.unwrap();
    let served = tokio::time::timeout(DEADLINE, accepted.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.transport(), Transport::Tcp);
    assert_eq!(served.transport(), Transport::Tcp);
    (client, served)
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, f).await.expect("in time")
}

#[tokio::test]
async fn streams_both_ways_carry_messages_and_end_cleanly() {
    let (client, served) = pair().await;
    // Two-way, opened by the client (the hello's way).
    let (mut send, mut recv) = client.open_bi().await.unwrap();
    write_msg(&mut send, &"hello".to_owned(), 64).await.unwrap();
    let (mut back, mut theirs) = within(served.accept_bi()).await.unwrap();
    let got: Option<String> = within(read_msg(&mut theirs, 64)).await.unwrap();
    assert_eq!(got.as_deref(), Some("hello"));
    write_msg(&mut back, &"welcome".to_owned(), 64)
        .await
        .unwrap();
    let got: Option<String> = within(read_msg(&mut recv, 64)).await.unwrap();
    assert_eq!(got.as_deref(), Some("welcome"));
    // One-way, opened by the server (the relay's video to a rep), 3 MB in pieces, then the end.
    let mut out = served.open_uni().await.unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = big.clone();
    let writer = tokio::spawn(async move {
        for piece in sent.chunks(100_000) {
            out.write_all(piece).await.unwrap();
        }
        out.finish().unwrap();
        // Read to the end and let go: `stopped` says delivered, not stopped.
        within(out.stopped()).await
    });
    let mut inc = within(client.accept_uni()).await.unwrap();
    let all = within(inc.read_to_end(4_000_000)).await.unwrap();
    assert!(
        all == big,
        "the bytes arrived changed ({} bytes)",
        all.len()
    );
    drop(inc);
    assert_eq!(writer.await.unwrap().unwrap(), None);
}

#[tokio::test]
async fn a_stopped_stream_fails_the_writer_with_the_code() {
    let (client, served) = pair().await;
    let mut out = client.open_uni().await.unwrap();
    out.write_all(b"first").await.unwrap();
    let mut inc = within(served.accept_uni()).await.unwrap();
    let mut five = [0u8; 5];
    within(inc.read_exact(&mut five)).await.unwrap();
    inc.stop(7).unwrap();
    // The writer learns it, even while it has credit left (no blocked write needed).
    let end = Instant::now() + DEADLINE;
    let err = loop {
        match out.write_all(&[0u8; 1000]).await {
            Ok(()) => assert!(Instant::now() < end, "writes kept succeeding"),
            Err(e) => break e,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(matches!(err, WriteError::Stopped(7)), "{err:?}");
    assert_eq!(within(out.stopped()).await.unwrap(), Some(7));
}

#[tokio::test]
async fn a_writer_blocked_on_a_full_window_learns_of_the_stop() {
    let (client, served) = pair().await;
    let mut out = client.open_uni().await.unwrap();
    out.write_all(b"x").await.unwrap();
    let mut inc = within(served.accept_uni()).await.unwrap();
    let mut one = [0u8; 1];
    within(inc.read_exact(&mut one)).await.unwrap();
    // Fill the stream's window: the next write waits for credit that never comes.
    let blocked = tokio::spawn(async move {
        loop {
            if let Err(e) = out.write_all(&[0u8; 64 * 1024]).await {
                return e;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !blocked.is_finished(),
        "a full window should block the writer"
    );
    inc.stop(3).unwrap();
    let err = within(blocked).await.unwrap();
    assert!(matches!(err, WriteError::Stopped(3)), "{err:?}");
}

#[tokio::test]
async fn a_reset_stream_ends_for_the_reader_without_a_clean_message() {
    let (client, served) = pair().await;
    let mut out = client.open_uni().await.unwrap();
    // Half a message (a length prefix promising 100 bytes, then 10), then reset.
    out.write_all(&100u32.to_be_bytes()).await.unwrap();
    out.write_all(&[1u8; 10]).await.unwrap();
    let mut inc = within(served.accept_uni()).await.unwrap();
    let mut ten = [0u8; 14];
    within(inc.read_exact(&mut ten)).await.unwrap();
    out.reset(7).unwrap();
    let rest = within(inc.read(&mut [0u8; 16])).await;
    assert!(matches!(rest, Ok(None)), "{rest:?}");
}

#[tokio::test]
async fn closing_tells_the_peer_code_and_reason_and_ends_its_streams() {
    let (client, served) = pair().await;
    let (mut send, _recv) = client.open_bi().await.unwrap();
    send.write_all(b"x").await.unwrap();
    let (_back, mut theirs) = within(served.accept_bi()).await.unwrap();
    let mut one = [0u8; 1];
    within(theirs.read_exact(&mut one)).await.unwrap();
    // A read waiting on the server's side, and a waiting accept, both end.
    let reader = tokio::spawn(async move { theirs.read(&mut [0u8; 8]).await });
    let served2 = served.clone();
    let accepting = tokio::spawn(async move { served2.accept_uni().await.map(|_| ()) });
    client.close(3, b"no hello in time");
    assert_eq!(
        client.close_reason(),
        Some(ConnectionError::LocallyClosed),
        "our own close is known at once"
    );
    let why = within(served.closed()).await;
    assert_eq!(
        why,
        ConnectionError::ApplicationClosed {
            code: 3,
            reason: b"no hello in time".to_vec()
        }
    );
    let read = within(reader).await.unwrap();
    assert!(
        matches!(read, Err(ReadError::ConnectionLost(_)) | Ok(None)),
        "{read:?}"
    );
    assert!(within(accepting).await.unwrap().is_err());
    // Nothing more can be opened, on either side.
    assert!(client.open_uni().await.is_err());
    assert!(served.open_uni().await.is_err());
    within(client.wait_idle()).await;
}

#[tokio::test]
async fn dropping_every_handle_closes_the_connection() {
    let (client, served) = pair().await;
    drop(client);
    let why = within(served.closed()).await;
    assert!(
        matches!(why, ConnectionError::ApplicationClosed { code: 0, .. }),
        "{why:?}"
    );
}

#[tokio::test]
async fn a_vanished_peer_ends_the_connection_as_lost() {
    // The client reaches the server through a forwarder; the forwarder then vanishes (its
    // sockets closed without any notice of ours), as a relay process that is killed.
    let (addr, pin, mut accepted) = server().await;
    let hop = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hop_addr = hop.local_addr().unwrap();
    let forward = tokio::spawn(async move {
        let (mut a, _) = hop.accept().await.unwrap();
        let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
    });
    let client = connect(hop_addr, pin, &tcp_only()).await.unwrap();
    let _served = within(accepted.recv()).await.unwrap();
    let (_send, mut recv) = client.open_bi().await.unwrap();
    let reader = tokio::spawn(async move { recv.read(&mut [0u8; 8]).await });
    forward.abort();
    let why = within(client.closed()).await;
    assert!(matches!(why, ConnectionError::Lost(_)), "{why:?}");
    let read = within(reader).await.unwrap();
    assert!(
        matches!(read, Err(ReadError::ConnectionLost(_))),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_peer_cannot_make_us_hold_more_than_the_receive_window() {
    let (client, served) = pair().await;
    let chunk = vec![0u8; 256 * 1024];
    let mut sent = 0usize;
    let mut streams = Vec::new();
    // Each stream until its window is full, then the next, until a fresh stream takes
    // nothing more: the server reads nothing at all.
    for _ in 0..80 {
        let Ok(mut s) = client.open_uni().await else {
            break;
        };
        let mut took = 0;
        for _ in 0..8 {
            match tokio::time::timeout(Duration::from_millis(200), s.write_all(&chunk)).await {
                Ok(Ok(())) => took += chunk.len(),
                _ => break,
            }
        }
        sent += took;
        streams.push(s);
        if took == 0 {
            break;
        }
    }
    assert!(
        sent <= 17 * 1024 * 1024,
        "the peer accepted {sent} unread bytes"
    );
    drop(served);
}

#[tokio::test]
async fn a_wrong_pin_over_tcp_names_both_pins() {
    let (addr, real, _accepted) = server().await;
    let wrong = Pin::of_spki(b"somebody else");
    match connect(addr, wrong, &tcp_only()).await {
        Err(Endpoints::PinMismatch(m)) => {
            assert_eq!(m.expected, wrong);
            assert_eq!(m.received, real);
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn without_udp_the_client_falls_back_to_tcp_and_prefers_quic_otherwise() {
    // Only TCP listens: the QUIC attempt gets no answer, TCP is tried after `fallback_after`.
    let (addr, pin, _accepted) = server().await;
    let cfg = NetConfig {
        fallback_after: Duration::from_millis(300),
        ..NetConfig::default()
    };
    let started = Instant::now();
    let conn = connect(addr, pin, &cfg).await.unwrap();
    assert_eq!(conn.transport(), Transport::Tcp);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "TCP was tried before QUIC had its chance"
    );
    // QUIC and TCP both listen: QUIC is used.
    let (cert, key) = generate_identity(vec!["relay.lotse".into()]).unwrap();
    let pin = Pin::of_certificate(&cert).unwrap();
    let quic =
        lotse_net::server_endpoint("127.0.0.1:0".parse().unwrap(), &cert, &key, &cfg).unwrap();
    let qaddr = quic.local_addr().unwrap();
    let tcp = tokio::net::TcpListener::bind(qaddr).await.unwrap();
    tokio::spawn(async move {
        while let Some(inc) = quic.accept().await {
            tokio::spawn(async move {
                if let Ok(c) = inc.await {
                    c.closed().await;
                }
            });
        }
    });
    let conn = connect(qaddr, pin, &cfg).await.unwrap();
    assert_eq!(conn.transport(), Transport::Quic);
    drop(tcp);
    // A wrong pin over QUIC is not retried over TCP.
    let wrong = Pin::of_spki(b"somebody else");
    assert!(matches!(
        connect(qaddr, wrong, &cfg).await,
        Err(Endpoints::PinMismatch(_))
    ));
}

#[tokio::test]
async fn more_streams_than_yamux_allows_wait_for_room_and_the_connection_lives() {
    let (client, served) = pair().await;
    // The server takes every stream and keeps it.
    let held_in = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = held_in.clone();
    let srv = served.clone();
    tokio::spawn(async move {
        while let Ok(s) = srv.accept_uni().await {
            keep.lock().await.push(s);
        }
    });
    // Open streams until one has to wait (yamux would end the whole connection if asked for
    // one over its maximum).
    let mut held_out = Vec::new();
    let waiting = loop {
        let c = client.clone();
        let open = tokio::spawn(async move {
            let mut s = c.open_uni().await?;
            s.write_all(b"x")
                .await
                .map_err(|e| ConnectionError::Lost(e.to_string()))?;
            Ok::<_, ConnectionError>(s)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        if !open.is_finished() {
            break open;
        }
        held_out.push(open.await.unwrap().unwrap());
        assert!(held_out.len() < 200, "opening never waited");
    };
    assert!(
        held_out.len() >= 32,
        "only {} streams at once",
        held_out.len()
    );
    assert!(client.close_reason().is_none());
    assert!(served.close_reason().is_none());
    // One ends: the waiting open goes through.
    held_out.pop();
    held_in.lock().await.pop();
    let s = within(waiting).await.unwrap();
    assert!(s.is_ok(), "{:?}", s.err());
    assert!(client.close_reason().is_none());
}

/// A QUIC server endpoint with a fresh identity behind a link shaped `shape` both ways; clients
/// connect to the link's address with the pin and the QUIC-only config.
async fn quic_behind_link(
    shape: lotse_testkit::link::Shape,
    seed: u64,
) -> (quinn::Endpoint, lotse_testkit::link::Link, Pin, NetConfig) {
    let (cert, key) = generate_identity(vec!["relay.lotse".into()]).unwrap();
    let pin = Pin::of_certificate(&cert).unwrap();
    let cfg = NetConfig {
        transport: TransportChoice::Quic,
        ..NetConfig::default()
    };
    let server =
        lotse_net::server_endpoint("127.0.0.1:0".parse().unwrap(), &cert, &key, &cfg).unwrap();
    let link = lotse_testkit::link::Link::start(server.local_addr().unwrap(), shape, shape, seed)
        .await
        .unwrap();
    (server, link, pin, cfg)
}

/// The link emulator of the test kit carries QUIC: through 20 ms each way and 5 % loss both
/// ways, 1 MB arrives whole, and QUIC's round trip sees the delay.
#[tokio::test]
async fn quic_through_a_lossy_delayed_link() {
    use lotse_testkit::link::Shape;
    let shape = Shape {
        delay: Duration::from_millis(20),
        loss: 0.05,
        ..Shape::CLEAN
    };
    let (server, link, pin, cfg) = quic_behind_link(shape, 1).await;
    let receiver = tokio::spawn(async move {
        let conn: Connection = server.accept().await.unwrap().await.unwrap().into();
        let mut s = conn.accept_uni().await.unwrap();
        s.read_to_end(2_000_000).await.unwrap()
    });
    let conn = within(connect(link.addr, pin, &cfg)).await.unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut s = conn.open_uni().await.unwrap();
    s.write_all(&data).await.unwrap();
    s.finish().unwrap();
    let got = within(receiver).await.unwrap();
    assert!(got == data, "{} bytes arrived changed", got.len());
    assert!(conn.rtt() >= Duration::from_millis(35), "{:?}", conn.rtt());
    assert!(
        link.stats
            .up_lost
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
}

/// Writes `len` bytes on a new stream of a QUIC connection through a 2 Mbit/s link and says how
/// long `write_all` took; the far end reads everything.
async fn write_through_thin_link(limit: Option<u64>, len: usize) -> Duration {
    use lotse_testkit::link::Shape;
    let shape = Shape {
        queue_bytes: 256 * 1024,
        ..Shape::capped(2.0, 10, 0.0)
    };
    let (server, link, pin, cfg) = quic_behind_link(shape, 7).await;
    let receiver = tokio::spawn(async move {
        let conn: Connection = server.accept().await.unwrap().await.unwrap().into();
        let mut s = conn.accept_uni().await.unwrap();
        s.read_to_end(len + 1).await.unwrap().len()
    });
    let conn = within(connect(link.addr, pin, &cfg)).await.unwrap();
    if let Some(extra) = limit {
        conn.limit_send_backlog(extra);
    }
    let mut s = conn.open_uni().await.unwrap();
    let began = Instant::now();
    within(s.write_all(&vec![7u8; len])).await.unwrap();
    let took = began.elapsed();
    s.finish().unwrap();
    assert_eq!(within(receiver).await.unwrap(), len);
    took
}

/// With the send backlog limited, a writer faster than the path waits for it (so that video
/// captured later is not queued behind seconds of older frames); without, QUIC's buffer takes
/// everything at once.
#[tokio::test]
async fn a_limited_send_backlog_makes_the_writer_wait_for_a_thin_link() {
    // 300 kB at 2 Mbit/s (250 kB/s) take over a second on the wire.
    let unlimited = write_through_thin_link(None, 300_000).await;
    let limited = write_through_thin_link(Some(24 * 1024), 300_000).await;
    // Limited, the write ends only when all but about 24 kB + the congestion window are
    // through: ≥ 0.9 s at the cap; unlimited, QUIC's buffer takes it at once.
    assert!(
        limited > Duration::from_millis(600),
        "with the limit the write returned after {limited:?}: nothing held it back"
    );
    assert!(
        unlimited * 3 < limited,
        "without a limit the write waited {unlimited:?} (limited: {limited:?})"
    );
}

/// Writes 16 pieces of 20 kB ("frames") over TCP through a 2 Mbit/s link as fast as the writer
/// may — awaiting `backlog_room` before each — and returns the longest time from handing a
/// piece over to its arrival.
async fn frame_latency_over_tcp(limit: Option<u64>) -> Duration {
    use lotse_testkit::link::{Shape, TcpLink};
    const FRAME: usize = 20_000;
    const FRAMES: usize = 16;
    let (addr, pin, mut accepted) = server().await;
    let shape = Shape::capped(2.0, 10, 0.0);
    let link = TcpLink::start(addr, shape, shape).await.unwrap();
    let client = within(connect(link.addr, pin, &tcp_only())).await.unwrap();
    let served = within(accepted.recv()).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut s = served.accept_uni().await.unwrap();
        let mut arrived = Vec::new();
        let mut buf = vec![0u8; FRAME];
        for _ in 0..FRAMES {
            let mut got = 0;
            while got < FRAME {
                got += s.read(&mut buf[got..]).await.unwrap().unwrap();
            }
            arrived.push(Instant::now());
        }
        arrived
    });
    if let Some(extra) = limit {
        client.limit_send_backlog(extra);
    }
    let mut s = client.open_uni().await.unwrap();
    let mut handed = Vec::new();
    for i in 0..FRAMES {
        within(client.backlog_room()).await;
        handed.push(Instant::now());
        within(s.write_all(&vec![i as u8; FRAME])).await.unwrap();
    }
    let arrived = within(reader).await.unwrap();
    let _ = s.finish();
    handed
        .iter()
        .zip(&arrived)
        .map(|(h, a)| a.duration_since(*h))
        .max()
        .unwrap()
}

/// Over TCP, yamux's, TLS's and the kernel's buffers take a writer's bytes at once, so on a thin
/// link a video frame waits behind seconds of older ones. With the backlog limited and the
/// writer awaiting `backlog_room` before each frame (as the customer's video does), a frame
/// waits only for what little is ahead of it. Through the test kit's TCP link emulator.
#[tokio::test]
async fn over_tcp_a_limited_backlog_keeps_frames_from_queueing_behind_each_other() {
    // 320 kB at 2 Mbit/s (250 kB/s): 1.3 s on the wire.
    let unlimited = frame_latency_over_tcp(None).await;
    let limited = frame_latency_over_tcp(Some(24 * 1024)).await;
    assert!(
        limited < Duration::from_millis(700),
        "with the limit a frame still waited {limited:?}"
    );
    assert!(
        unlimited > limited * 2,
        "without the limit the longest wait was {unlimited:?} (limited: {limited:?})"
    );
    eprintln!("longest frame wait over TCP: unlimited {unlimited:?}, limited {limited:?}");
}

/// The test kit's TCP link emulator passes bytes at its cap after its delay, both ways.
#[tokio::test]
async fn the_tcp_link_emulator_caps_and_delays() {
    use lotse_testkit::link::{Shape, TcpLink};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = echo.accept().await.unwrap();
        let (mut r, mut w) = s.into_split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    // 4 Mbit/s (500 kB/s), 40 ms each way.
    let shape = Shape::capped(4.0, 40, 0.0);
    let link = TcpLink::start(upstream, shape, shape).await.unwrap();
    let mut s = within(tokio::net::TcpStream::connect(link.addr))
        .await
        .unwrap();
    s.set_nodelay(true).unwrap();
    let began = Instant::now();
    s.write_all(b"ping").await.unwrap();
    let mut b = [0u8; 4];
    within(s.read_exact(&mut b)).await.unwrap();
    let rtt = began.elapsed();
    assert!(
        (Duration::from_millis(80)..Duration::from_millis(400)).contains(&rtt),
        "round trip {rtt:?}"
    );
    // 400 kB there and back: at least 0.8 s at the cap, with the two directions overlapping
    // (the upper bound only says the cap is not far lower; generous for a busy machine).
    let data: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = s.into_split();
    let began = Instant::now();
    let sent = data.clone();
    let writer = tokio::spawn(async move { w.write_all(&sent).await });
    let mut back = vec![0u8; data.len()];
    within(r.read_exact(&mut back)).await.unwrap();
    let took = began.elapsed();
    within(writer).await.unwrap().unwrap();
    assert!(back == data, "bytes changed on the way");
    assert!(
        (Duration::from_millis(800)..Duration::from_secs(6)).contains(&took),
        "400 kB at 4 Mbit/s took {took:?}"
    );
}
