//! The customer's file transfers: sending a file the person picked, and receiving a file the
//! person chose to save. Files stream in chunks (never whole in memory) and are hashed on the way.

use lotse_files::Incoming;
use lotse_net::read_msg;
use lotse_net::{Connection, RecvStream};
use lotse_proto::frame::limits;
use lotse_proto::msg::{FileFrame, ParticipantId, TransferId, TransferStop};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a transfer's progress goes: the session passes a way to tell the window (the window's
/// event for it is the session's business, not the transfer's).
pub type Progress = Arc<dyn Fn(TransferStatus) + Send + Sync>;

/// Progress is reported at most this often per transfer.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);
/// How long a file stream may wait for its transfer to be known (control and data travel on
/// different streams and may overtake each other).
const REGISTRATION_WAIT: Duration = Duration::from_secs(10);

/// A transfer as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferStatus {
    /// The rep sending to us, or `None` for our own file going to the reps.
    pub rep: Option<ParticipantId>,
    pub transfer: TransferId,
    pub name: String,
    pub size: u64,
    pub done: u64,
    /// Time since the transfer started, for rate and time left.
    pub elapsed: Duration,
    pub state: TransferState,
}

/// Where a transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    Running,
    /// Finished; for a received file, where it was saved.
    Done(Option<PathBuf>),
    /// Stopped before the end.
    Failed(Failure),
}

/// Why a transfer did not finish, so that the window can say it in the person's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The person cancelled it here.
    Cancelled,
    /// The rep or the relay stopped it.
    Stopped(TransferStop),
    /// The rep lost `files` or left while it ran.
    Interrupted,
    /// Something here failed (reading or writing the file, the connection); the system's own
    /// words, shown as a detail.
    Local(String),
}

impl Failure {
    /// A stable name for the UI trace and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Cancelled => "cancelled",
            Failure::Stopped(why) => why.code(),
            Failure::Interrupted => "interrupted",
            Failure::Local(_) => "local",
        }
    }
}

type Key = (Option<ParticipantId>, TransferId);

struct Entry {
    name: String,
    size: u64,
    cancel: Arc<AtomicBool>,
    /// Why the other side stopped it, once known.
    reason: Option<TransferStop>,
    /// A file being received, until its stream arrives.
    incoming: Option<Incoming>,
}

/// All transfers of the session.
#[derive(Clone, Default)]
pub struct Transfers {
    inner: Arc<Mutex<HashMap<Key, Entry>>>,
    next_id: Arc<Mutex<TransferId>>,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers").finish_non_exhaustive()
    }
}

impl Transfers {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers our own file for sending; returns its id, name and size.
    pub fn start_sending(&self, path: &Path) -> std::io::Result<(TransferId, String, u64)> {
        let size = std::fs::metadata(path)?.len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            *n
        };
        self.map().insert(
            (None, id),
            Entry {
                name: name.clone(),
                size,
                cancel: Arc::new(AtomicBool::new(false)),
                reason: None,
                incoming: None,
            },
        );
        Ok((id, name, size))
    }

    /// The person chose Save: prepare the hidden temporary file in `dir`.
    pub fn start_receiving(
        &self,
        rep: ParticipantId,
        transfer: TransferId,
        name: &str,
        size: u64,
        dir: &Path,
    ) -> Result<(), String> {
        let incoming = Incoming::start(dir, name, size).map_err(|e| e.to_string())?;
        self.map().insert(
            (Some(rep), transfer),
            Entry {
                name: incoming.name().to_owned(),
                size,
                cancel: Arc::new(AtomicBool::new(false)),
                reason: None,
                incoming: Some(incoming),
            },
        );
        Ok(())
    }

    /// Stops a transfer; returns whether it was known.
    pub fn cancel(&self, key: Key) -> Option<(String, u64)> {
        let e = self.map().remove(&key)?;
        e.cancel.store(true, Ordering::SeqCst);
        // Dropping an `Incoming` removes its temporary file.
        Some((e.name, e.size))
    }

    /// The other side stopped our own transfer: the sending task reports `reason` and ends.
    /// Returns false if the transfer is no longer running here.
    pub fn stopped_by_peer(&self, id: TransferId, reason: TransferStop) -> bool {
        match self.map().get_mut(&(None, id)) {
            Some(e) => {
                e.reason = Some(reason);
                e.cancel.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }

    /// Stops everything to or from `rep`.
    pub fn cancel_rep(&self, rep: ParticipantId) -> Vec<(Key, String, u64)> {
        let keys: Vec<Key> = self
            .map()
            .keys()
            .filter(|k| k.0 == Some(rep))
            .copied()
            .collect();
        keys.into_iter()
            .filter_map(|k| self.cancel(k).map(|(n, s)| (k, n, s)))
            .collect()
    }

    /// Stops everything.
    pub fn cancel_all(&self) {
        let keys: Vec<Key> = self.map().keys().copied().collect();
        for k in keys {
            self.cancel(k);
        }
    }

    fn flag(&self, key: Key) -> Option<Arc<AtomicBool>> {
        self.map().get(&key).map(|e| e.cancel.clone())
    }
}

fn report(
    progress: &Progress,
    key: Key,
    name: &str,
    size: u64,
    done: u64,
    started: Instant,
    state: TransferState,
) {
    progress(TransferStatus {
        rep: key.0,
        transfer: key.1,
        name: name.to_owned(),
        size,
        done,
        elapsed: started.elapsed(),
        state,
    });
}

/// Streams our file `path` as transfer `id` to the relay.
pub async fn send(
    conn: Connection,
    transfers: Transfers,
    progress: Progress,
    id: TransferId,
    path: PathBuf,
) {
    let key = (None, id);
    let Some(cancel) = transfers.flag(key) else {
        return;
    };
    let (name, size) = transfers
        .map()
        .get(&key)
        .map(|e| (e.name.clone(), e.size))
        .unwrap_or_default();
    let started = Instant::now();
    let result = lotse_net::send_file(&conn, id, &path, size, &cancel, PROGRESS_EVERY, |done| {
        report(
            &progress,
            key,
            &name,
            size,
            done,
            started,
            TransferState::Running,
        )
    })
    .await;
    let state = match result {
        Ok(()) => TransferState::Done(None),
        Err(e) => {
            // A refusal stops our stream and explains itself on the control stream, which may
            // arrive a moment later: prefer its reason.
            let until = Instant::now() + Duration::from_secs(1);
            let mut why = None;
            while why.is_none() && Instant::now() < until {
                why = transfers.map().get(&key).and_then(|e| e.reason);
                if why.is_none() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            TransferState::Failed(why.map_or(Failure::Local(e), Failure::Stopped))
        }
    };
    transfers.map().remove(&key);
    report(
        &progress,
        key,
        &name,
        size,
        if matches!(state, TransferState::Done(_)) {
            size
        } else {
            0
        },
        started,
        state,
    );
}

/// Receives a rep's file on `stream` (its header already read).
pub async fn receive(
    transfers: Transfers,
    progress: Progress,
    rep: ParticipantId,
    transfer: TransferId,
    mut stream: RecvStream,
) {
    let key = (Some(rep), transfer);
    let deadline = Instant::now() + REGISTRATION_WAIT;
    let (mut incoming, cancel, size) = loop {
        {
            let mut map = transfers.map();
            if let Some(e) = map.get_mut(&key)
                && let Some(inc) = e.incoming.take()
            {
                break (inc, e.cancel.clone(), e.size);
            }
        }
        if Instant::now() > deadline {
            let _ = stream.stop(7u32);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let name = incoming.name().to_owned();
    let started = Instant::now();
    let mut last = Instant::now();
    let result: Result<PathBuf, String> = loop {
        if cancel.load(Ordering::SeqCst) {
            let _ = stream.stop(7u32);
            break Err("cancelled".into());
        }
        match read_msg::<FileFrame>(&mut stream, limits::FILE_CHUNK + 64).await {
            Ok(Some(FileFrame::Chunk(bytes))) => {
                if let Err(e) = incoming.write(&bytes) {
                    let _ = stream.stop(7u32);
                    break Err(e.to_string());
                }
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    report(
                        &progress,
                        key,
                        &name,
                        size,
                        incoming.written(),
                        started,
                        TransferState::Running,
                    );
                }
            }
            Ok(Some(FileFrame::End { sha256 })) => {
                break incoming.finish(sha256).map_err(|e| e.to_string());
            }
            Ok(None) => break Err("the transfer stopped before the end".into()),
            Err(e) => break Err(format!("the transfer broke off: {e}")),
        }
    };
    transfers.map().remove(&key);
    match result {
        Ok(path) => report(
            &progress,
            key,
            &name,
            size,
            size,
            started,
            TransferState::Done(Some(path)),
        ),
        Err(e) => report(
            &progress,
            key,
            &name,
            size,
            0,
            started,
            TransferState::Failed(Failure::Local(e)),
        ),
    }
}
