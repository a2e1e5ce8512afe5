//! The relay's share of consent, attacked over real QUIC on loopback: customer files go only to
//! reps holding `files`, input queued before a revoke is not delivered after it, one input stream
//! per rep with one rate limit, and streams a role may not open are refused before anything is
//! buffered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use lotse_net::Connection;
use lotse_net::{read_msg, write_msg};
use lotse_proto::Tier;
use lotse_proto::frame::limits;
use lotse_proto::input::InputEvent;
use lotse_proto::msg::{
    ClipContent, CustomerDown, CustomerUp, FileFrame, RepDown, RepUp, Role, StreamHeader,
    VideoFrame,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::*;
use tokio::sync::mpsc;

/// Everything that arrives on the uni streams the relay opens to `conn`: each stream's header,
/// then (for file streams) its frames.
fn collect_streams(conn: Connection) -> (mpsc::UnboundedReceiver<Arrived>, Arc<AtomicUsize>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let streams = Arc::new(AtomicUsize::new(0));
    let count = streams.clone();
    tokio::spawn(async move {
        while let Ok(mut s) = conn.accept_uni().await {
            count.fetch_add(1, Ordering::SeqCst);
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(Some(header)) =
                    read_msg::<StreamHeader>(&mut s, limits::STREAM_HEADER).await
                else {
                    return;
                };
                let _ = tx.send(Arrived::Header);
                match header {
                    StreamHeader::File { .. } => {
                        while let Ok(Some(f)) =
                            read_msg::<FileFrame>(&mut s, limits::FILE_CHUNK + 64).await
                        {
                            let _ = tx.send(Arrived::File(f));
                        }
                    }
                    StreamHeader::Input { .. } => {
                        while let Ok(Some(ev)) = read_msg::<InputEvent>(&mut s, limits::INPUT).await
                        {
                            let _ = tx.send(Arrived::Input(ev));
                        }
                    }
                    StreamHeader::Video => {
                        while let Ok(Some(f)) = read_msg::<VideoFrame>(&mut s, limits::VIDEO).await
                        {
                            let _ = tx.send(Arrived::Video(f.seq, f.data.len()));
                        }
                    }
                    StreamHeader::Clipboard { rep } => {
                        if let Ok(Some(c)) =
                            read_msg::<ClipContent>(&mut s, limits::CLIPBOARD).await
                        {
                            let _ = tx.send(Arrived::Clip(rep, c));
                        }
                    }
                }
            });
        }
    });
    (rx, streams)
}

#[derive(Debug)]
enum Arrived {
    Header,
    File(FileFrame),
    Input(InputEvent),
    Clip(u64, ClipContent),
    /// A video frame's number and size.
    Video(u64, usize),
}

/// A second rep (`bob`) joins the session with a code from its owner, allowed to ask for all.
async fn join_bob(relay: &TestRelay, s: &mut Session) -> Rep {
    share_with(relay, s, "bob", &Tier::ALL).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_files_reach_only_reps_holding_files_and_the_audit_names_them() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    let mut bob = join_bob(&relay, &mut s).await;
    grant(&mut s.rep, &mut s.customer, Tier::Files).await;
    let (mut to_ada, _) = collect_streams(s.rep.peer.conn.clone());
    let (_to_bob, bob_streams) = collect_streams(bob.peer.conn.clone());

    // The customer sends a file; only ada holds `files`.
    let bytes = b"private notes".to_vec();
    s.customer
        .say(&CustomerUp::SendFile {
            transfer: 1,
            name: "notes.txt".into(),
            size: bytes.len() as u64,
        })
        .await;
    let mut out = s.customer.conn.open_uni().await.unwrap();
    write_msg(
        &mut out,
        &StreamHeader::File {
            rep: 0,
            transfer: 1,
        },
        limits::STREAM_HEADER,
    )
    .await
    .unwrap();
    write_msg(
        &mut out,
        &FileFrame::Chunk(bytes.clone()),
        limits::FILE_CHUNK + 64,
    )
    .await
    .unwrap();
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    write_msg(
        &mut out,
        &FileFrame::End { sha256 },
        limits::FILE_CHUNK + 64,
    )
    .await
    .unwrap();
    out.finish().unwrap();

    // Ada gets it whole.
    let mut got = Vec::new();
    loop {
        let a = tokio::time::timeout(DEADLINE, to_ada.recv())
            .await
            .expect("ada received the file in time")
            .unwrap();
        match a {
            Arrived::File(FileFrame::Chunk(b)) => got.extend(b),
            Arrived::File(FileFrame::End { .. }) => break,
            _ => {}
        }
    }
    assert_eq!(got, bytes);
    let done = relay
        .wait_audit("file.done", |a| a.starts_with("file.done"))
        .await;
    assert!(done.contains(r#"to=["ada"]"#), "{done}");

    // Bob heard nothing of it: a chat line sent afterwards arrives with no offer before it.
    s.customer
        .say(&CustomerUp::Chat {
            text: "after".into(),
        })
        .await;
    let (_, before) = bob
        .until("chat", |m| {
            matches!(m, RepDown::Chat { text, .. } if text == "after").then_some(())
        })
        .await;
    assert!(
        !before
            .iter()
            .any(|m| matches!(m, RepDown::FileIncoming { .. })),
        "bob was offered the customer's file without `files`: {before:#?}"
    );
    assert_eq!(
        bob_streams.load(Ordering::SeqCst),
        0,
        "a stream reached bob"
    );
    let offer = relay
        .wait_audit("file.offer", |a| a.starts_with("file.offer"))
        .await;
    assert!(offer.contains(r#"to=["ada"]"#), "{offer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_file_with_no_rep_holding_files_is_refused() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    let (_to_ada, ada_streams) = collect_streams(s.rep.peer.conn.clone());
    s.customer
        .say(&CustomerUp::SendFile {
            transfer: 1,
            name: "notes.txt".into(),
            size: 3,
        })
        .await;
    let (reason, _) = s
        .customer
        .hear_until("file cancelled", |m: &CustomerDown| match m {
            CustomerDown::FileCancelled {
                rep: None,
                transfer: 1,
                reason,
            } => Some(*reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, lotse_proto::msg::TransferStop::NotAllowed);
    s.customer
        .say(&CustomerUp::Chat {
            text: "after".into(),
        })
        .await;
    let (_, before) = s
        .rep
        .until("chat", |m| {
            matches!(m, RepDown::Chat { text, .. } if text == "after").then_some(())
        })
        .await;
    assert!(
        !before
            .iter()
            .any(|m| matches!(m, RepDown::FileIncoming { .. })),
        "{before:#?}"
    );
    assert_eq!(ada_streams.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_queued_before_a_revoke_is_not_delivered_after_it() {
    let relay = TestRelay::start().await;
    // The customer grants the relay only a small window on each stream and does not read its
    // input stream yet: whatever does not fit waits in the relay's queue.
    let how = How {
        stream_window: Some(2048),
        ..How::default()
    };
    let customer = Peer::hello(&relay, Role::Customer, how).await;
    let mut s = Session::start_as(&relay, customer).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    grant(&mut s.rep, &mut s.customer, Tier::Control).await;

    // What the customer had received before any input (sampled first: the input may fill the
    // window before the test looks again).
    let start = s.customer.conn.as_quic().unwrap().stats().udp_rx.bytes;
    let mut input = s.rep.peer.conn.open_uni().await.unwrap();
    write_msg(
        &mut input,
        &StreamHeader::Input { rep: s.rep.id },
        limits::STREAM_HEADER,
    )
    .await
    .unwrap();
    const SENT: usize = 480;
    for i in 0..SENT {
        let ev = InputEvent::Key {
            usage: 4 + (i % 20) as u16,
            down: true,
        };
        write_msg(&mut input, &ev, limits::INPUT).await.unwrap();
    }
    // Wait until the customer's window is full: the rest now waits at the relay.
    let end = tokio::time::Instant::now() + DEADLINE;
    while s.customer.conn.as_quic().unwrap().stats().udp_rx.bytes < start + 2048 {
        assert!(
            tokio::time::Instant::now() < end,
            "no input reached the customer"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Revoke, and wait until the relay has acted on it.
    s.customer
        .say(&CustomerUp::Revoke {
            rep: s.rep.id,
            tier: Tier::Control,
        })
        .await;
    s.rep
        .until("revoked", |m| {
            matches!(
                m,
                RepDown::Revoked {
                    tier: Tier::Control
                }
            )
            .then_some(())
        })
        .await;

    // Now read everything the relay sends on the input stream.
    let mut stream = tokio::time::timeout(DEADLINE, s.customer.conn.accept_uni())
        .await
        .unwrap()
        .unwrap();
    let header: StreamHeader = read_msg(&mut stream, limits::STREAM_HEADER)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(header, StreamHeader::Input { .. }));
    let mut delivered = 0usize;
    while let Ok(Some(_)) =
        tokio::time::timeout(DEADLINE, read_msg::<InputEvent>(&mut stream, limits::INPUT))
            .await
            .expect("the relay ended the input stream in time")
    {
        delivered += 1;
    }
    // A key event here is 3 bytes of postcard plus the 4-byte prefix: the 2 KiB window held at
    // most 292 of them (written before the revoke), and one more may have been on its way.
    let fit = 2048 / 7;
    assert!(
        delivered <= fit + 1,
        "{delivered} of {SENT} queued events were delivered after the revoke"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_input_stream_from_the_same_rep_is_refused() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    grant(&mut s.rep, &mut s.customer, Tier::Control).await;
    let (mut arrived, _) = collect_streams(s.customer.conn.clone());

    let open = |usage: u16| {
        let conn = s.rep.peer.conn.clone();
        let rep = s.rep.id;
        async move {
            let mut st = conn.open_uni().await.unwrap();
            write_msg(&mut st, &StreamHeader::Input { rep }, limits::STREAM_HEADER)
                .await
                .unwrap();
            // The second stream may be stopped before its event is written.
            match write_msg(
                &mut st,
                &InputEvent::Key { usage, down: true },
                limits::INPUT,
            )
            .await
            {
                Err(lotse_net::NetError::Write(e)) => written_or_refused(Err(e)),
                r => r.unwrap(),
            }
            st
        }
    };
    let first = open(4).await;
    // The first stream works.
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, arrived.recv()).await.unwrap() {
            Some(Arrived::Input(InputEvent::Key { usage: 4, .. })) => break,
            Some(_) => {}
            None => panic!("no input arrived"),
        }
    }
    // A second one at the same time is stopped by the relay, and nothing on it arrives.
    let mut second = open(5).await;
    let stopped = tokio::time::timeout(DEADLINE, second.stopped())
        .await
        .expect("the relay refused the second input stream");
    assert!(matches!(stopped, Ok(Some(_))), "{stopped:?}");
    // The first still works, and what went on the second never arrived before it.
    let mut first = first;
    write_msg(
        &mut first,
        &InputEvent::Key {
            usage: 6,
            down: true,
        },
        limits::INPUT,
    )
    .await
    .unwrap();
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, arrived.recv()).await.unwrap() {
            Some(Arrived::Input(InputEvent::Key { usage: 6, .. })) => break,
            Some(Arrived::Input(InputEvent::Key { usage: 5, .. })) => {
                panic!("input on a second stream was delivered")
            }
            Some(_) => {}
            None => panic!("input stream ended"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_input_rate_limit_holds_per_rep_across_streams() {
    const BURST: usize = 100;
    let relay = TestRelay::start_with(|c| {
        c.input_rate = 5.0;
        c.input_burst = BURST as f64;
    })
    .await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    grant(&mut s.rep, &mut s.customer, Tier::Control).await;
    let (mut arrived, _) = collect_streams(s.customer.conn.clone());
    let conn = s.rep.peer.conn.clone();
    let rep = s.rep.id;
    let t0 = tokio::time::Instant::now();
    let mut presses = 0usize;
    // Stream after stream, each with a full burst; each stream ends before the next opens.
    for round in 0..3u16 {
        let mut st = admitted_input(&conn, rep, &mut arrived, 50 + round, &mut presses).await;
        for _ in 0..BURST {
            let ev = InputEvent::Key {
                usage: 4 + round,
                down: true,
            };
            write_msg(&mut st, &ev, limits::INPUT).await.unwrap();
        }
        st.finish().unwrap();
    }
    // A last stream's marker comes after everything sent before it.
    let _last = admitted_input(&conn, rep, &mut arrived, 99, &mut presses).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let allowed = BURST as f64 + 5.0 * elapsed + 1.0;
    assert!(
        (presses as f64) <= allowed,
        "{presses} events passed in {elapsed:.1} s; one rep may send {allowed:.0}"
    );
}

/// Opens an input stream as soon as the relay admits one (the previous one may still be
/// closing), proved by a key release `marker` (releases always pass the flood limit) reaching
/// the customer. Counts the key presses that arrive meanwhile.
async fn admitted_input(
    conn: &Connection,
    rep: u64,
    arrived: &mut mpsc::UnboundedReceiver<Arrived>,
    marker: u16,
    presses: &mut usize,
) -> lotse_net::SendStream {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut st = conn.open_uni().await.unwrap();
        let up = InputEvent::Key {
            usage: marker,
            down: false,
        };
        let wrote = write_msg(&mut st, &StreamHeader::Input { rep }, limits::STREAM_HEADER)
            .await
            .is_ok()
            && write_msg(&mut st, &up, limits::INPUT).await.is_ok();
        let admitted = wrote
            && loop {
                let got = tokio::select! {
                    a = arrived.recv() => Some(a.expect("input ended")),
                    _ = st.stopped() => None,
                    _ = tokio::time::sleep_until(end) => panic!("no input stream was admitted"),
                };
                match got {
                    None => break false,
                    Some(Arrived::Input(InputEvent::Key { usage, down: false }))
                        if usage == marker =>
                    {
                        break true;
                    }
                    Some(Arrived::Input(InputEvent::Key { down: true, .. })) => *presses += 1,
                    Some(_) => {}
                }
            };
        if admitted {
            return st;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "no input stream was admitted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A write on a stream the relay is about to refuse: the relay may stop the stream before
/// these bytes are written, and then the write says `Stopped`, which is the refusal itself
/// (any other error is not). The caller then waits for the stop.
fn written_or_refused(r: Result<(), lotse_net::WriteError>) {
    match r {
        Ok(()) | Err(lotse_net::WriteError::Stopped(_)) => {}
        Err(e) => panic!("the write failed otherwise: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_from_a_customer_outside_a_session_is_refused_before_buffering() {
    let relay = TestRelay::start().await;
    let c = Peer::customer(&relay).await;
    let mut video = c.conn.open_uni().await.unwrap();
    write_msg(&mut video, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    // The start of an 8 MiB frame: the relay must not wait for (and hold) the rest.
    written_or_refused(video.write_all(&(limits::VIDEO as u32).to_be_bytes()).await);
    written_or_refused(video.write_all(&[0u8; 1000]).await);
    let stopped = tokio::time::timeout(DEADLINE, video.stopped())
        .await
        .expect("the relay refused the video stream");
    assert!(matches!(stopped, Ok(Some(_))), "{stopped:?}");
}

/// The customer's frames `seqs` (the first a keyframe), `bytes` each, written in one go: the
/// relay reads them from one buffer, as after a retransmission on a thin link.
async fn burst(stream: &mut lotse_net::SendStream, seqs: std::ops::Range<u64>, bytes: usize) {
    let mut buf = Vec::new();
    for seq in seqs.clone() {
        let frame = VideoFrame {
            seq,
            captured_us: 0,
            width: 2,
            height: 2,
            keyframe: seq == seqs.start,
            data: vec![seq as u8; bytes],
        };
        buf.extend(lotse_proto::frame::encode(&frame, limits::VIDEO).unwrap());
    }
    stream.write_all(&buf).await.unwrap();
}

/// Until the rep's chat line `mark` reaches the customer: the keyframe requests heard before it.
async fn keyframe_requests_until(s: &mut Session, mark: &str) -> usize {
    s.rep.say(&RepUp::Chat { text: mark.into() }).await;
    let (_, before) = s
        .customer
        .hear_until(mark, |m: &CustomerDown| {
            matches!(m, CustomerDown::Chat { text, .. } if text == mark).then_some(())
        })
        .await;
    before
        .iter()
        .filter(|m| matches!(m, CustomerDown::KeyframeRequest))
        .count()
}

/// Twenty small frames at once (stripes of a screen, held behind a retransmission) all reach
/// the viewer, and nobody asks for a keyframe: the viewer's queue is bounded in bytes as well
/// as frames, and 4 frames were too few (the first four passed, the rest cost a keyframe).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_small_frames_reaches_the_viewer_whole() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    let (mut to_rep, _) = collect_streams(s.rep.peer.conn.clone());
    keyframe_requests_until(&mut s, "before").await;
    let mut video = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut video, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    burst(&mut video, 0..20, 2000).await;
    let mut seqs = Vec::new();
    while seqs.len() < 20 {
        match tokio::time::timeout(DEADLINE, to_rep.recv()).await {
            Ok(Some(Arrived::Video(seq, len))) => {
                assert_eq!(len, 2000);
                seqs.push(seq);
            }
            Ok(Some(_)) => {}
            other => panic!("frames {seqs:?} arrived, then {other:?}"),
        }
    }
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
    assert_eq!(keyframe_requests_until(&mut s, "after").await, 0);
}

/// A viewer who reads nothing cannot make the relay queue more than `VIDEO_QUEUE_BYTES` (4 MiB)
/// of video for it (beyond the frame its writer holds and what QUIC's flow control lets into the
/// stream): twelve frames of 1 MiB — the seventh is the first too many, far fewer than the 32
/// frames the count allows — overflow the viewer's queue, and the relay drops the rest and asks
/// the customer for a keyframe (the viewer needs one to go on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_who_reads_nothing_gets_at_most_four_mib_queued_at_the_relay() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    // The rep accepts no stream: what its connection's flow control lets through (1.25 MB per
    // stream) and one frame in the relay's writer are all that leave the queue.
    let heard = keyframe_requests_until(&mut s, "before").await;
    // The relay asks for a keyframe at most every 250 ms (KEYFRAME_INTERVAL); one asked for at
    // the grant must not hide the one this test waits for. A lower bound, not a wait for a
    // condition: a slower machine only makes it longer.
    if heard > 0 {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut video = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut video, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    burst(&mut video, 0..12, 1 << 20).await;
    // Without the byte bound all twelve would wait in the queue, nothing would be dropped and
    // no keyframe asked for: this times out.
    s.customer
        .hear_until("a keyframe request", |m: &CustomerDown| {
            matches!(m, CustomerDown::KeyframeRequest).then_some(())
        })
        .await;
    assert!(s.customer.conn.close_reason().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_video_stream_in_a_session_is_refused() {
    let relay = TestRelay::start().await;
    second_video_stream_refused(&relay, How::default()).await;
}

/// A session whose customer connects `how`, `view` granted: the customer's first video stream
/// reaches the rep, a second one is stopped by the relay, and the first keeps working.
async fn second_video_stream_refused(relay: &TestRelay, how: How) -> Session {
    let customer = Peer::hello(relay, Role::Customer, how).await;
    let mut s = Session::start_as(relay, customer).await;
    grant(&mut s.rep, &mut s.customer, Tier::View).await;
    let (mut to_rep, _) = collect_streams(s.rep.peer.conn.clone());
    let frame = VideoFrame {
        seq: 0,
        captured_us: 0,
        width: 2,
        height: 2,
        keyframe: true,
        data: vec![1, 2, 3],
    };
    let mut first = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut first, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    write_msg(&mut first, &frame, limits::VIDEO).await.unwrap();
    // The first stream is admitted once its frame reaches the viewer.
    let a = tokio::time::timeout(DEADLINE, to_rep.recv())
        .await
        .expect("the first stream's video reached the rep");
    assert!(matches!(a, Some(Arrived::Header)), "{a:?}");
    let mut second = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut second, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    // The relay may stop the stream as soon as it has read the header, before this write
    // returns: that is the same refusal, seen by the writer.
    written_or_refused(
        second
            .write_all(&(limits::VIDEO as u32).to_be_bytes())
            .await,
    );
    let stopped = tokio::time::timeout(DEADLINE, second.stopped())
        .await
        .expect("the relay refused the second video stream");
    assert!(matches!(stopped, Ok(Some(_))), "{stopped:?}");
    // The first keeps working.
    write_msg(&mut first, &frame, limits::VIDEO).await.unwrap();
    assert!(s.customer.conn.close_reason().is_none());
    s
}

/// A customer opens an input stream (only reps send input): the relay closes its connection
/// with the reason.
async fn customer_input_closes(conn: &Connection) {
    let mut bad = conn.open_uni().await.unwrap();
    write_msg(
        &mut bad,
        &StreamHeader::Input { rep: 1 },
        limits::STREAM_HEADER,
    )
    .await
    .unwrap();
    let why = closed(conn).await;
    assert!(why.contains("unexpected stream"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_streams_from_customers_and_video_streams_from_reps_are_refused() {
    let relay = TestRelay::start().await;
    let s = Session::start(&relay).await;
    customer_input_closes(&s.customer.conn).await;
    let mut bad = s.rep.peer.conn.open_uni().await.unwrap();
    write_msg(&mut bad, &StreamHeader::Video, limits::STREAM_HEADER)
        .await
        .unwrap();
    let why = closed(&s.rep.peer.conn).await;
    assert!(
        why.contains("unexpected stream") || why.contains("closed"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stream_for_one_file_is_refused() {
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    grant(&mut s.rep, &mut s.customer, Tier::Files).await;
    let (mut to_ada, ada_streams) = collect_streams(s.rep.peer.conn.clone());
    s.customer
        .say(&CustomerUp::SendFile {
            transfer: 1,
            name: "notes.txt".into(),
            size: 10,
        })
        .await;
    let header = StreamHeader::File {
        rep: 0,
        transfer: 1,
    };
    let chunk = FileFrame::Chunk(b"hello".to_vec());
    let mut first = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut first, &header, limits::STREAM_HEADER)
        .await
        .unwrap();
    write_msg(&mut first, &chunk, limits::FILE_CHUNK + 64)
        .await
        .unwrap();
    // The first is flowing once its bytes reach the rep.
    loop {
        match tokio::time::timeout(DEADLINE, to_ada.recv())
            .await
            .expect("the first stream reached the rep")
        {
            Some(Arrived::File(FileFrame::Chunk(_))) => break,
            Some(_) => {}
            None => panic!("nothing reached the rep"),
        }
    }
    // The same transfer again on another stream: refused before anything is passed on.
    let mut second = s.customer.conn.open_uni().await.unwrap();
    write_msg(&mut second, &header, limits::STREAM_HEADER)
        .await
        .unwrap();
    match write_msg(&mut second, &chunk, limits::FILE_CHUNK + 64).await {
        Err(lotse_net::NetError::Write(e)) => written_or_refused(Err(e)),
        r => r.unwrap(),
    }
    let stopped = tokio::time::timeout(DEADLINE, second.stopped())
        .await
        .expect("the relay refused the second stream for one file");
    assert!(matches!(stopped, Ok(Some(_))), "{stopped:?}");
    assert_eq!(ada_streams.load(Ordering::SeqCst), 1);
}

/// The system report: a rep's request without `sysinfo` is refused and never reaches the
/// customer; a report (from a hostile customer, say) goes to no rep without `sysinfo`; with it,
/// to that rep only, and the audit log records that it went, never what it said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_reports_reach_only_the_rep_holding_sysinfo_and_the_audit_keeps_no_content() {
    use lotse_proto::msg::Refusal;
    use lotse_proto::sysinfo::SystemReport;
    let relay = TestRelay::start().await;
    let mut s = Session::start(&relay).await;
    let mut bob = join_bob(&relay, &mut s).await;
    let report = Box::new(SystemReport {
        host: "secret-host".into(),
        user: "secret-user".into(),
        ..Default::default()
    });

    // Before any grant: refused, and the customer hears nothing of it.
    s.rep.say(&RepUp::SysinfoRequest).await;
    s.rep
        .until("refusal", |m| {
            matches!(
                m,
                RepDown::Refused {
                    what: Refusal::NotGranted(Tier::Sysinfo)
                }
            )
            .then_some(())
        })
        .await;
    // A report nobody allowed is dropped.
    s.customer
        .say(&CustomerUp::Sysinfo {
            rep: s.rep.id,
            report: report.clone(),
        })
        .await;
    s.customer
        .say(&CustomerUp::Chat {
            text: "marker 1".into(),
        })
        .await;
    let (_, before) = s
        .rep
        .until("marker 1", |m| {
            matches!(m, RepDown::Chat { text, .. } if text == "marker 1").then_some(())
        })
        .await;
    assert!(
        !before.iter().any(|m| matches!(m, RepDown::Sysinfo { .. })),
        "{before:#?}"
    );

    // Granted to ada: her request reaches the customer, the report reaches her.
    grant(&mut s.rep, &mut s.customer, Tier::Sysinfo).await;
    s.rep.say(&RepUp::SysinfoRequest).await;
    let ada = s.rep.id;
    let (_, heard) = s
        .customer
        .hear_until("sysinfo request", |m: &CustomerDown| {
            matches!(m, CustomerDown::SysinfoRequest { rep } if *rep == ada).then_some(())
        })
        .await;
    assert!(
        !heard
            .iter()
            .any(|m| matches!(m, CustomerDown::SysinfoRequest { .. })),
        "the refused request reached the customer: {heard:#?}"
    );
    s.customer
        .say(&CustomerUp::Sysinfo {
            rep: ada,
            report: report.clone(),
        })
        .await;
    let (got, _) = s
        .rep
        .until("report", |m| match m {
            RepDown::Sysinfo { report } => Some(report.clone()),
            _ => None,
        })
        .await;
    assert_eq!(got, report);
    let sent = relay
        .wait_audit("sysinfo.sent", |a| a.starts_with("sysinfo.sent"))
        .await;
    assert!(sent.contains("to=rep:ada"), "{sent}");
    assert!(!sent.contains("secret"), "the audit keeps content: {sent}");

    // Bob holds no `sysinfo`: his request is refused, a report addressed to him is dropped.
    bob.say(&RepUp::SysinfoRequest).await;
    bob.until("refusal", |m| {
        matches!(
            m,
            RepDown::Refused {
                what: Refusal::NotGranted(Tier::Sysinfo)
            }
        )
        .then_some(())
    })
    .await;
    s.customer
        .say(&CustomerUp::Sysinfo {
            rep: bob.id,
            report,
        })
        .await;
    s.customer
        .say(&CustomerUp::Chat {
            text: "marker 2".into(),
        })
        .await;
    let (_, before) = bob
        .until("marker 2", |m| {
            matches!(m, RepDown::Chat { text, .. } if text == "marker 2").then_some(())
        })
        .await;
    assert!(
        !before.iter().any(|m| matches!(m, RepDown::Sysinfo { .. })),
        "{before:#?}"
    );
    let rows = relay.audit().await;
    assert_eq!(
        rows.iter()
            .filter(|a| a.starts_with("sysinfo.sent"))
            .count(),
        1,
        "{rows:#?}"
    );
}

/// Sends one clipboard content on a fresh stream of `conn`.
async fn send_clip(conn: &Connection, content: &ClipContent) {
    let mut out = conn.open_uni().await.unwrap();
    write_msg(
        &mut out,
        &StreamHeader::Clipboard { rep: 0 },
        limits::STREAM_HEADER,
    )
    .await
    .unwrap();
    let _ = write_msg(&mut out, content, limits::CLIPBOARD).await;
    let _ = out.finish();
}

/// The next clipboard content arriving in `rx`, if one comes within `wait`.
async fn next_clip(
    rx: &mut mpsc::UnboundedReceiver<Arrived>,
    wait: Duration,
) -> Option<(u64, ClipContent)> {
    let end = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(end, rx.recv()).await {
            Ok(Some(Arrived::Clip(rep, c))) => return Some((rep, c)),
            Ok(Some(_)) => {}
            _ => return None,
        }
    }
}

/// The clipboard through the relay: nothing crosses before the grant (either way), the
/// customer's copy reaches only reps holding `clipboard`, a rep's paste reaches the customer
/// stamped with that rep, pictures must be PNG, content over the configured size is refused, a
/// revoke stops it, and the audit log names kind, size and who — never the content.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clipboard_crosses_only_while_granted_and_the_audit_keeps_no_content() {
    let relay = TestRelay::start_with(|c| c.max_clipboard = 1024 * 1024).await;
    let mut s = Session::start(&relay).await;
    let bob = join_bob(&relay, &mut s).await;
    let (mut to_ada, _) = collect_streams(s.rep.peer.conn.clone());
    let (mut to_bob, _) = collect_streams(bob.peer.conn.clone());
    let (mut to_customer, _) = collect_streams(s.customer.conn.clone());
    let secret = ClipContent::Text("Passwort: hunter2 äöü".into());
    let short = Duration::from_millis(500);

    // Before any grant: neither way.
    send_clip(&s.customer.conn, &secret).await;
    send_clip(&s.rep.peer.conn, &secret).await;
    assert!(next_clip(&mut to_ada, short).await.is_none());
    assert!(next_clip(&mut to_customer, short).await.is_none());

    // Ada holds clipboard (with control and view); Bob does not.
    for tier in [Tier::View, Tier::Control, Tier::Clipboard] {
        grant(&mut s.rep, &mut s.customer, tier).await;
    }
    send_clip(&s.customer.conn, &secret).await;
    assert_eq!(
        next_clip(&mut to_ada, DEADLINE).await,
        Some((0, secret.clone()))
    );
    assert!(
        next_clip(&mut to_bob, short).await.is_none(),
        "bob got the customer's clipboard"
    );

    // Ada pastes text and a picture: the customer gets them, stamped with ada.
    let png = {
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        p.extend(std::iter::repeat_n(7u8, 300_000));
        ClipContent::Png(p)
    };
    send_clip(&s.rep.peer.conn, &ClipContent::Text("ls -la".into())).await;
    assert_eq!(
        next_clip(&mut to_customer, DEADLINE).await,
        Some((s.rep.id, ClipContent::Text("ls -la".into())))
    );
    send_clip(&s.rep.peer.conn, &png).await;
    assert_eq!(
        next_clip(&mut to_customer, DEADLINE).await,
        Some((s.rep.id, png))
    );
    // Not a PNG, or over the relay's 1 MiB: dropped.
    send_clip(&s.rep.peer.conn, &ClipContent::Png(b"GIF89a".to_vec())).await;
    send_clip(
        &s.rep.peer.conn,
        &ClipContent::Text("x".repeat(1024 * 1024 + 1)),
    )
    .await;
    assert!(next_clip(&mut to_customer, short).await.is_none());
    // Bob may not paste.
    send_clip(&bob.peer.conn, &ClipContent::Text("rm -rf".into())).await;
    assert!(next_clip(&mut to_customer, short).await.is_none());

    // The customer takes clipboard back: nothing more either way.
    s.customer
        .say(&CustomerUp::Revoke {
            rep: s.rep.id,
            tier: Tier::Clipboard,
        })
        .await;
    s.rep
        .until("revoked", |m| {
            matches!(
                m,
                RepDown::Revoked {
                    tier: Tier::Clipboard
                }
            )
            .then_some(())
        })
        .await;
    send_clip(&s.customer.conn, &secret).await;
    send_clip(&s.rep.peer.conn, &secret).await;
    assert!(next_clip(&mut to_ada, short).await.is_none());
    assert!(next_clip(&mut to_customer, short).await.is_none());

    let rows = relay.audit().await;
    let clips: Vec<&String> = rows
        .iter()
        .filter(|a| a.starts_with("clipboard."))
        .collect();
    assert_eq!(clips.len(), 3, "{rows:#?}");
    assert!(
        clips[0].contains("kind=text") && clips[0].contains(r#"to=["ada"]"#),
        "{clips:?}"
    );
    assert!(
        clips
            .iter()
            .all(|a| !a.contains("hunter2") && !a.contains("ls -la")),
        "{clips:?}"
    );
}

/// Issue 17: a customer on the TCP fallback meets the same relay rules as over QUIC — its video
/// reaches the viewing rep, a second video stream is stopped (the stop crosses TCP as a code),
/// and a stream it may not open closes its connection with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_the_same_stream_rules_hold() {
    let relay = TestRelay::start().await;
    let tcp = How {
        tcp: true,
        ..How::default()
    };
    let s = second_video_stream_refused(&relay, tcp).await;
    assert_eq!(s.customer.conn.transport(), lotse_net::Transport::Tcp);
    // A customer may not send input.
    customer_input_closes(&s.customer.conn).await;
}
