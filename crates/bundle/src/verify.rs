//! The client's side: read the trailer of a file and verify it against the stamped anchor.

use crate::anchor::{ANCHOR_LEN, anchor_pin};
use crate::sign::{P256_SPKI_PREFIX, sha256, signed_message};
use crate::{
    Config, FOOTER_LEN, FORMAT, MAX_PAYLOAD, MAX_SIGNATURE, MAX_SPKI, TRAILER_MAGIC, pin_string,
};
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use std::io::{Read, Seek, SeekFrom};

/// Why a download's configuration was refused. Every variant means: do not start.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the program file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the program belongs to a relay but carries no valid configuration (truncated?)")]
    Missing,
    #[error("the configuration is damaged: {0}")]
    Damaged(&'static str),
    #[error(
        "the configuration carries a relay key, but this program was never prepared by a relay"
    )]
    NotStamped,
    #[error(
        "the configuration was made by another relay (key {found}); this program belongs to the relay with key {expected}"
    )]
    ForeignRelay { expected: String, found: String },
    #[error("the configuration was changed after the relay signed it")]
    BadSignature,
    #[error("the configuration names pin {found}, but this program belongs to {expected}")]
    PinMismatch { expected: String, found: String },
}

/// Reads and verifies the configuration appended to `file`, trusting only the pin in `anchor`
/// (the client's own stamped static). `Ok(None)`: a plain build with neither anchor pin nor
/// trailer, configured by flags.
pub fn read_embedded<F: Read + Seek>(
    file: &mut F,
    anchor: &[u8; ANCHOR_LEN],
) -> Result<Option<Config>, VerifyError> {
    let expected = anchor_pin(anchor);
    let len = file.seek(SeekFrom::End(0))?;
    let mut footer = [0u8; FOOTER_LEN];
    let has_footer = len >= FOOTER_LEN as u64 && {
        file.seek(SeekFrom::Start(len - FOOTER_LEN as u64))?;
        file.read_exact(&mut footer)?;
        footer.ends_with(TRAILER_MAGIC)
    };
    if !has_footer {
        return match expected {
            Some(_) => Err(VerifyError::Missing),
            None => Ok(None),
        };
    }
    let payload_len = u32::from_le_bytes([footer[0], footer[1], footer[2], footer[3]]) as usize;
    let sig_len = u16::from_le_bytes([footer[4], footer[5]]) as usize;
    let spki_len = u16::from_le_bytes([footer[6], footer[7]]) as usize;
    let format = u32::from_le_bytes([footer[8], footer[9], footer[10], footer[11]]);
    if format != FORMAT {
        return Err(VerifyError::Damaged("unknown format"));
    }
    if payload_len > MAX_PAYLOAD || sig_len > MAX_SIGNATURE || spki_len > MAX_SPKI {
        return Err(VerifyError::Damaged("impossible lengths"));
    }
    let trailer_len = (payload_len + sig_len + spki_len + FOOTER_LEN) as u64;
    let body_len = len
        .checked_sub(trailer_len)
        .ok_or(VerifyError::Damaged("longer than the file"))?;
    let mut rest = vec![0u8; trailer_len as usize - FOOTER_LEN];
    file.seek(SeekFrom::Start(body_len))?;
    file.read_exact(&mut rest)?;
    let (payload, rest) = rest.split_at(payload_len);
    let (sig, spki) = rest.split_at(sig_len);

    let expected = expected.ok_or(VerifyError::NotStamped)?;
    let found = sha256(spki);
    if found != expected {
        return Err(VerifyError::ForeignRelay {
            expected: pin_string(&expected),
            found: pin_string(&found),
        });
    }
    let point = spki
        .strip_prefix(&P256_SPKI_PREFIX[..])
        .filter(|p| p.len() == 65)
        .ok_or(VerifyError::Damaged("not a P-256 key"))?;
    // What the signature covers: the body, or for a signed Windows build the program up to its
    // certificate table (see `pe`).
    let mut head = vec![0u8; (len.min(crate::pe::HEAD as u64)) as usize];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut head)?;
    let (covered, zeroed) = crate::pe::covered(&head, len, body_len);
    file.seek(SeekFrom::Start(0))?;
    let body_hash = hash_prefix(file, covered, zeroed)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(&signed_message(&body_hash, payload), sig)
        .map_err(|_| VerifyError::BadSignature)?;
    // Signed by the anchored key: from here on the payload is the relay's own word.
    let config: Config =
        serde_json::from_slice(payload).map_err(|_| VerifyError::Damaged("unreadable payload"))?;
    if config.pin != pin_string(&expected) {
        return Err(VerifyError::PinMismatch {
            expected: pin_string(&expected),
            found: config.pin,
        });
    }
    Ok(Some(config))
}

/// SHA-256 of the first `len` bytes of `r`, read in chunks, with the 4 bytes at `zeroed` (if
/// any) read as zero.
fn hash_prefix<R: Read>(
    r: &mut R,
    len: u64,
    zeroed: Option<usize>,
) -> Result<[u8; 32], VerifyError> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    let mut pos: u64 = 0;
    while left > 0 {
        let n = buf.len().min(left as usize);
        r.read_exact(&mut buf[..n])?;
        if let Some(at) = zeroed {
            for i in at as u64..at as u64 + 4 {
                if (pos..pos + n as u64).contains(&i) {
                    buf[(i - pos) as usize] = 0;
                }
            }
        }
        ctx.update(&buf[..n]);
        left -= n as u64;
        pos += n as u64;
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anchor::{UNSTAMPED_ANCHOR, stamp};
    use crate::sign::{Signer, body_hash, trailer};
    use crate::{Access, Config};
    use std::io::Cursor;

    fn signer() -> Signer {
        let rng = ring::rand::SystemRandom::new();
        let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &rng,
        )
        .unwrap();
        Signer::from_pkcs8(doc.as_ref()).unwrap()
    }

    const AT: usize = 1000;

    /// A fake client build, stamped for `s`, and its personalised download.
    fn download(s: &Signer, key: &str) -> (Vec<u8>, [u8; ANCHOR_LEN]) {
        let mut body: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        body[AT..AT + ANCHOR_LEN].copy_from_slice(&UNSTAMPED_ANCHOR);
        stamp(&mut body, &s.pin()).unwrap();
        let cfg = Config {
            relay: "relay.example.org:4433".into(),
            pin: s.pin_string(),
            access: Access::Key(key.into()),
            rep_name: Some("Ada".into()),
            terms: None,
            lang: Some("de".into()),
            issued_at: 1,
            relays: Vec::new(),
        };
        let t = trailer(&body_hash(&body), &cfg, s).unwrap();
        let anchor: [u8; ANCHOR_LEN] = body[AT..AT + ANCHOR_LEN].try_into().unwrap();
        body.extend_from_slice(&t);
        (body, anchor)
    }

    fn verify(file: &[u8], anchor: &[u8; ANCHOR_LEN]) -> Result<Option<Config>, VerifyError> {
        read_embedded(&mut Cursor::new(file), anchor)
    }

    #[test]
    fn a_signed_windows_build_carries_the_trailer_in_its_certificate_table() {
        use crate::StampError;
        use crate::pe::{self, tests::fake_pe};
        let s = signer();
        let mut code: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        code[AT..AT + ANCHOR_LEN].copy_from_slice(&UNSTAMPED_ANCHOR);
        // Signed without stamping first: the relay cannot stamp it without breaking it.
        let mut unstamped_signed = fake_pe(&code, Some(&[0x30; 50]));
        assert!(matches!(
            stamp(&mut unstamped_signed, &s.pin()),
            Err(StampError::SignedUnstamped)
        ));
        // Stamped, then signed (the organisation's order); stamping again changes nothing.
        let mut unsigned = fake_pe(&code, None);
        stamp(&mut unsigned, &s.pin()).unwrap();
        let signed = fake_pe(&unsigned[0x200..], Some(&[0x30; 1234]));
        let mut again = signed.clone();
        stamp(&mut again, &s.pin()).unwrap();
        assert_eq!(again, signed);
        let cfg = Config {
            relay: "relay.example.org:4433".into(),
            pin: s.pin_string(),
            access: Access::Key("123456789".into()),
            rep_name: None,
            terms: None,
            lang: Some("en".into()),
            issued_at: 1,
            relays: Vec::new(),
        };
        let t = trailer(&body_hash(&signed), &cfg, &s).unwrap();
        let file = pe::assemble(&signed, &t).unwrap();
        let anchor: [u8; ANCHOR_LEN] = file[0x200 + AT..0x200 + AT + ANCHOR_LEN]
            .try_into()
            .unwrap();
        assert_eq!(verify(&file, &anchor).unwrap(), Some(cfg));
        let table = pe::cert_table(&file, file.len() as u64).unwrap();
        assert!(table.offset < file.len() - t.len(), "inside the table");
        // Authenticode's bytes are not the program: another signature there keeps it valid.
        let mut resigned = file.clone();
        resigned[table.offset + 20] ^= 0x01;
        assert!(verify(&resigned, &anchor).unwrap().is_some());
        // A flipped byte of the program, its headers or the table's place is refused.
        for at in [
            0x10,
            0x3c,
            table.size_field - 4,
            0x200 + 7,
            table.offset - 1,
        ] {
            let mut bad = file.clone();
            bad[at] ^= 0x01;
            assert!(verify(&bad, &anchor).is_err(), "byte {at:#x} flipped");
        }
        // So is a flipped trailer byte.
        let mut bad = file.clone();
        let last = bad.len() - FOOTER_LEN - 1;
        bad[last] ^= 0x01;
        assert!(verify(&bad, &anchor).is_err());
    }

    #[test]
    fn a_genuine_download_verifies() {
        let s = signer();
        let (file, anchor) = download(&s, "123456789");
        let cfg = verify(&file, &anchor).unwrap().unwrap();
        assert_eq!(cfg.access, Access::Key("123456789".into()));
        assert_eq!(cfg.pin, s.pin_string());
    }

    #[test]
    fn a_plain_build_has_no_config_and_a_stripped_download_is_refused() {
        assert!(verify(&[1, 2, 3], &UNSTAMPED_ANCHOR).unwrap().is_none());
        let s = signer();
        let (file, anchor) = download(&s, "123456789");
        assert!(matches!(
            verify(&file[..5000], &anchor),
            Err(VerifyError::Missing)
        ));
        // A trailer on a build no relay stamped has no anchor to be checked against.
        assert!(matches!(
            verify(&file, &UNSTAMPED_ANCHOR),
            Err(VerifyError::NotStamped)
        ));
    }

    #[test]
    fn every_single_flipped_trailer_byte_is_refused() {
        let s = signer();
        let (file, anchor) = download(&s, "123456789");
        for i in 5000..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(
                verify(&bad, &anchor).is_err(),
                "flipping byte {i} of {} went unnoticed",
                file.len()
            );
        }
    }

    #[test]
    fn a_flipped_body_byte_is_refused() {
        let s = signer();
        let (mut file, anchor) = download(&s, "123456789");
        file[10] ^= 0x80;
        assert!(matches!(
            verify(&file, &anchor),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn another_relays_trailer_is_refused() {
        let ours = signer();
        let theirs = signer();
        let (mine, anchor) = download(&ours, "111111111");
        let (foreign, _) = download(&theirs, "222222222");
        // Their trailer is perfectly self-consistent; moved onto our build it must fail.
        let mut swapped = mine[..5000].to_vec();
        swapped.extend_from_slice(&foreign[5000..]);
        let err = verify(&swapped, &anchor).unwrap_err();
        assert!(matches!(err, VerifyError::ForeignRelay { .. }), "{err}");
        // Their whole file verifies only against their own anchor, never against ours.
        assert!(verify(&foreign, &anchor).is_err());
    }

    #[test]
    fn a_trailer_moved_to_another_build_is_refused() {
        let s = signer();
        let (file, anchor) = download(&s, "123456789");
        let mut other: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 251) as u8).collect();
        other[AT..AT + ANCHOR_LEN].copy_from_slice(&anchor);
        other.extend_from_slice(&file[5000..]);
        assert!(matches!(
            verify(&other, &anchor),
            Err(VerifyError::BadSignature)
        ));
    }

    #[test]
    fn the_relay_signs_only_its_own_pin() {
        let s = signer();
        let cfg = Config {
            relay: "x:1".into(),
            pin: signer().pin_string(),
            access: Access::Queue("t".into()),
            rep_name: None,
            terms: None,
            lang: None,
            issued_at: 0,
            relays: Vec::new(),
        };
        assert!(matches!(
            trailer(&[0; 32], &cfg, &s),
            Err(crate::SignError::PinMismatch { .. })
        ));
    }
}
