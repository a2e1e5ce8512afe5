//! File transfer rules with the real relay, rep library and customer driver on loopback:
//! hostile names, no overwrite, size limit, the `files` tier, and revoke mid-transfer.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use lotse::session::Event;
use lotse::transfer::{Failure, TransferState, TransferStatus};
use lotse_proto::Tier;
use lotse_proto::msg::{RepDown, TransferStop};
use lotse_rep::files::FileEvent;
use lotse_rep::{RepClient, RepEvent};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A rep and a customer in a session with the given tiers granted by the customer.
async fn session_with(relay: &TestRelay, tiers: &[Tier]) -> (RepClient, Customer) {
    session_of(relay, tiers, |key| customer(relay, Some(key))).await
}

/// Waits for the file prompt of `transfer` and answers it after the arming delay.
async fn answer_file_prompt(c: &Customer, name: &str, save: bool) {
    let ui = c.ui.clone();
    let want = name.to_owned();
    let req = blocking(move || {
        ui.wait("file prompt", |evs| {
            evs.iter().rev().find_map(|e| match e {
                Event::Changed(s) => s
                    .prompts
                    .iter()
                    .find(|p| p.file.as_ref().is_some_and(|f| f.name == want))
                    .map(|p| p.request),
                _ => None,
            })
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    c.handle.answer(req, save);
}

async fn transfer_end(c: &Customer, rep: Option<u64>, transfer: u32) -> TransferStatus {
    let ui = c.ui.clone();
    blocking(move || {
        ui.wait("transfer end", |evs| {
            evs.iter().find_map(|e| match e {
                Event::Transfer(t)
                    if t.rep == rep
                        && t.transfer == transfer
                        && t.state != TransferState::Running =>
                {
                    Some(t.clone())
                }
                _ => None,
            })
        })
    })
    .await
}

fn file_of(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_land_safely_inside_downloads_without_overwriting() {
    let relay = TestRelay::start().await;
    let (mut rep, c) = session_with(&relay, &[Tier::Files]).await;
    let src = tempfile::tempdir().unwrap();
    let downloads = c.downloads.path().to_path_buf();
    std::fs::write(downloads.join("report.pdf"), b"the customer's own").unwrap();
    let long = format!("{}.txt", "n".repeat(296));
    let cases: Vec<(String, &str)> = vec![
        ("../../.bashrc".into(), "bashrc"),
        ("a/b".into(), "b"),
        (".profile".into(), "profile"),
        ("CON".into(), "_CON"),
        ("bell\u{7}\nname.txt".into(), "bell__name.txt"),
        ("report.pdf".into(), "report (2).pdf"),
        (long.clone(), ""),
    ];
    let payload = file_of(src.path(), "payload", b"#!/bin/sh\necho owned\n");
    for (raw, expected) in &cases {
        let transfer = rep.offer_file_as(&payload, raw).await.unwrap();
        let safe = lotse_files::safe_name(raw);
        answer_file_prompt(&c, &safe, true).await;
        let end = transfer_end(&c, Some(rep.id), transfer).await;
        let TransferState::Done(Some(path)) = end.state else {
            panic!("{raw:?} was not saved: {end:?}");
        };
        assert_eq!(
            path.parent().unwrap(),
            downloads,
            "{raw:?} escaped Downloads: {path:?}"
        );
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !expected.is_empty() {
            assert_eq!(&name, expected, "{raw:?}");
        } else {
            assert!(name.len() <= 120 && name.ends_with(".txt"), "{name}");
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "{name} is executable");
    }
    assert_eq!(
        std::fs::read(downloads.join("report.pdf")).unwrap(),
        b"the customer's own"
    );
    // Nothing hidden or partial stays behind.
    for e in std::fs::read_dir(&downloads).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.starts_with('.'), "leftover {n}");
    }
    // Rejecting saves nothing.
    let before = std::fs::read_dir(&downloads).unwrap().count();
    rep.offer_file_as(&payload, "unwanted.txt").await.unwrap();
    answer_file_prompt(&c, "unwanted.txt", false).await;
    rep_wait(&mut rep, "rejected", |e| {
        matches!(e, RepEvent::Control(RepDown::FileRejected { .. })).then_some(())
    })
    .await;
    assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), before);
    relay
        .wait_audit(&["file.offer", "file.accept", "file.reject", "file.done"])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_without_files_cannot_offer() {
    let relay = TestRelay::start().await;
    let (mut rep, c) = session_with(&relay, &[Tier::View]).await;
    let src = tempfile::tempdir().unwrap();
    let f = file_of(src.path(), "x.txt", b"x");
    let t = rep.offer_file(&f).await.unwrap();
    let reason = rep_wait(&mut rep, "refusal", |e| match e {
        RepEvent::Control(RepDown::FileCancelled {
            transfer, reason, ..
        }) if *transfer == t => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, TransferStop::NotAllowed);
    assert!(c.ui.events().iter().all(|e| match e {
        Event::Changed(s) => s.prompts.iter().all(|p| p.file.is_none()),
        _ => true,
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_the_limit_are_refused_on_both_sides() {
    let relay = TestRelay::start_with(|cfg| cfg.max_file_size = 1024 * 1024).await;
    let (mut rep, c) = session_with(&relay, &[Tier::Files]).await;
    let src = tempfile::tempdir().unwrap();
    let big = file_of(src.path(), "big.bin", &vec![7u8; 2 * 1024 * 1024]);
    // Rep → customer.
    let t = rep.offer_file(&big).await.unwrap();
    let reason = rep_wait(&mut rep, "refusal", |e| match e {
        RepEvent::Control(RepDown::FileCancelled {
            transfer, reason, ..
        }) if *transfer == t => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(
        reason,
        TransferStop::TooLarge {
            size: 2 * 1024 * 1024,
            max: 1024 * 1024
        }
    );
    // Customer → rep.
    rep.save_files_to(Some(src.path().join("in")));
    c.handle.send_file(big.clone());
    let end = transfer_end(&c, None, 1).await;
    match end.state {
        TransferState::Failed(why) => assert_eq!(
            why,
            Failure::Stopped(TransferStop::TooLarge {
                size: 2 * 1024 * 1024,
                max: 1024 * 1024
            })
        ),
        other => panic!("an oversized file went through: {other:?}"),
    }
    assert!(!src.path().join("in").join("big.bin").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_files_stops_a_running_transfer_and_leaves_nothing() {
    let relay = TestRelay::start().await;
    let (mut rep, c) = session_with(&relay, &[Tier::Files]).await;
    let src = tempfile::tempdir().unwrap();
    let big = file_of(src.path(), "large.bin", &vec![1u8; 64 * 1024 * 1024]);
    let t = rep.offer_file(&big).await.unwrap();
    answer_file_prompt(&c, "large.bin", true).await;
    // Wait until bytes flow, then take `files` back.
    let ui = c.ui.clone();
    let rep_id = rep.id;
    blocking(move || {
        ui.wait("progress", |evs| {
            evs.iter().find_map(|e| matches!(e, Event::Transfer(s) if s.state == TransferState::Running && s.done > 0).then_some(()))
        })
    })
    .await;
    c.handle.revoke(rep_id, Tier::Files);
    let end = transfer_end(&c, Some(rep_id), t).await;
    assert!(matches!(end.state, TransferState::Failed(_)), "{end:?}");
    rep_wait(&mut rep, "sender stopped", |e| match e {
        RepEvent::File(FileEvent::Failed { transfer, .. }) if *transfer == t => Some(()),
        RepEvent::Control(RepDown::FileCancelled { transfer, .. }) if *transfer == t => Some(()),
        _ => None,
    })
    .await;
    // The temporary file goes away with the transfer; the final name never appears.
    let dl = c.downloads.path().to_path_buf();
    lotse_testkit::wait_until("no leftovers", || {
        std::fs::read_dir(&dl).unwrap().count() == 0
    });
}
