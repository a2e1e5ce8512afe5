//! 200 MB both ways through a real relay process with the real `lotse-rep` CLI: hashes match,
//! progress reaches 100 %, memory stays flat, and a transfer cut off by killing the rep leaves no
//! file under its final name. Also prints the throughput for docs/PERFORMANCE.md.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use common::*;
use lotse::session::{self, Event, Hooks, Settings};
use lotse::transfer::TransferState;
use lotse_proto::msg::CustomerInfo;
use lotse_proto::{Tier, msg::ParticipantId};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIG: usize = 200 * 1024 * 1024;

/// A 200 MB file of varied bytes (so that nothing can cheat by compressing runs).
fn big_file(path: &Path, seed: u8) -> [u8; 32] {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut block = vec![0u8; 1024 * 1024];
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    let mut h = Sha256::new();
    for _ in 0..BIG / block.len() {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        h.update(&block);
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
    h.finalize().into()
}

fn sha_of(path: &Path) -> [u8; 32] {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap();
    h.finalize().into()
}

/// Peak resident memory of a process, in MiB (VmHWM).
fn peak_mib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024
}

struct World {
    _dir: tempfile::TempDir,
    work: PathBuf,
    relay: Proc,
    addr: String,
    pin: String,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().to_path_buf();
    let data = work.join("relay");
    add_rep(&data, "ada", None, "a good password");
    let relay = RelayProc::serve(&data, &["--max-file-mib", "300"], true);
    World {
        addr: relay.addr.clone(),
        pin: relay.pin.clone(),
        relay: relay.proc,
        work,
        _dir: dir,
    }
}

impl World {
    fn rep(&self, args: &[&str]) -> Command {
        let mut c = Command::new(workspace_bin("lotse-rep"));
        c.args(["--relay", &self.addr, "--pin", &self.pin, "--user", "ada"])
            .args(args)
            .env("LOTSE_PASSWORD", "a good password")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    }

    fn key(&self) -> String {
        let out = self.rep(&["key"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn customer(
        &self,
        key: String,
        downloads: &Path,
    ) -> (Arc<Recorder>, session::Handle, std::thread::JoinHandle<()>) {
        let ui = Arc::new(Recorder::default());
        let (h, t) = session::start(
            Settings {
                relay: self.addr.clone(),
                fallbacks: Vec::new(),
                pin: self.pin.parse().unwrap(),
                key: Some(key),
                info: CustomerInfo::default(),
                net: Default::default(),
                downloads: downloads.to_path_buf(),
            },
            ui.clone(),
            Hooks {
                clipboard: None,
                injector: Box::new(lotse_platform::NoInjector),
                video: None,
            },
        )
        .unwrap();
        (ui, h, t)
    }
}

/// Answers the customer's next prompt matching `pick` after the arming delay.
fn answer(
    ui: &Recorder,
    h: &session::Handle,
    what: &str,
    pick: impl Fn(&lotse_proto::customer::Prompt) -> bool,
) {
    let req = ui.wait(what, |evs| {
        evs.iter().rev().find_map(|e| match e {
            Event::Changed(s) => s.prompts.iter().find(|p| pick(p)).map(|p| p.request),
            _ => None,
        })
    });
    std::thread::sleep(Duration::from_millis(550));
    h.answer(req, true);
}

fn wait_transfer(ui: &Recorder, rep: Option<ParticipantId>) -> lotse::transfer::TransferStatus {
    ui.wait("transfer to end", |evs| {
        evs.iter().find_map(|e| match e {
            Event::Transfer(t)
                if t.rep.is_some() == rep.is_some() && t.state != TransferState::Running =>
            {
                Some(t.clone())
            }
            _ => None,
        })
    })
}

/// The tests of this binary run one at a time: the customer's memory is measured on this very
/// process, and a second test's transfer beside it would count as the customer's growth.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|p| p.into_inner())
}

#[test]
fn two_hundred_megabytes_both_ways_with_flat_memory() {
    let _alone = alone();
    let w = world();
    let to_customer = w.work.join("to-customer.bin");
    let to_rep = w.work.join("to-rep.bin");
    let sum_c = big_file(&to_customer, 1);
    let sum_r = big_file(&to_rep, 2);
    let save = w.work.join("rep-inbox");
    let downloads = w.work.join("Downloads");
    let mut rep = Proc(
        w.rep(&[
            "session",
            "--request",
            "files",
            "--save-dir",
            save.to_str().unwrap(),
            "--send",
            to_customer.to_str().unwrap(),
        ])
        .spawn()
        .unwrap(),
    );
    let events = json_lines(&mut rep.0);
    let mut seen = Vec::new();
    expect(&events, &mut seen, "login");
    let base_rss = peak_mib(std::process::id());
    let (ui, h, thread) = w.customer(w.key(), &downloads);
    answer(&ui, &h, "files prompt", |p| {
        p.tier == Tier::Files && p.file.is_none()
    });
    expect(&events, &mut seen, "granted");
    expect(&events, &mut seen, "file_offered");

    // Rep → customer: the customer chooses Save.
    answer(&ui, &h, "save prompt", |p| p.file.is_some());
    let t0 = Instant::now();
    let done = wait_transfer(&ui, Some(0));
    let down_secs = t0.elapsed().as_secs_f64();
    let TransferState::Done(Some(path)) = &done.state else {
        panic!("{done:?}")
    };
    assert_eq!(path, &downloads.join("to-customer.bin"));
    assert_eq!(
        sha_of(path),
        sum_c,
        "the saved file differs from the sent one"
    );
    let progress: Vec<u64> = ui
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Transfer(t) if t.rep.is_some() => Some(t.done),
            _ => None,
        })
        .collect();
    assert!(
        progress.len() > 2 && progress.windows(2).all(|p| p[0] <= p[1]),
        "progress: {progress:?}"
    );
    assert_eq!(
        *progress.last().unwrap(),
        BIG as u64,
        "progress did not reach 100 %"
    );

    // Customer → rep: the customer sends a file (their own action).
    let t1 = Instant::now();
    h.send_file(to_rep.clone());
    let got = expect(&events, &mut seen, "file_received");
    let up_secs = t1.elapsed().as_secs_f64();
    let saved = PathBuf::from(got["path"].as_str().unwrap());
    assert_eq!(saved, save.join("to-rep.bin"));
    assert_eq!(sha_of(&saved), sum_r);
    let mine = wait_transfer(&ui, None);
    assert_eq!(mine.state, TransferState::Done(None));

    let relay_peak = peak_mib(w.relay.0.id());
    let rep_peak = peak_mib(rep.0.id());
    let customer_growth = peak_mib(std::process::id()).saturating_sub(base_rss);
    println!(
        "200 MiB rep→customer {:.1} s ({:.0} MiB/s), customer→rep {:.1} s ({:.0} MiB/s); peak RSS relay {relay_peak} MiB, rep {rep_peak} MiB, customer growth {customer_growth} MiB",
        down_secs,
        200.0 / down_secs,
        up_secs,
        200.0 / up_secs
    );
    assert!(
        relay_peak < 100,
        "relay peak RSS {relay_peak} MiB: it buffers files"
    );
    assert!(rep_peak < 100, "rep peak RSS {rep_peak} MiB");
    assert!(
        customer_growth < 64,
        "customer grew by {customer_growth} MiB"
    );
    h.end(lotse_proto::msg::HowEnded::EndButton);
    thread.join().unwrap();
}

#[test]
fn a_transfer_cut_off_by_killing_the_rep_leaves_no_file() {
    let _alone = alone();
    let w = world();
    let src = w.work.join("cut.bin");
    big_file(&src, 3);
    let downloads = w.work.join("Downloads");
    let mut rep = Proc(
        w.rep(&[
            "session",
            "--request",
            "files",
            "--send",
            src.to_str().unwrap(),
        ])
        .spawn()
        .unwrap(),
    );
    let events = json_lines(&mut rep.0);
    let mut seen = Vec::new();
    expect(&events, &mut seen, "login");
    let (ui, h, thread) = w.customer(w.key(), &downloads);
    answer(&ui, &h, "files prompt", |p| {
        p.tier == Tier::Files && p.file.is_none()
    });
    answer(&ui, &h, "save prompt", |p| p.file.is_some());
    ui.wait("a fifth of the file", |evs| {
        evs.iter().find_map(|e| {
            matches!(e, Event::Transfer(t) if t.done > (BIG / 5) as u64).then_some(())
        })
    });
    let _ = rep.0.kill();
    let _ = rep.0.wait();
    let end = wait_transfer(&ui, Some(0));
    assert!(matches!(end.state, TransferState::Failed(_)), "{end:?}");
    assert!(
        !downloads.join("cut.bin").exists(),
        "a partial file got the final name"
    );
    lotse_testkit::wait_until("no partial file", || {
        std::fs::read_dir(&downloads)
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    });
    h.end(lotse_proto::msg::HowEnded::EndButton);
    thread.join().unwrap();
}
