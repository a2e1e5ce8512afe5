//! The screen, end to end: a known picture on a private Xvfb → ScreenSource (X11 SHM capture,
//! change detection, OpenH264) → the customer's session driver → a real relay on loopback → the
//! rep library, which decodes. Checks sharpness against a screenshot, the recording with ffprobe,
//! that revoking `view` stops the frames, and that a viewer who (re)gains `view` gets a keyframe
//! promptly although the screen is static.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lotse::session::{self, Event, Hooks, Settings};
use lotse::video::{ScreenSource, VideoSettings};
use lotse_codec::{Bgra, Yuv420, psnr};
use lotse_platform::fake::FakeInjector;
use lotse_proto::Tier;
use lotse_proto::msg::{CustomerInfo, RepDown, VideoFrame};
use lotse_rep::{RepClient, RepEvent, VideoReceiver};
use lotse_testkit::Xvfb;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const W: u32 = 1280;
const H: u32 = 720;

/// Fine text on the left half, a photo-like plasma on the right.
fn known_picture(dir: &Path) -> PathBuf {
    let text = dir.join("text.png");
    let photo = dir.join("photo.png");
    let out = dir.join("picture.png");
    let mut cmd = Command::new("convert");
    cmd.args([
        "-size",
        "640x720",
        "xc:white",
        "-fill",
        "black",
        "-pointsize",
        "9",
    ]);
    let font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if Path::new(font).exists() {
        cmd.args(["-font", font]);
    }
    for i in 0..62 {
        cmd.args([
            "-annotate".to_owned(),
            format!("+6+{}", 11 + i * 11),
            format!("{i:02} The quick brown fox jumps over the lazy dog. 0123456789 ({{[<>]}})"),
        ]);
    }
    run(cmd.arg(&text));
    run(Command::new("convert")
        .args([
            "-size",
            "640x720",
            "-seed",
            "7",
            "plasma:fractal",
            "-blur",
            "0x1",
        ])
        .arg(&photo));
    run(Command::new("convert")
        .arg(&text)
        .arg(&photo)
        .args(["+append"])
        .arg(&out));
    out
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the display shows now, as the X server has it (no cursor), in I420.
fn screenshot(x: &Xvfb, dir: &Path) -> Yuv420 {
    let png = dir.join("shot.png");
    run(x.command("import").args(["-window", "root"]).arg(&png));
    let raw = Command::new("convert")
        .arg(&png)
        .args(["-depth", "8", "bgra:-"])
        .output()
        .unwrap();
    assert!(raw.status.success());
    Yuv420::from_bgra(&Bgra::packed(&raw.stdout, W, H).expect("screenshot size"))
}

/// The newest prompt for `tier` other than `not` (an earlier, answered one).
fn prompt_for(ui: &Recorder, tier: Tier, not: Option<u32>) -> u32 {
    ui.wait(&format!("a prompt for {tier}"), |evs| {
        evs.iter().rev().find_map(|e| match e {
            Event::Changed(s) => s
                .prompts
                .iter()
                .find(|p| p.tier == tier && Some(p.request) != not)
                .map(|p| p.request),
            _ => None,
        })
    })
}

/// Asks for `view` and answers the prompt like a person would (after its first 500 ms).
/// Returns the request's id.
async fn grant_view(
    rep: &mut RepClient,
    ui: &Arc<Recorder>,
    handle: &session::Handle,
    earlier: Option<u32>,
) -> u32 {
    rep.request(Tier::View).await.unwrap();
    let u = ui.clone();
    let req = blocking(move || prompt_for(&u, Tier::View, earlier)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    handle.answer(req, true);
    rep_wait(rep, "view granted", |e| {
        matches!(e, RepEvent::Control(RepDown::Granted { tier: Tier::View })).then_some(())
    })
    .await;
    req
}

/// The real session driver with the real screen source on `x`, redeeming `key` at `relay`.
fn screen_customer(
    x: &Xvfb,
    relay: &TestRelay,
    key: String,
) -> (
    session::Handle,
    std::thread::JoinHandle<()>,
    lotse::video::VideoControl,
    Arc<Recorder>,
) {
    let source = ScreenSource::open(Some(&x.display), VideoSettings::default()).unwrap();
    let control = source.control();
    let ui = Arc::new(Recorder::default());
    let (handle, thread) = session::start(
        Settings {
            relay: relay.addr.to_string(),
            fallbacks: Vec::new(),
            pin: relay.pin,
            key: Some(key),
            info: CustomerInfo {
                name: "Carla Customer".into(),
                host: "desk-17".into(),
                os: "linux".into(),
            },
            net: fast_net(),
            downloads: std::env::temp_dir(),
        },
        ui.clone(),
        Hooks {
            clipboard: None,
            injector: Box::new(FakeInjector::default()),
            video: Some(Box::new(source)),
        },
    )
    .unwrap();
    (handle, thread, control, ui)
}

async fn next_frame(rep: &mut RepClient, what: &str) -> VideoFrame {
    rep_wait(rep, what, |e| match e {
        RepEvent::Frame(f) => Some(f.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screen_streams_sharp_is_recorded_stops_on_revoke_and_restarts_with_a_keyframe() {
    let x = Xvfb::start(W, H);
    let dir = tempfile::tempdir().unwrap();
    let picture = known_picture(dir.path());
    // `display -window root` sets the root background and exits 1 even when it worked; the
    // screenshot below proves the picture is there.
    let _ = x
        .command("display")
        .args(["-window", "root"])
        .arg(&picture)
        .output()
        .unwrap();
    run(x.command("xdotool").args(["mousemove", "1275", "715"]));

    let relay = TestRelay::start().await;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();

    let (handle, thread, control, ui) = screen_customer(&x, &relay, key);

    accept_first(&mut rep).await;
    assert_eq!(control.stats().frames, 0, "nothing captured before view");
    let first_request = grant_view(&mut rep, &ui, &handle, None).await;

    // The first frame is a keyframe of the whole screen, and it decodes to what is on screen.
    let recording = dir.path().join("stream.h264");
    let mut file = std::fs::File::create(&recording).unwrap();
    let mut recorded = 0u32;
    let mut receiver = VideoReceiver::new().unwrap();
    let first = next_frame(&mut rep, "the first frame").await;
    assert!(first.keyframe, "a new viewer starts with a keyframe");
    assert_eq!((first.width, first.height), (W, H));
    file.write_all(&first.data).unwrap();
    recorded += 1;
    let got = receiver.receive(&first);
    let decoded = got.picture.expect("the keyframe decodes").image;
    let shot = screenshot(&x, dir.path());
    let raw = Command::new("convert")
        .arg(&picture)
        .args(["-depth", "8", "bgra:-"])
        .output()
        .unwrap();
    let original = Yuv420::from_bgra(&Bgra::packed(&raw.stdout, W, H).unwrap());
    assert!(
        psnr(&original, &shot).avg > 50.0,
        "the known picture is not on the screen"
    );
    let q = psnr(&shot, &decoded);
    eprintln!("decoded vs screenshot: {q:?}, {} bytes", first.data.len());
    assert!(q.avg >= 35.0, "decoded frame vs screenshot: {q:?}");
    assert!(q.y >= 35.0, "luma (where the text is): {q:?}");

    // Movements of the pointer are changes: frames follow, all decodable, all recorded.
    for i in 0..5u32 {
        let (px, py) = (100 + i * 150, 100 + i * 90);
        run(x
            .command("xdotool")
            .args(["mousemove", &px.to_string(), &py.to_string()]));
        let f = loop {
            let f = next_frame(&mut rep, "a frame after the pointer moved").await;
            if !f.data.is_empty() {
                break f;
            }
        };
        file.write_all(&f.data).unwrap();
        recorded += 1;
        let got = receiver.receive(&f);
        assert!(got.picture.is_some(), "frame {} did not decode", f.seq);
        assert!(got.latency_ms.is_some());
    }
    drop(file);

    // ffprobe, an independent decoder, reads the recording: right size, every frame.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&recording)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(probe.status.success(), "ffprobe: {text} {:?}", probe.stderr);
    assert!(text.contains("codec_name=h264"), "{text}");
    assert!(text.contains(&format!("width={W}")), "{text}");
    assert!(text.contains(&format!("height={H}")), "{text}");
    assert!(
        text.contains(&format!("nb_read_frames={recorded}")),
        "recorded {recorded} frames; ffprobe says {text}"
    );

    // Revoke view: after the rep hears of it, nothing more arrives, although the screen changes.
    let me = ui.wait("a rep in the session", |evs| {
        evs.iter().rev().find_map(|e| match e {
            Event::Changed(s) => s.reps.first().map(|r| r.id),
            _ => None,
        })
    });
    handle.revoke(me, Tier::View);
    let mut late = Vec::new();
    rep_wait(&mut rep, "view revoked", |e| match e {
        RepEvent::Control(RepDown::Revoked { tier: Tier::View }) => Some(()),
        _ => None,
    })
    .await;
    let frames_at_revoke = control.stats().frames;
    let until = Instant::now() + Duration::from_millis(1500);
    let mut i = 0;
    while Instant::now() < until {
        i += 1;
        run(x
            .command("xdotool")
            .args(["mousemove", &(200 + i * 7).to_string(), "300"]));
        if let Ok(Some(RepEvent::Frame(f))) =
            tokio::time::timeout(Duration::from_millis(100), rep.next_event()).await
        {
            late.push(f.seq);
        }
    }
    assert!(late.is_empty(), "frames after the revoke: {late:?}");
    assert!(
        control.stats().frames <= frames_at_revoke + 1,
        "capture went on after the revoke"
    );

    // Asking again at once is refused without a prompt: the person just took view back, so the
    // rep must wait out the re-request pause before the person is asked again.
    let revoked_at = Instant::now();
    rep.request(Tier::View).await.unwrap();
    rep_wait(&mut rep, "the re-request refused as too soon", |e| {
        matches!(
            e,
            RepEvent::Control(RepDown::Denied {
                tier: Tier::View,
                reason: lotse_proto::msg::DenyReason::TooSoon
            })
        )
        .then_some(())
    })
    .await;
    tokio::time::sleep_until(
        (revoked_at + lotse_proto::customer::REREQUEST_PAUSE + Duration::from_millis(200)).into(),
    )
    .await;

    // View again, screen static: the viewer must not wait for a change to see something.
    let t = Instant::now();
    grant_view(&mut rep, &ui, &handle, Some(first_request)).await;
    let f = next_frame(&mut rep, "a frame after view was granted again").await;
    let waited = t.elapsed();
    assert!(f.keyframe, "the first frame after the grant is a keyframe");
    assert!(
        waited < Duration::from_secs(3),
        "keyframe took {waited:?} after the grant"
    );
    let mut receiver = VideoReceiver::new().unwrap();
    assert!(receiver.receive(&f).picture.is_some());

    handle.end(lotse_proto::msg::HowEnded::EndButton);
    let end = Instant::now() + DEADLINE;
    while !thread.is_finished() {
        assert!(Instant::now() < end, "session thread did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    thread.join().unwrap();
}

/// Issue 4: a second rep joins a running, viewed session (invited by its owner with a `view`
/// profile) and, once the customer allows it, gets a keyframe promptly although the screen is
/// static and the first rep's stream is long past its keyframe. The first rep keeps its stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rep_joining_gets_a_keyframe_promptly() {
    let x = Xvfb::start(W, H);
    let dir = tempfile::tempdir().unwrap();
    let picture = known_picture(dir.path());
    let _ = x
        .command("display")
        .args(["-window", "root"])
        .arg(&picture)
        .output()
        .unwrap();

    let relay = TestRelay::start().await;
    let mut ada = relay.rep("ada").await;
    let (key, _) = ada.create_key(None).await.unwrap();
    let (handle, thread, _, ui) = screen_customer(&x, &relay, key);
    let entry = rep_wait(&mut ada, "queue entry", |e| match e {
        RepEvent::Control(RepDown::Queue { entries }) => entries.first().cloned(),
        _ => None,
    })
    .await;
    ada.accept(entry.entry).await.unwrap();
    let ada_view = grant_view(&mut ada, &ui, &handle, None).await;
    let first = next_frame(&mut ada, "ada's first frame").await;
    assert!(first.keyframe);
    // Let the stream age: ada sees pointer moves (delta frames) for a while.
    for i in 0..4u32 {
        run(x
            .command("xdotool")
            .args(["mousemove", &(300 + i * 40).to_string(), "200"]));
        next_frame(&mut ada, "a delta frame").await;
    }

    // Ada invites Bob with a view-only profile; Bob joins with the code.
    let view_only: lotse_proto::TierSet = [Tier::View].into_iter().collect();
    let (code, _) = ada.share_session(view_only, None).await.unwrap();
    let mut bob = relay.rep("bob").await;
    bob.join_session(&code).await.unwrap();
    rep_wait(&mut bob, "bob joined", |e| {
        matches!(e, RepEvent::Control(RepDown::Joined { .. })).then_some(())
    })
    .await;
    let joined = rep_wait(&mut ada, "ada hears of bob", |e| match e {
        RepEvent::Control(RepDown::RepJoined { name, owner }) => Some((name.clone(), *owner)),
        _ => None,
    })
    .await;
    assert_eq!(joined, ("Bob".to_owned(), false));
    ui.wait("two reps on the customer's panel", |evs| {
        evs.iter().rev().find_map(|e| match e {
            Event::Changed(s) if s.reps.len() == 2 => Some(()),
            _ => None,
        })
    });
    // The code was single use, and the profile holds: Bob cannot even ask for control.
    let mut carl = relay.rep("ada").await;
    let again = carl.join_session(&code).await;
    assert!(
        matches!(
            again,
            Err(lotse_rep::RepError::Refused(
                lotse_proto::msg::Refusal::UnknownCode
            ))
        ),
        "{again:?}"
    );
    let reshare = bob.share_session(view_only, None).await;
    assert!(
        matches!(
            reshare,
            Err(lotse_rep::RepError::Refused(
                lotse_proto::msg::Refusal::NotOwner
            ))
        ),
        "an invited rep cannot invite: {reshare:?}"
    );
    bob.request(Tier::Control).await.unwrap();
    let what = rep_wait(&mut bob, "control refused by the profile", |e| match e {
        RepEvent::Control(RepDown::Refused { what }) => Some(*what),
        _ => None,
    })
    .await;
    assert_eq!(
        what,
        lotse_proto::msg::Refusal::NotInvited(Tier::Control),
        "{what}"
    );

    // The screen is static now. Bob asks for view; the customer allows.
    let t = Instant::now();
    grant_view(&mut bob, &ui, &handle, Some(ada_view)).await;
    let granted_after = t.elapsed();
    let f = loop {
        let f = next_frame(&mut bob, "bob's first frame").await;
        if !f.data.is_empty() {
            break f;
        }
    };
    let waited = t.elapsed() - granted_after;
    eprintln!(
        "bob's first frame {waited:?} after the grant: {} bytes",
        f.data.len()
    );
    assert!(f.keyframe, "a joining viewer starts with a keyframe");
    assert!(
        waited < Duration::from_secs(3),
        "the keyframe took {waited:?} after the grant"
    );
    let mut receiver = VideoReceiver::new().unwrap();
    let decoded = receiver
        .receive(&f)
        .picture
        .expect("decodes on its own")
        .image;
    let q = psnr(&screenshot(&x, dir.path()), &decoded);
    assert!(q.avg >= 35.0, "bob's picture vs screenshot: {q:?}");

    // Ada's stream goes on: the next change reaches her too, and decodes in her stream.
    run(x.command("xdotool").args(["mousemove", "900", "500"]));
    let next = loop {
        let f = next_frame(&mut ada, "ada's stream after bob joined").await;
        if !f.data.is_empty() {
            break f;
        }
    };
    assert!(next.seq > first.seq);

    // The owner leaves: Bob, the colleague who has been in longest, owns the session now; when
    // he ends it too it ends for the customer.
    ada.leave(lotse_proto::msg::HowEnded::EndButton)
        .await
        .unwrap();
    let bob_id = bob.id;
    rep_wait(&mut bob, "bob owns the session", |e| match e {
        RepEvent::Control(RepDown::Participants { list }) => list
            .iter()
            .any(|p| p.rep == bob_id && p.role == lotse_proto::profile::ParticipantRole::Owner)
            .then_some(()),
        _ => None,
    })
    .await;
    bob.leave(lotse_proto::msg::HowEnded::EndButton)
        .await
        .unwrap();
    rep_wait(&mut bob, "bob's session ends", |e| {
        matches!(e, RepEvent::Control(RepDown::Ended { .. })).then_some(())
    })
    .await;
    relay
        .wait_audit(&["session.share", "session.join ", "session.join_refused"])
        .await;
    let end = Instant::now() + DEADLINE;
    while !thread.is_finished() {
        assert!(Instant::now() < end, "session thread did not end");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    thread.join().unwrap();
    drop(handle);
}

/// Issue 18: a change of the screen must never be lost. Another X client repaints the whole
/// screen 200 times, each time in a grey that differs clearly from the one before, at random
/// moments (seeded; from right after the last change to well past the idle poll), every other
/// time drawn with a GC and as the window's background, and the rep's decoded picture must show
/// each grey before the next change — a change that produced no frame would leave the rep with a
/// stale picture, which the test reports with its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_of_the_screen_reaches_the_rep() {
    use x11rb::connection::Connection as _;
    use x11rb::protocol::xproto::{
        ChangeGCAux, ChangeWindowAttributesAux, ConnectionExt as _, CreateGCAux, CreateWindowAux,
        Rectangle, WindowClass,
    };
    const CW: u32 = 1920;
    const CH: u32 = 1080;
    let x = Xvfb::start(CW, CH);
    let (conn, screen) = x11rb::connect(Some(&x.display)).unwrap();
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id().unwrap();
    conn.create_window(
        0,
        window,
        root,
        0,
        0,
        CW as u16,
        CH as u16,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new()
            .background_pixel(0x808080)
            .override_redirect(1),
    )
    .unwrap();
    conn.map_window(window).unwrap();
    conn.get_input_focus().unwrap().reply().unwrap();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, window, &CreateGCAux::new()).unwrap();
    // Paints the whole window in grey `v` and waits until the server has done it: drawn with a
    // GC, or as the window's background (the server paints it).
    let paint = |v: u32, drawn: bool| {
        let pixel = v << 16 | v << 8 | v;
        if drawn {
            conn.change_gc(gc, &ChangeGCAux::new().foreground(pixel))
                .unwrap();
            let all = Rectangle {
                x: 0,
                y: 0,
                width: CW as u16,
                height: CH as u16,
            };
            conn.poly_fill_rectangle(window, gc, &[all]).unwrap();
        } else {
            conn.change_window_attributes(
                window,
                &ChangeWindowAttributesAux::new().background_pixel(pixel),
            )
            .unwrap();
            conn.clear_area(false, window, 0, 0, 0, 0).unwrap();
        }
        conn.get_input_focus().unwrap().reply().unwrap();
    };

    let relay = TestRelay::start().await;
    let mut rep = relay.rep("ada").await;
    let (key, _) = rep.create_key(None).await.unwrap();
    let (handle, thread, control, ui) = screen_customer(&x, &relay, key);
    accept_first(&mut rep).await;
    grant_view(&mut rep, &ui, &handle, None).await;

    // The grey at a quarter of the picture, as the rep decoded it (BT.601 limited-range luma of a
    // grey v is 16 + 219·v/255).
    let luma = |v: u32| 16.0 + 219.0 * f64::from(v) / 255.0;
    let mut receiver = VideoReceiver::new().unwrap();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut random = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut slow = Vec::new();
    for i in 0..200u32 {
        let v = (i * 73) % 200 + 28;
        // A random moment: right away, within a frame, or after the screen went idle.
        tokio::time::sleep(Duration::from_millis(random(250))).await;
        paint(v, i % 2 == 0);
        let painted = Instant::now();
        let want = luma(v);
        let mut seen = None;
        loop {
            let left = Duration::from_secs(5).saturating_sub(painted.elapsed());
            assert!(
                !left.is_zero(),
                "change {i} (grey {v}, luma {want:.0}) never reached the rep: the rep kept a \
                 stale picture (luma {seen:?}; {:?})",
                control.stats()
            );
            let Ok(Some(ev)) = tokio::time::timeout(left, rep.next_event()).await else {
                continue;
            };
            let RepEvent::Frame(f) = ev else { continue };
            let got = receiver.receive(&f);
            if got.request_keyframe {
                rep.request_keyframe().await.unwrap();
            }
            let Some(p) = got.picture else { continue };
            let (w, h) = (p.image.width() as usize, p.image.height() as usize);
            // Away from the pointer, which Xvfb puts in the middle.
            let centre = f64::from(p.image.y()[h / 4 * w + w / 4]);
            seen = Some(centre);
            if (centre - want).abs() <= 8.0 {
                break;
            }
        }
        let took = painted.elapsed();
        if took > Duration::from_secs(1) {
            slow.push((i, took));
        }
    }
    eprintln!("changes that took over 1 s to reach the rep: {slow:?}");
    handle.end(lotse_proto::msg::HowEnded::EndButton);
    let _ = blocking(move || thread.join()).await;
}
