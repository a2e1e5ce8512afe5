//! The anchor: a marked 48-byte region in the client's program data into which the relay stamps
//! its pin before serving the build.
//!
//! The client declares it with [`UNSTAMPED_ANCHOR`] as a `#[used] static` and reads it back with
//! a volatile read (the compiler must not fold the all-zero initial value into the code).

/// The 16 bytes that mark the anchor. Non-ASCII on both ends so that no text in the program
/// can match it by accident.
pub const MARKER: [u8; 16] = *b"\xf0LOTSE-ANCHOR\x00\x01\xf1";
/// Marker plus the 32-byte pin slot.
pub const ANCHOR_LEN: usize = MARKER.len() + 32;

/// The anchor as built: the marker and an empty (all-zero) slot.
pub const UNSTAMPED_ANCHOR: [u8; ANCHOR_LEN] = {
    let mut a = [0u8; ANCHOR_LEN];
    let mut i = 0;
    while i < MARKER.len() {
        a[i] = MARKER[i];
        i += 1;
    }
    a
};

/// Why a build could not be stamped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    #[error(
        "the file has no empty anchor: it is not a Lotse client build, or one already stamped for another relay"
    )]
    NoAnchor,
    #[error("the file has {0} anchors; a client build has exactly one")]
    ManyAnchors(usize),
    #[error("the file is already a personalised download; use the plain build")]
    HasTrailer,
    #[error(
        "the file is signed (Authenticode) but not stamped for this relay; stamping now would \
         break the signature: stamp it first (`lotse-relay stamp FILE`), then sign it"
    )]
    SignedUnstamped,
}

/// Writes `pin` into the one anchor of `binary`. Stamping again with the same pin is a no-op.
///
/// Only a marker followed by an empty slot (or by this very pin) counts as an anchor, so that a
/// stray copy of the marker bytes elsewhere in a build cannot be mistaken for it.
pub fn stamp(binary: &mut [u8], pin: &[u8; 32]) -> Result<(), StampError> {
    if binary.ends_with(crate::TRAILER_MAGIC) {
        return Err(StampError::HasTrailer);
    }
    let mut found = binary
        .windows(ANCHOR_LEN)
        .enumerate()
        .filter(|(_, w)| {
            let (marker, slot) = w.split_at(MARKER.len());
            marker == MARKER && (slot.iter().all(|b| *b == 0) || slot == pin)
        })
        .map(|(i, _)| i);
    let at = found.next().ok_or(StampError::NoAnchor)?;
    let more = found.count();
    if more > 0 {
        return Err(StampError::ManyAnchors(more + 1));
    }
    let slot = at + MARKER.len()..at + ANCHOR_LEN;
    if binary[slot.clone()] == pin[..] {
        return Ok(());
    }
    // Writing into a signed Windows build would break its signature: stamp, then sign.
    let head = &binary[..binary.len().min(crate::pe::HEAD)];
    if crate::pe::cert_table(head, binary.len() as u64).is_some() {
        return Err(StampError::SignedUnstamped);
    }
    binary[slot].copy_from_slice(pin);
    Ok(())
}

/// The pin stamped into the client's own anchor, or `None` if it was never stamped.
///
/// The marker is deliberately not compared here: this runs inside the client, and a comparison
/// would put a second copy of the marker into its program data.
pub fn anchor_pin(anchor: &[u8; ANCHOR_LEN]) -> Option<[u8; 32]> {
    let slot = &anchor[MARKER.len()..];
    if slot.iter().all(|b| *b == 0) {
        return None;
    }
    slot.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> Vec<u8> {
        let mut b = vec![0x90u8; 1000];
        b[300..300 + ANCHOR_LEN].copy_from_slice(&UNSTAMPED_ANCHOR);
        b
    }

    #[test]
    fn stamps_the_one_anchor() {
        let mut b = build();
        assert_eq!(anchor_pin(&UNSTAMPED_ANCHOR), None);
        stamp(&mut b, &[7; 32]).unwrap();
        let a: [u8; ANCHOR_LEN] = b[300..300 + ANCHOR_LEN].try_into().unwrap();
        assert_eq!(anchor_pin(&a), Some([7; 32]));
        stamp(&mut b, &[7; 32]).unwrap();
        assert_eq!(stamp(&mut b, &[8; 32]), Err(StampError::NoAnchor));
    }

    #[test]
    fn refuses_files_without_or_with_two_anchors() {
        assert_eq!(stamp(&mut [0u8; 500], &[1; 32]), Err(StampError::NoAnchor));
        let mut b = build();
        // A stray marker followed by other bytes is not an anchor.
        b[800..800 + MARKER.len()].copy_from_slice(&MARKER);
        b[800 + MARKER.len()] = 1;
        b[600..600 + ANCHOR_LEN].copy_from_slice(&UNSTAMPED_ANCHOR);
        assert_eq!(stamp(&mut b, &[1; 32]), Err(StampError::ManyAnchors(2)));
        let mut t = build();
        t.extend_from_slice(crate::TRAILER_MAGIC);
        assert_eq!(stamp(&mut t, &[1; 32]), Err(StampError::HasTrailer));
    }
}
