//! The decoder in its own process (`lotse_rep::decoder_process`), with the real `lotse-rep`
//! program as the child: the same pictures as in process, a child that dies is replaced at the
//! next keyframe, a child that answers nonsense or stays silent is dropped, and on Linux the child
//! can open neither files nor sockets.

mod support;

use lotse_codec::{Bgra, Encoder, EncoderSettings, FrameKind, Yuv420};
use lotse_proto::msg::VideoFrame;
use lotse_rep::VideoReceiver;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn program() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lotse-rep"))
}

/// A pattern with a square that moves with `i`.
fn picture(w: u32, h: u32, i: u32) -> Yuv420 {
    let data: Vec<u8> = (0..w * h)
        .flat_map(|p| {
            let (x, y) = (p % w, p / w);
            let inside = (i * 6..i * 6 + 24).contains(&x) && (20..44).contains(&y);
            let v = if inside {
                240
            } else {
                ((x ^ y) & 0x3f) as u8 * 3
            };
            [v, v / 2, 255 - v, 0]
        })
        .collect();
    Yuv420::from_bgra(&Bgra::packed(&data, w, h).expect("a picture"))
}

/// `n` frames of 320×240, keyframes where `key(i)`.
fn stream(n: u32, key: impl Fn(u32) -> bool) -> Vec<VideoFrame> {
    let mut enc = Encoder::new(320, 240, EncoderSettings::default()).expect("an encoder");
    (0..n)
        .map(|i| {
            let mut data = Vec::new();
            let e = enc
                .encode(&picture(320, 240, i), key(i), &mut data)
                .expect("encoded");
            VideoFrame {
                seq: u64::from(i),
                captured_us: 0,
                width: 320,
                height: 240,
                keyframe: e.kind == FrameKind::Key,
                data,
            }
        })
        .collect()
}

#[test]
fn pictures_through_the_child_are_those_of_the_decoder_in_process() {
    let frames = stream(30, |i| i == 0 || i == 17);
    let mut here = VideoReceiver::new().unwrap();
    let mut child = VideoReceiver::isolated_in(program()).unwrap();
    let pid = child.decoder_pid().expect("a child");
    // It starts with an empty environment (the rep's may hold a password).
    #[cfg(target_os = "linux")]
    assert_eq!(
        std::fs::read(format!("/proc/{pid}/environ")).unwrap(),
        b"",
        "the child inherited an environment"
    );
    let _ = pid;
    let mut pictures = 0;
    for f in &frames {
        let a = here.receive(f);
        let b = child.receive(f);
        assert_eq!(a.error, b.error, "frame {}", f.seq);
        match (a.picture, b.picture) {
            (Some(a), Some(b)) => {
                assert_eq!((a.image.width(), a.image.height()), (320, 240));
                assert_eq!((b.image.width(), b.image.height()), (320, 240));
                assert!(a.image.y() == b.image.y(), "Y differs, frame {}", f.seq);
                assert!(a.image.u() == b.image.u(), "U differs, frame {}", f.seq);
                assert!(a.image.v() == b.image.v(), "V differs, frame {}", f.seq);
                pictures += 1;
            }
            (None, None) => {}
            (a, b) => panic!(
                "frame {}: in process {:?}, child {:?}",
                f.seq,
                a.is_some(),
                b.is_some()
            ),
        }
    }
    assert_eq!(pictures, 30);
}

#[cfg(unix)]
fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn a_decoder_child_that_dies_is_replaced_at_the_next_keyframe() {
    let frames = stream(12, |i| i == 0 || i >= 6);
    let mut rx = VideoReceiver::isolated_in(program()).unwrap();
    for f in &frames[..3] {
        assert!(rx.receive(f).picture.is_some());
    }
    let first = rx.decoder_pid().unwrap();
    kill(first);
    // The next frame finds the child gone: an error, and the customer is asked for a keyframe.
    let r = rx.receive(&frames[3]);
    assert!(r.picture.is_none());
    let why = r.error.expect("the dead child is reported");
    assert!(why.contains("decoder process failed"), "{why}");
    assert!(r.request_keyframe);
    assert_eq!(rx.decoder_pid(), None);
    // A delta frame waits for the keyframe.
    assert!(rx.receive(&frames[4]).skipped);
    // Keyframes (the customer answers the request) until a new child decodes one; a new child
    // starts at most once a second.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut next = 5;
    let mut seq = 5;
    loop {
        let mut f = frames[next.min(frames.len() - 1)].clone();
        f.seq = seq;
        seq += 1;
        next += 1;
        if rx.receive(&f).picture.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "no picture after the child died");
        std::thread::sleep(Duration::from_millis(100));
    }
    let second = rx.decoder_pid().expect("a new child");
    assert_ne!(first, second);
    assert!(rx.stats().errors >= 1);
}

/// A child that answers nonsense (here a script in its place claiming a 100000×2 picture, or an
/// unknown tag) is dropped with an error; nothing of its size is allocated.
#[cfg(unix)]
#[test]
fn a_child_answering_nonsense_is_dropped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for (name, answer, expect) in [
        (
            "huge",
            r"printf '\001\240\206\001\000\002\000\000\000'",
            "100000×2 picture",
        ),
        ("tag", r"printf '\011'", "tag 9"),
        (
            "error",
            r"printf '\002\377\377\377\377'",
            "error of 4294967295",
        ),
        ("silent-exit", "exit 0", "it ended"),
    ] {
        let script = dir.path().join(name);
        std::fs::write(
            &script,
            format!("#!/bin/sh\nhead -c 4 >/dev/null\n{answer}\nexec sleep 30\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut rx = VideoReceiver::isolated_in(script).unwrap();
        let frames = stream(1, |_| true);
        let r = rx.receive(&frames[0]);
        assert!(r.picture.is_none());
        let why = r.error.unwrap_or_default();
        assert!(why.contains(expect), "{name}: {why}");
        assert_eq!(rx.decoder_pid(), None, "{name}: the child was not dropped");
    }
}

/// A child that answered once and then stays silent (a decoder caught in a loop) is killed after
/// [`ANSWER_DEADLINE`], not waited for: the frame is an error, a keyframe is asked for, and the
/// rep's program goes on.
#[cfg(unix)]
#[test]
fn a_silent_decoder_child_is_dropped_after_its_deadline() {
    use lotse_rep::decoder_process::ANSWER_DEADLINE;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("silent");
    // Answers the first frame with "nothing", then reads on but never answers again.
    std::fs::write(
        &script,
        "#!/bin/sh\nhead -c 4 >/dev/null\nprintf '\\000'\nexec sleep 60\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut rx = VideoReceiver::isolated_in(script).unwrap();
    let frames = stream(2, |_| true);
    let first = rx.receive(&frames[0]);
    assert!(
        first.picture.is_none() && first.error.is_none(),
        "{first:?}"
    );
    let pid = rx.decoder_pid().expect("the child runs");
    let asked = Instant::now();
    let r = rx.receive(&frames[1]);
    let waited = asked.elapsed();
    assert!(r.picture.is_none());
    let why = r.error.expect("the silent child is reported");
    assert!(
        why.contains(&format!("no answer within {} s", ANSWER_DEADLINE.as_secs())),
        "{why}"
    );
    assert!(waited >= ANSWER_DEADLINE, "gave up after {waited:?}");
    assert!(r.request_keyframe);
    assert_eq!(rx.decoder_pid(), None, "the silent child was kept");
    // Killed, not left behind.
    let gone = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < gone, "child {pid} still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Under the seccomp filter the child cannot open a file or a socket: it is killed (SIGSYS) at
/// the first try.
#[cfg(target_os = "linux")]
#[test]
fn the_decoder_child_can_open_neither_files_nor_sockets() {
    use std::os::unix::process::ExitStatusExt;
    let out = std::process::Command::new(program())
        .args([
            lotse_rep::decoder_process::CHILD_ARG,
            lotse_rep::decoder_process::PROBE_SANDBOX_ARG,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!said.contains("escaped"), "the sandbox let it out: {said}");
    assert_eq!(out.status.signal(), Some(libc_sigsys()), "{:?}", out.status);
}

/// A decoder child ends with its parent even when it is not reading its input (decoding, or a
/// decoder taken over and looping). Here a shell is the parent and the child's input is a pipe
/// this test holds open, so the input never ends: only the kernel's parent-death signal can end
/// the child once the shell is killed.
#[cfg(target_os = "linux")]
#[test]
fn a_decoder_child_ends_with_its_parent() {
    use lotse_testkit::measure::{status_field, wait_ended};
    use std::io::BufRead;
    use std::process::Stdio;
    // A background job's input would be /dev/null; `<&3` gives it the shell's, this pipe.
    let mut parent = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec 3<&0; "$0" "$1" <&3 & echo $!; exec sleep 600"#)
        .arg(program())
        .arg(lotse_rep::decoder_process::CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _input = parent.stdin.take();
    let mut out = std::io::BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid: u32 = line.trim().parse().expect("the child's pid");
    /// Kills the child if the test fails (once it passed, the number may be another's).
    struct Reap(u32);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    let reap = Reap(pid);
    // Its sandbox is on (after its life was bound to the parent's), and the shell is its parent.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(status_field(pid, "State:").is_some(), "the child runs");
        if status_field(pid, "Seccomp:").as_deref() == Some("2") {
            assert_eq!(status_field(pid, "PPid:"), Some(parent.id().to_string()));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the child never entered its sandbox"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    parent.kill().unwrap();
    parent.wait().unwrap();
    if let Err(state) = wait_ended(pid, Duration::from_secs(10)) {
        panic!("the child {pid} outlived its parent: {state}");
    }
    std::mem::forget(reap);
}

#[cfg(target_os = "linux")]
fn libc_sigsys() -> i32 {
    31 // SIGSYS on x86-64 and aarch64
}

/// The streams that broke OpenH264 (fixed in patches/openh264-sys2) go through the child too.
#[test]
fn hostile_streams_through_the_child() {
    for data in [
        &include_bytes!("data/openh264-2.7.0-ec-overrun.h264frames")[..],
        &include_bytes!("data/openh264-2.7.0-uaf-output-picture.h264frames")[..],
        &include_bytes!("data/openh264-2.7.0-uaf-nal-list.h264frames")[..],
    ] {
        let mut rx = VideoReceiver::isolated_in(program()).unwrap();
        for f in support::fuzz_frames(data) {
            let r = rx.receive(&f);
            if let Some(e) = &r.error {
                assert!(!e.contains("decoder process failed"), "{e}");
            }
        }
        assert!(rx.decoder_pid().is_some(), "the child died");
    }
}
