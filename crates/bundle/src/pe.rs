//! Authenticode-signed Windows builds: where the trailer goes so that the signature stays valid.
//!
//! Authenticode hashes a PE file except its checksum, the certificate table's directory entry
//! and the certificate table itself; bytes appended after the table are hashed, so a trailer
//! appended there would break the organisation's signature. A signed build therefore carries the
//! trailer *inside* its certificate table, where Authenticode does not hash:
//!
//! ```text
//! ┌──────── program (hashed by Authenticode and by us) ────────┬──────── certificate table ───────────────┐
//! │ headers, sections (the anchor with the pin stamped in) …   │ WIN_CERTIFICATE (PKCS#7) │ 0-pad │ trailer │
//! └────────────────────────────────────────────────────────────┴──────────────────────────────────────────┘
//! ```
//!
//! The table's size (in the directory entry) and the last WIN_CERTIFICATE's `dwLength` grow to
//! cover padding and trailer; signature checkers read the PKCS#7 by its own DER length and leave
//! the rest alone (`osslsigncode verify` passes; Windows only objects when the optional
//! `EnableCertPaddingCheck` policy is set, which rejects any data after the PKCS#7). The trailer
//! still ends the file, so the client finds it like any other.
//!
//! What the trailer's signature covers ([`crate::body_hash`], and the client's check): for a file
//! whose certificate table ends at the end of the file, the file up to the table, with the
//! table's size field read as zero — that is every byte of the program, anchor included. The
//! table holds only Authenticode's signature; replacing it cannot change the program.
//!
//! A signed build must be stamped before it is signed (stamping writes into the program, which
//! the signature covers): [`crate::stamp`] refuses to change a signed build, and
//! `lotse-relay stamp` stamps a build in place for the signing step.

/// How much of the file start [`cert_table`] needs.
pub const HEAD: usize = 4096;

/// A PE file's certificate table that ends at the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertTable {
    /// File offset of the directory entry's size field (4 bytes, little-endian).
    pub size_field: usize,
    /// File offset of the table.
    pub offset: usize,
    /// The table's size in bytes.
    pub size: usize,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The certificate table of a PE file of `len` bytes that starts with `head`, if the file has
/// one and it ends exactly at the end of the file (a signed build, or a signed download).
pub fn cert_table(head: &[u8], len: u64) -> Option<CertTable> {
    if !head.starts_with(b"MZ") {
        return None;
    }
    let pe = u32_at(head, 0x3c)? as usize;
    if head.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let opt = pe + 24;
    // PE32+ (64-bit) or PE32: where the number of directories and the directories are.
    let (count_at, dirs) = match u16_at(head, opt)? {
        0x20b => (opt + 108, opt + 112),
        0x10b => (opt + 92, opt + 96),
        _ => return None,
    };
    // The certificate table is directory 4.
    if u32_at(head, count_at)? < 5 {
        return None;
    }
    let entry = dirs + 4 * 8;
    let offset = u32_at(head, entry)? as usize;
    let size = u32_at(head, entry + 4)? as usize;
    let ends_at_end = (offset as u64).checked_add(size as u64) == Some(len);
    (size >= 8 && offset >= entry + 8 && ends_at_end).then_some(CertTable {
        size_field: entry + 4,
        offset,
        size,
    })
}

/// What serving a download of a signed build changes: two little-endian u32 fields written at
/// their offsets (the table size and the last WIN_CERTIFICATE's `dwLength`), and `pad` zero
/// bytes between the build and the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// (file offset, new value), in file order.
    pub patches: [(usize, u32); 2],
    pub pad: usize,
}

/// Why a trailer cannot be placed into a build's certificate table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error("the certificate table is damaged (an entry's length is impossible)")]
    Damaged,
    #[error("the certificate table would grow beyond 4 GiB")]
    TooLarge,
}

/// Where a trailer of `trailer_len` bytes goes in the signed build `body` (see the module).
pub fn placement(
    body: &[u8],
    table: CertTable,
    trailer_len: usize,
) -> Result<Placement, PlaceError> {
    // Walk the WIN_CERTIFICATE entries (each 8-byte aligned) to the last one.
    let end = table.offset + table.size;
    let mut at = table.offset;
    let last = loop {
        let len = u32_at(body, at).ok_or(PlaceError::Damaged)? as usize;
        if len < 8 || at + len > end {
            return Err(PlaceError::Damaged);
        }
        let next = at + len.div_ceil(8) * 8;
        if next >= end {
            break (at, len);
        }
        at = next;
    };
    let pad = (8 - (table.size + trailer_len) % 8) % 8;
    let grow = pad + trailer_len;
    let size = u32::try_from(table.size + grow).map_err(|_| PlaceError::TooLarge)?;
    // The last entry now reaches to the end of the file.
    let dw_len = u32::try_from(end - last.0 + grow).map_err(|_| PlaceError::TooLarge)?;
    Ok(Placement {
        patches: [(table.size_field, size), (last.0, dw_len)],
        pad,
    })
}

/// The whole download of a build and its trailer: inside the certificate table of a signed
/// Windows build, else appended.
pub fn assemble(body: &[u8], trailer: &[u8]) -> Result<Vec<u8>, PlaceError> {
    let mut out = body.to_vec();
    if let Some(table) = cert_table(&body[..body.len().min(HEAD)], body.len() as u64) {
        let p = placement(body, table, trailer.len())?;
        for (at, value) in p.patches {
            out[at..at + 4].copy_from_slice(&value.to_le_bytes());
        }
        out.resize(out.len() + p.pad, 0);
    }
    out.extend_from_slice(trailer);
    Ok(out)
}

/// The range of `body` the trailer's signature covers and the field in it that reads as zero:
/// `(len, Some(size_field))` for a file whose certificate table ends at its end.
pub(crate) fn covered(head: &[u8], file_len: u64, body_len: u64) -> (u64, Option<usize>) {
    match cert_table(head, file_len) {
        Some(t) if t.offset as u64 <= body_len => (t.offset as u64, Some(t.size_field)),
        _ => (body_len, None),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal PE32+ file: headers, `code` as its content, and (if `signature` is given) a
    /// certificate table with one WIN_CERTIFICATE holding those bytes, padded to 8.
    pub(crate) fn fake_pe(code: &[u8], signature: Option<&[u8]>) -> Vec<u8> {
        let mut f = vec![0u8; 0x200];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        f[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        let opt = 0x80 + 24;
        f[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        f[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        f.extend_from_slice(code);
        if let Some(sig) = signature {
            let offset = f.len();
            let dw_len = 8 + sig.len();
            f.extend_from_slice(&(dw_len as u32).to_le_bytes());
            f.extend_from_slice(&0x0200u16.to_le_bytes());
            f.extend_from_slice(&0x0002u16.to_le_bytes());
            f.extend_from_slice(sig);
            f.resize(offset + dw_len.div_ceil(8) * 8, 0);
            let size = f.len() - offset;
            let entry = opt + 112 + 32;
            f[entry..entry + 4].copy_from_slice(&(offset as u32).to_le_bytes());
            f[entry + 4..entry + 8].copy_from_slice(&(size as u32).to_le_bytes());
        }
        f
    }

    #[test]
    fn the_table_is_found_only_when_it_ends_the_file() {
        let signed = fake_pe(&[7; 300], Some(&[0x30; 101]));
        let t = cert_table(&signed, signed.len() as u64).unwrap();
        assert_eq!(t.offset, 0x200 + 300);
        assert_eq!(t.size, 112);
        assert_eq!(
            cert_table(&signed, signed.len() as u64 + 1),
            None,
            "data after it"
        );
        let unsigned = fake_pe(&[7; 300], None);
        assert_eq!(cert_table(&unsigned, unsigned.len() as u64), None);
        assert_eq!(cert_table(b"\x7fELF", 4), None);
        assert_eq!(cert_table(b"MZ", 2), None, "truncated");
    }

    #[test]
    fn the_trailer_goes_into_the_table_and_the_lengths_follow() {
        let signed = fake_pe(&[7; 300], Some(&[0x30; 101]));
        let table = cert_table(&signed, signed.len() as u64).unwrap();
        for trailer_len in [1usize, 7, 8, 200, 333] {
            let trailer = vec![0xab; trailer_len];
            let out = assemble(&signed, &trailer).unwrap();
            assert!(out.ends_with(&trailer));
            let t = cert_table(&out, out.len() as u64).expect("the table ends the file again");
            assert_eq!(t.offset, table.offset);
            assert_eq!(t.size % 8, 0, "aligned");
            assert_eq!(u32_at(&out, t.offset).unwrap() as usize, t.size);
            // Only the two length fields changed in the build's bytes.
            let changed: Vec<usize> = (0..signed.len()).filter(|&i| out[i] != signed[i]).collect();
            assert!(
                changed
                    .iter()
                    .all(|&i| (table.size_field..table.size_field + 4).contains(&i)
                        || (table.offset..table.offset + 4).contains(&i))
            );
        }
        // An unsigned build: appended as always.
        let unsigned = fake_pe(&[7; 300], None);
        assert_eq!(
            assemble(&unsigned, b"xyz").unwrap(),
            [&unsigned[..], b"xyz"].concat()
        );
    }

    #[test]
    fn a_damaged_table_is_refused() {
        let mut signed = fake_pe(&[7; 300], Some(&[0x30; 101]));
        let t = cert_table(&signed, signed.len() as u64).unwrap();
        signed[t.offset..t.offset + 4].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(placement(&signed, t, 10), Err(PlaceError::Damaged));
        signed[t.offset..t.offset + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(placement(&signed, t, 10), Err(PlaceError::Damaged));
    }
}
