//! Message frames on streams (QUIC's or the TCP fallback's).

use crate::conn::{ReadError, ReadExactError, RecvStream, SendStream, WriteError};
use lotse_proto::frame::{self, FrameError, LEN_BYTES};
use serde::{Serialize, de::DeserializeOwned};

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("stream ended in the middle of a message")]
    Truncated,
    #[error("read failed: {0}")]
    Read(#[from] ReadError),
    #[error("write failed: {0}")]
    Write(#[from] WriteError),
}

/// Writes one message as a frame of at most `max` body bytes.
pub async fn write_msg<T: Serialize>(
    stream: &mut SendStream,
    msg: &T,
    max: usize,
) -> Result<(), NetError> {
    let bytes = frame::encode(msg, max)?;
    stream.write_all(&bytes).await?;
    Ok(())
}

/// Reads one message; `Ok(None)` when the peer finished the stream between messages.
pub async fn read_msg<T: DeserializeOwned>(
    stream: &mut RecvStream,
    max: usize,
) -> Result<Option<T>, NetError> {
    let mut prefix = [0u8; LEN_BYTES];
    match stream.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(ReadExactError::FinishedEarly(_)) => return Err(NetError::Truncated),
        Err(ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    let len = frame::decode_len(prefix, max)?;
    let mut body = vec![0u8; len];
    match stream.read_exact(&mut body).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(_)) => return Err(NetError::Truncated),
        Err(ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    Ok(Some(frame::decode(&body)?))
}
