//! Sending one file on its own stream: header, 128 KiB chunks hashed on the way, the SHA-256 at
//! the end, then waiting until the relay has it all. Used by the customer and the rep alike.

use crate::conn::Connection;
use crate::framed::write_msg;
use lotse_proto::frame::limits;
use lotse_proto::msg::{FileFrame, StreamHeader, TransferId};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Bytes per chunk on the wire.
pub const FILE_CHUNK: usize = 128 * 1024;
/// The stream error code for a refused or cancelled transfer.
pub const FILE_CANCELLED: u32 = 7;

/// Streams the first `size` bytes of `path` as transfer `transfer`, calling `progress(done)`
/// at most every `every`; stops when `cancel` is set. The error text is for people.
pub async fn send_file(
    conn: &Connection,
    transfer: TransferId,
    path: &Path,
    size: u64,
    cancel: &AtomicBool,
    every: Duration,
    mut progress: impl FnMut(u64),
) -> Result<(), String> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = conn.open_uni().await.map_err(|e| e.to_string())?;
    let header = StreamHeader::File { rep: 0, transfer };
    write_msg(&mut stream, &header, limits::STREAM_HEADER)
        .await
        .map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; FILE_CHUNK];
    let mut done = 0u64;
    let mut last = Instant::now();
    while done < size {
        if cancel.load(Ordering::SeqCst) {
            let _ = stream.reset(FILE_CANCELLED);
            return Err("cancelled".into());
        }
        let want = FILE_CHUNK.min((size - done) as usize);
        let n = file
            .read(&mut buf[..want])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the file became shorter while it was being sent".into());
        }
        hasher.update(&buf[..n]);
        let chunk = FileFrame::Chunk(buf[..n].to_vec());
        write_msg(&mut stream, &chunk, limits::FILE_CHUNK + 64)
            .await
            .map_err(|e| e.to_string())?;
        done += n as u64;
        if last.elapsed() >= every {
            last = Instant::now();
            progress(done);
        }
    }
    let sha256: [u8; 32] = hasher.finalize().into();
    write_msg(
        &mut stream,
        &FileFrame::End { sha256 },
        limits::FILE_CHUNK + 64,
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = stream.finish();
    // Wait until the relay has everything (or gave up), so "done" means delivered.
    match stream.stopped().await {
        Ok(None) => Ok(()),
        Ok(Some(code)) if code == u64::from(FILE_CANCELLED) => {
            Err("the relay stopped the transfer".to_owned())
        }
        Ok(Some(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
