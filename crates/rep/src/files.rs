//! The rep's file transfers: offering files to the customer (sent once accepted) and saving
//! files the customer sends into a chosen directory, with safe names and checked hashes.

use crate::RepEvent;
use lotse_files::Incoming;
use lotse_net::read_msg;
use lotse_net::{Connection, RecvStream};
use lotse_proto::frame::limits;
use lotse_proto::msg::{FileFrame, TransferId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const META_WAIT: Duration = Duration::from_secs(10);

/// What happened to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// Bytes moved; `outgoing` for our own offers.
    Progress {
        transfer: TransferId,
        outgoing: bool,
        done: u64,
        size: u64,
    },
    /// Our file arrived at the relay completely.
    Sent { transfer: TransferId },
    /// A customer's file was saved here.
    Received {
        transfer: TransferId,
        path: PathBuf,
        size: u64,
    },
    /// A transfer stopped on our side; the text says why.
    Failed {
        transfer: TransferId,
        outgoing: bool,
        reason: String,
    },
}

/// One of our offers: the file and its cancel flag.
pub type Outgoing = (PathBuf, Arc<AtomicBool>);

/// Shared state of the rep's transfers.
#[derive(Debug, Clone, Default)]
pub struct Files {
    /// Where the customer's files go; `None` refuses them.
    pub save_dir: Arc<Mutex<Option<PathBuf>>>,
    /// Name and size of the customer's files, from `FileIncoming`.
    pub incoming: Arc<Mutex<HashMap<TransferId, (String, u64)>>>,
    /// Our offers: path and cancel flag.
    pub outgoing: Arc<Mutex<HashMap<TransferId, Outgoing>>>,
    pub cancelled_incoming: Arc<Mutex<HashMap<TransferId, Arc<AtomicBool>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Files {
    pub(crate) fn note_incoming(&self, transfer: TransferId, name: String, size: u64) {
        lock(&self.incoming).insert(transfer, (name, size));
        lock(&self.cancelled_incoming).insert(transfer, Arc::new(AtomicBool::new(false)));
    }

    pub(crate) fn cancel(&self, transfer: TransferId, from_customer: bool) {
        if from_customer {
            if let Some(f) = lock(&self.cancelled_incoming).get(&transfer) {
                f.store(true, Ordering::SeqCst);
            }
        } else if let Some((_, f)) = lock(&self.outgoing).remove(&transfer) {
            f.store(true, Ordering::SeqCst);
        }
    }
}

/// Sends an accepted offer's bytes.
pub(crate) async fn send(
    conn: Connection,
    files: Files,
    transfer: TransferId,
    tx: mpsc::Sender<RepEvent>,
) {
    let Some((path, cancel)) = lock(&files.outgoing).get(&transfer).cloned() else {
        return;
    };
    let size = match tokio::fs::metadata(&path).await {
        Ok(m) => m.len(),
        Err(e) => {
            let reason = e.to_string();
            let _ = tx
                .send(RepEvent::File(FileEvent::Failed {
                    transfer,
                    outgoing: true,
                    reason,
                }))
                .await;
            return;
        }
    };
    let progress = |done| {
        let ev = FileEvent::Progress {
            transfer,
            outgoing: true,
            done,
            size,
        };
        // Progress is droppable; the final event below is not.
        let _ = tx.try_send(RepEvent::File(ev));
    };
    let every = Duration::from_millis(200);
    let result = lotse_net::send_file(&conn, transfer, &path, size, &cancel, every, progress).await;
    lock(&files.outgoing).remove(&transfer);
    let ev = match result {
        Ok(()) => FileEvent::Sent { transfer },
        Err(reason) => FileEvent::Failed {
            transfer,
            outgoing: true,
            reason,
        },
    };
    let _ = tx.send(RepEvent::File(ev)).await;
}

/// Saves a customer's file arriving on `stream`.
pub(crate) async fn receive(
    files: Files,
    transfer: TransferId,
    mut stream: RecvStream,
    tx: mpsc::Sender<RepEvent>,
) {
    let deadline = Instant::now() + META_WAIT;
    let (name, size) = loop {
        if let Some(m) = lock(&files.incoming).get(&transfer).cloned() {
            break m;
        }
        if Instant::now() > deadline {
            let _ = stream.stop(7u32);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let fail = |reason: String| {
        RepEvent::File(FileEvent::Failed {
            transfer,
            outgoing: false,
            reason,
        })
    };
    let Some(dir) = lock(&files.save_dir).clone() else {
        let _ = stream.stop(7u32);
        let _ = tx
            .send(fail("no directory to save files into (--save-dir)".into()))
            .await;
        return;
    };
    let cancel = lock(&files.cancelled_incoming)
        .get(&transfer)
        .cloned()
        .unwrap_or_default();
    let mut incoming = match Incoming::start(&dir, &name, size) {
        Ok(i) => i,
        Err(e) => {
            let _ = stream.stop(7u32);
            let _ = tx.send(fail(e.to_string())).await;
            return;
        }
    };
    let mut last = Instant::now();
    let result: Result<PathBuf, String> = loop {
        if cancel.load(Ordering::SeqCst) {
            let _ = stream.stop(7u32);
            break Err("cancelled".into());
        }
        match read_msg::<FileFrame>(&mut stream, limits::FILE_CHUNK + 64).await {
            Ok(Some(FileFrame::Chunk(b))) => {
                if let Err(e) = incoming.write(&b) {
                    break Err(e.to_string());
                }
                if last.elapsed() > Duration::from_millis(200) {
                    last = Instant::now();
                    let ev = FileEvent::Progress {
                        transfer,
                        outgoing: false,
                        done: incoming.written(),
                        size,
                    };
                    let _ = tx.send(RepEvent::File(ev)).await;
                }
            }
            Ok(Some(FileFrame::End { sha256 })) => {
                break incoming.finish(sha256).map_err(|e| e.to_string());
            }
            Ok(None) => break Err("the transfer stopped before the end".into()),
            Err(e) => break Err(format!("the transfer broke off: {e}")),
        }
    };
    lock(&files.incoming).remove(&transfer);
    lock(&files.cancelled_incoming).remove(&transfer);
    let ev = match result {
        Ok(path) => RepEvent::File(FileEvent::Received {
            transfer,
            path,
            size,
        }),
        Err(reason) => fail(reason),
    };
    let _ = tx.send(ev).await;
}
