//! The customer client builds the portal hands out: one file per platform in the configured
//! directory, stamped with the relay's pin once (on start, or when the file changes) and kept in
//! memory with the hash the trailer signature covers.
//!
//! Browsers get the download gzip-compressed (`Content-Encoding: gzip`; the saved file is the
//! same program): the build is deflated once, on the first such download, in segments cut where
//! each download's own bytes go (the trailer, and for a signed Windows build the two patched
//! length fields and the padding). A download is then framed, not compressed: the segments'
//! blocks with its own bytes as stored blocks between them, and a CRC-32 combined from the
//! segments' — microseconds per download. The Linux client is 10.5 MB, 4.8 MB on the wire.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin as StdPin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

/// A platform the portal can serve a client for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    LinuxX64,
    LinuxArm64,
    WindowsX64,
    MacosArm64,
    MacosX64,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::LinuxX64,
        Platform::LinuxArm64,
        Platform::WindowsX64,
        Platform::MacosArm64,
        Platform::MacosX64,
    ];

    /// The id in URLs and forms.
    pub fn id(self) -> &'static str {
        match self {
            Platform::LinuxX64 => "linux-x86_64",
            Platform::LinuxArm64 => "linux-aarch64",
            Platform::WindowsX64 => "windows-x86_64",
            Platform::MacosArm64 => "macos-aarch64",
            Platform::MacosX64 => "macos-x86_64",
        }
    }

    pub fn from_id(id: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.id() == id)
    }

    /// The build's file name in the clients directory.
    pub fn file_name(self) -> String {
        match self {
            Platform::WindowsX64 => format!("lotse-{}.exe", self.id()),
            _ => format!("lotse-{}", self.id()),
        }
    }

    /// Whether `head` (the first bytes of a file, 4 KiB are plenty) is an executable for this
    /// platform: ELF for Linux, PE for Windows, Mach-O for macOS, each for the right processor.
    /// The portal offers a platform only when its file passes, so a build copied under the
    /// wrong name (a Linux build as the `.exe`) is never handed to a customer.
    pub fn matches(self, head: &[u8]) -> bool {
        let u16_at = |at: usize| {
            head.get(at..at + 2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
        };
        let u32_at = |at: usize| {
            head.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        match self.family() {
            Family::Linux => {
                // ELF, 64-bit, little-endian; e_machine 62 (x86-64) or 183 (AArch64).
                let machine = if self == Platform::LinuxX64 { 62 } else { 183 };
                head.starts_with(b"\x7fELF")
                    && head.get(4) == Some(&2)
                    && head.get(5) == Some(&1)
                    && u16_at(18) == Some(machine)
            }
            Family::Windows => {
                // MZ, then at e_lfanew "PE\0\0" and the machine 0x8664 (x64).
                head.starts_with(b"MZ")
                    && u32_at(0x3c).is_some_and(|pe| {
                        let pe = pe as usize;
                        head.get(pe..pe + 4) == Some(b"PE\0\0") && u16_at(pe + 4) == Some(0x8664)
                    })
            }
            Family::Mac => {
                // Mach-O 64-bit; CPU type x86-64 (0x01000007) or ARM64 (0x0100000c).
                let cpu = if self == Platform::MacosX64 {
                    0x0100_0007
                } else {
                    0x0100_000c
                };
                u32_at(0) == Some(0xfeed_facf) && u32_at(4) == Some(cpu)
            }
        }
    }

    /// The name the customer's browser saves it under.
    pub fn download_name(self) -> &'static str {
        match self {
            Platform::WindowsX64 => "lotse-support.exe",
            _ => "lotse-support",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Platform::LinuxX64 | Platform::LinuxArm64 => Family::Linux,
            Platform::WindowsX64 => Family::Windows,
            Platform::MacosArm64 | Platform::MacosX64 => Family::Mac,
        }
    }

    /// Human name (the same in both languages).
    pub fn label(self) -> &'static str {
        match self {
            Platform::LinuxX64 => "Linux (x86-64)",
            Platform::LinuxArm64 => "Linux (ARM 64)",
            Platform::WindowsX64 => "Windows (64 bit)",
            Platform::MacosArm64 => "macOS (Apple silicon)",
            Platform::MacosX64 => "macOS (Intel)",
        }
    }

    /// The best guess from a User-Agent among `available`.
    pub fn guess(user_agent: &str, available: &[Platform]) -> Option<Platform> {
        let ua = user_agent.to_ascii_lowercase();
        let wanted: &[Platform] = if ua.contains("windows") {
            &[Platform::WindowsX64]
        } else if ua.contains("mac os x") || ua.contains("macintosh") {
            // Browsers on Apple silicon still say "Intel Mac OS X"; the ARM build is the
            // better default today, the person can switch.
            &[Platform::MacosArm64, Platform::MacosX64]
        } else if ua.contains("aarch64") || ua.contains("arm64") {
            &[Platform::LinuxArm64, Platform::LinuxX64]
        } else if ua.contains("linux") || ua.contains("x11") {
            &[Platform::LinuxX64, Platform::LinuxArm64]
        } else {
            &[]
        };
        wanted
            .iter()
            .copied()
            .find(|p| available.contains(p))
            .or_else(|| available.first().copied())
    }
}

/// Platforms that share the instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Linux,
    Windows,
    Mac,
}

/// One stamped build.
#[derive(Debug)]
pub(super) struct Build {
    /// The body deflated in segments, made on the first download that accepts gzip.
    deflated: tokio::sync::OnceCell<Option<Deflated>>,
    mtime: Option<SystemTime>,
    pub(crate) len: u64,
    pub body: Bytes,
    pub hash: [u8; 32],
    /// The certificate table of a signed Windows build: the trailer goes inside it.
    pub table: Option<lotse_bundle::pe::CertTable>,
}

/// A part of one download: a piece of the build, or bytes of this download alone.
#[derive(Debug)]
enum Part {
    Body(std::ops::Range<usize>),
    Own(Bytes),
}

impl Build {
    fn new(
        mtime: Option<SystemTime>,
        len: u64,
        body: Bytes,
        hash: [u8; 32],
        table: Option<lotse_bundle::pe::CertTable>,
    ) -> Build {
        Build {
            deflated: tokio::sync::OnceCell::new(),
            mtime,
            len,
            body,
            hash,
            table,
        }
    }

    /// The parts of a download with `trailer`: appended, or inside the certificate table of an
    /// Authenticode-signed Windows build, whose two length fields then grow (`lotse_bundle::pe`).
    fn parts(&self, trailer: Bytes) -> Result<Vec<Part>, lotse_bundle::pe::PlaceError> {
        let Some(table) = self.table else {
            return Ok(vec![Part::Body(0..self.body.len()), Part::Own(trailer)]);
        };
        let place = lotse_bundle::pe::placement(&self.body, table, trailer.len())?;
        let mut parts = Vec::new();
        let mut at = 0;
        for (field, value) in place.patches {
            parts.push(Part::Body(at..field));
            parts.push(Part::Own(Bytes::copy_from_slice(&value.to_le_bytes())));
            at = field + 4;
        }
        parts.push(Part::Body(at..self.body.len()));
        parts.push(Part::Own(Bytes::from(vec![0u8; place.pad])));
        parts.push(Part::Own(trailer));
        Ok(parts)
    }

    /// A download of this build with `trailer`: gzip-compressed when `gzip` and the build could
    /// be deflated, else as is; says which.
    pub async fn download(
        self: &Arc<Self>,
        trailer: Vec<u8>,
        gzip: bool,
    ) -> Result<(Chunks, bool), lotse_bundle::pe::PlaceError> {
        let parts = self.parts(Bytes::from(trailer))?;
        if gzip && let Some(c) = self.gzip(&parts).await {
            return Ok((c, true));
        }
        let plain = parts
            .into_iter()
            .map(|p| match p {
                Part::Body(r) => self.body.slice(r),
                Part::Own(b) => b,
            })
            .collect();
        Ok((Chunks(plain), false))
    }

    /// `parts` as a gzip stream, deflating the build on first use; `None` where it cannot be.
    async fn gzip(self: &Arc<Self>, parts: &[Part]) -> Option<Chunks> {
        let cuts: Vec<std::ops::Range<usize>> = parts
            .iter()
            .filter_map(|p| match p {
                Part::Body(r) => Some(r.clone()),
                Part::Own(_) => None,
            })
            .collect();
        let me = self.clone();
        let deflated = self
            .deflated
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || Deflated::new(&me.body, cuts))
                    .await
                    .ok()
                    .flatten()
            })
            .await;
        deflated.as_ref().and_then(|d| d.frame(parts))
    }
}

/// A build deflated ahead in segments, each with a fresh compressor (so no segment refers back
/// into another) and ended by a sync flush (byte-aligned, not the final block).
#[derive(Debug)]
struct Deflated {
    /// Each segment: where it is in the body, its deflate blocks, and its CRC-32.
    segments: Vec<(std::ops::Range<usize>, Bytes, crc32fast::Hasher)>,
}

impl Deflated {
    /// `None` if a segment could not be deflated so that it inflates back to itself (the build
    /// is then served as is).
    fn new(body: &[u8], cuts: Vec<std::ops::Range<usize>>) -> Option<Deflated> {
        let segments = cuts
            .into_iter()
            .map(|r| {
                let data = &body[r.clone()];
                let blocks = deflate_sync(data)?;
                // Checked once per build: a download never carries a segment that does not
                // inflate to its bytes (a flate2 `write::DeflateEncoder::flush` once left a
                // segment without its end here, depending on where its buffer happened to end).
                if !inflates_to(&blocks, data) {
                    tracing::warn!("a segment of a client build did not deflate cleanly");
                    return None;
                }
                let mut crc = crc32fast::Hasher::new();
                crc.update(data);
                Some((r, Bytes::from(blocks), crc))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Deflated { segments })
    }

    /// The gzip stream of a download made of `parts`; `None` if a piece of the body was cut
    /// elsewhere than the segments (a build whose table moved: served as is).
    fn frame(&self, parts: &[Part]) -> Option<Chunks> {
        let mut out = std::collections::VecDeque::new();
        // RFC 1952: magic, deflate, no flags, no time, no extra flags, unknown OS.
        out.push_back(Bytes::from_static(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]));
        let mut crc = crc32fast::Hasher::new();
        let mut size: u64 = 0;
        for p in parts {
            match p {
                Part::Body(r) if r.is_empty() => {}
                Part::Body(r) => {
                    let (_, blocks, c) = self.segments.iter().find(|(s, ..)| s == r)?;
                    out.push_back(blocks.clone());
                    crc.combine(c);
                    size += r.len() as u64;
                }
                Part::Own(b) => {
                    crc.update(b);
                    size += b.len() as u64;
                    out.extend(stored_blocks(b));
                }
            }
        }
        // The final block (empty, stored), then the CRC and the size mod 2³².
        let mut end = vec![1, 0, 0, 0xff, 0xff];
        end.extend_from_slice(&crc.finalize().to_le_bytes());
        end.extend_from_slice(&(size as u32).to_le_bytes());
        out.push_back(Bytes::from(end));
        Some(Chunks(out))
    }
}

/// `data` deflated by a fresh compressor and ended by a complete sync flush (byte-aligned, ending
/// in an empty stored block, not final), following zlib's rule that a call which fills the output
/// space must be repeated with the same flush until it does not.
fn deflate_sync(data: &[u8]) -> Option<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new(Compression::default(), false);
    let mut out: Vec<u8> = Vec::with_capacity(data.len() / 2 + 1024);
    let mut input = data;
    // Everything in, with room to spare each round.
    while !input.is_empty() {
        out.reserve(64 * 1024);
        let before = c.total_in();
        c.compress_vec(input, &mut out, FlushCompress::None).ok()?;
        let used = usize::try_from(c.total_in() - before).ok()?;
        input = &input[used..];
    }
    // Then the sync flush, until a call leaves output space unused.
    loop {
        out.reserve(64 * 1024);
        let room = out.capacity() - out.len();
        let before = out.len();
        c.compress_vec(&[], &mut out, FlushCompress::Sync).ok()?;
        if out.len() - before < room {
            break;
        }
    }
    out.ends_with(&[0, 0, 0xff, 0xff]).then_some(out)
}

/// Whether the deflate `blocks` (not final) inflate to exactly `data`.
fn inflates_to(blocks: &[u8], data: &[u8]) -> bool {
    use flate2::{Decompress, FlushDecompress};
    let mut d = Decompress::new(false);
    let mut out = vec![0u8; 256 * 1024];
    let (mut input, mut at) = (blocks, 0usize);
    loop {
        let (before_in, before_out) = (d.total_in(), d.total_out());
        if d.decompress(input, &mut out, FlushDecompress::Sync)
            .is_err()
        {
            return false;
        }
        let used = (d.total_in() - before_in) as usize;
        let made = (d.total_out() - before_out) as usize;
        if data.get(at..at + made) != Some(&out[..made]) {
            return false;
        }
        at += made;
        input = &input[used..];
        if used == 0 && made == 0 {
            return input.is_empty() && at == data.len();
        }
    }
}

/// `data` as deflate stored blocks (RFC 1951 3.2.4), not final; starts and ends byte-aligned.
fn stored_blocks(data: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    for chunk in data.chunks(u16::MAX as usize) {
        let len = chunk.len() as u16;
        let mut head = vec![0u8];
        head.extend_from_slice(&len.to_le_bytes());
        head.extend_from_slice(&(!len).to_le_bytes());
        out.push(Bytes::from(head));
        out.push(data.slice_ref(chunk));
    }
    out
}

/// Whether an `Accept-Encoding` header accepts gzip (`gzip` or `*`, without `q=0`).
pub(super) fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|item| {
        let mut params = item.split(';').map(str::trim);
        let coding = params.next().unwrap_or("");
        let refused = params.any(|p| {
            p.strip_prefix("q=")
                .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// The builds, loaded lazily and reloaded when their file changes.
#[derive(Debug)]
pub(super) struct Clients {
    dir: Option<PathBuf>,
    cache: Mutex<HashMap<Platform, Arc<Build>>>,
    /// Serialises loading, so that two first downloads do not read a file twice.
    loading: tokio::sync::Mutex<()>,
}

/// Why a build cannot be served.
#[derive(Debug, thiserror::Error)]
pub(super) enum BuildError {
    #[error("no build for {0:?}")]
    Missing(Platform),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a {platform} program")]
    NotForPlatform {
        path: String,
        platform: &'static str,
    },
    #[error("{path} cannot be personalised: {source}")]
    Stamp {
        path: String,
        source: lotse_bundle::StampError,
    },
}

impl Clients {
    pub fn new(dir: Option<PathBuf>) -> Clients {
        Clients {
            dir,
            cache: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// Platforms that have a working file now: an executable of the platform's own format
    /// ([`Platform::matches`]). A file that does not pass is left out (and logged), not served.
    pub fn available(&self) -> Vec<Platform> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        Platform::ALL
            .into_iter()
            .filter(|p| {
                let path = dir.join(p.file_name());
                if !path.is_file() {
                    return false;
                }
                let ok = head_of(&path).is_some_and(|h| p.matches(&h));
                if !ok {
                    tracing::warn!(
                        "{} is not a {} program; the portal does not offer it",
                        path.display(),
                        p.label()
                    );
                }
                ok
            })
            .collect()
    }

    /// The stamped build for `p`, loading or reloading it if needed.
    pub async fn build(&self, p: Platform, pin: [u8; 32]) -> Result<Arc<Build>, BuildError> {
        let dir = self.dir.as_ref().ok_or(BuildError::Missing(p))?;
        let path = dir.join(p.file_name());
        let _one = self.loading.lock().await;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|_| BuildError::Missing(p))?;
        let mtime = meta.modified().ok();
        if let Some(b) = self.cached(p)
            && b.len == meta.len()
            && b.mtime == mtime
        {
            return Ok(b);
        }
        let shown = path.display().to_string();
        let loaded = tokio::task::spawn_blocking(move || -> Result<Build, BuildError> {
            let mut bytes = std::fs::read(&path).map_err(|source| BuildError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let len = bytes.len() as u64;
            if !p.matches(&bytes[..bytes.len().min(HEAD)]) {
                return Err(BuildError::NotForPlatform {
                    path: path.display().to_string(),
                    platform: p.label(),
                });
            }
            lotse_bundle::stamp(&mut bytes, &pin).map_err(|source| BuildError::Stamp {
                path: path.display().to_string(),
                source,
            })?;
            let hash = lotse_bundle::body_hash(&bytes);
            let head = &bytes[..bytes.len().min(lotse_bundle::pe::HEAD)];
            let table = lotse_bundle::pe::cert_table(head, bytes.len() as u64);
            Ok(Build::new(mtime, len, Bytes::from(bytes), hash, table))
        })
        .await
        .map_err(|e| BuildError::Io {
            path: shown,
            source: std::io::Error::other(e.to_string()),
        })??;
        let b = Arc::new(loaded);
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p, b.clone());
        Ok(b)
    }

    fn cached(&self, p: Platform) -> Option<Arc<Build>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&p)
            .cloned()
    }
}

/// How much of a file [`Platform::matches`] looks at.
const HEAD: usize = 4096;

/// The first [`HEAD`] bytes of `path`.
fn head_of(path: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD);
    std::fs::File::open(path)
        .ok()?
        .take(HEAD as u64)
        .read_to_end(&mut head)
        .ok()?;
    Some(head)
}

/// A response body of a few shared chunks (the stamped build, then the trailer), so that a
/// download does not copy the build.
#[derive(Debug)]
pub(super) struct Chunks(pub std::collections::VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: StdPin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.iter().map(|b| b.len() as u64).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compressible bytes like a program's: repeats with variation.
    fn program(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i / 7) as u8).wrapping_mul(31) ^ (i % 13) as u8)
            .collect()
    }

    /// A PE file with an Authenticode-style certificate table at its end (as `lotse_bundle`'s
    /// own tests make one).
    fn signed_pe(code: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x200];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        let opt = 0x80 + 24;
        f[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        f[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        f.extend_from_slice(code);
        f.resize(f.len().div_ceil(8) * 8, 0);
        let offset = f.len();
        let sig = b"signature bytes";
        f.extend_from_slice(&((8 + sig.len()) as u32).to_le_bytes());
        f.extend_from_slice(&[0, 2, 2, 0]);
        f.extend_from_slice(sig);
        f.resize(offset + (8 + sig.len()).div_ceil(8) * 8, 0);
        let entry = opt + 112 + 32;
        let size = (f.len() - offset) as u32;
        f[entry..entry + 4].copy_from_slice(&(offset as u32).to_le_bytes());
        f[entry + 4..entry + 8].copy_from_slice(&size.to_le_bytes());
        f
    }

    fn collect(c: Chunks) -> Vec<u8> {
        c.0.into_iter().flat_map(|b| b.to_vec()).collect()
    }

    #[tokio::test]
    async fn a_gzip_download_is_the_same_file_and_smaller() {
        for body in [program(300_000), signed_pe(&program(300_000))] {
            let table = lotse_bundle::pe::cert_table(&body[..4096], body.len() as u64);
            assert_eq!(table.is_some(), body.starts_with(b"MZ"));
            let build = Arc::new(Build::new(
                None,
                0,
                Bytes::from(body.clone()),
                [0; 32],
                table,
            ));
            // Trailers of several sizes: none, small, and more than one stored block.
            for len in [0, 301, 70_000] {
                let trailer: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
                let (plain, gzip) = build.download(trailer.clone(), false).await.unwrap();
                assert!(!gzip);
                let plain = collect(plain);
                assert_eq!(plain, lotse_bundle::pe::assemble(&body, &trailer).unwrap());
                let (gz, gzip) = build.download(trailer, true).await.unwrap();
                assert!(gzip);
                let gz = collect(gz);
                assert_eq!(lotse_testkit::gunzip(&gz), plain, "trailer of {len} bytes");
                let mut ours = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut ours)
                    .unwrap();
                assert_eq!(ours, plain);
                assert!(
                    gz.len() < plain.len() / 3,
                    "{} of {}",
                    gz.len(),
                    plain.len()
                );
            }
        }
    }

    #[test]
    fn every_segment_ends_in_a_complete_sync_flush_and_inflates_back() {
        // Sizes around the compressor's and flate2's buffer sizes, data from incompressible to
        // very compressible (a 67 MB Windows build once lost its segment's end here).
        let mut x: u32 = 12345;
        let mut noise = |n: usize, every: u32| -> Vec<u8> {
            (0..n)
                .map(|i| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if (i as u32).is_multiple_of(every) {
                        (x >> 16) as u8
                    } else {
                        (i % 7) as u8
                    }
                })
                .collect()
        };
        for n in [
            0,
            1,
            4,
            300,
            32_767,
            32_768,
            32_769,
            65_536,
            100_003,
            1 << 20,
            3 << 20,
        ] {
            for every in [1, 3, 50] {
                let data = noise(n, every);
                let blocks = deflate_sync(&data).expect("deflated");
                assert!(blocks.ends_with(&[0, 0, 0xff, 0xff]), "{n} {every}");
                assert!(inflates_to(&blocks, &data), "{n} {every}");
                if n > 0 {
                    let mut wrong = data.clone();
                    wrong[n / 2] ^= 1;
                    assert!(!inflates_to(&blocks, &wrong), "the check can fail");
                }
            }
        }
    }

    #[test]
    fn gzip_is_accepted_as_browsers_say_it() {
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip;q=0.0, br"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("x-gzip-ish"));
    }

    #[test]
    fn only_an_executable_of_the_platform_counts() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert!(Platform::LinuxX64.matches(&elf));
        assert!(!Platform::LinuxArm64.matches(&elf));
        assert!(
            !Platform::WindowsX64.matches(&elf),
            "a Linux build named .exe"
        );
        let mut pe = vec![0u8; 256];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        assert!(Platform::WindowsX64.matches(&pe));
        assert!(!Platform::LinuxX64.matches(&pe));
        let mut arm_pe = pe.clone();
        arm_pe[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert!(
            !Platform::WindowsX64.matches(&arm_pe),
            "an ARM64 Windows build"
        );
        // e_lfanew pointing outside the head, truncated files, empty files.
        let mut far = pe.clone();
        far[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!Platform::WindowsX64.matches(&far));
        assert!(!Platform::WindowsX64.matches(&pe[..0x84]));
        assert!(!Platform::LinuxX64.matches(b""));
        let mut macho = vec![0u8; 32];
        macho[..4].copy_from_slice(&0xfeed_facfu32.to_le_bytes());
        macho[4..8].copy_from_slice(&0x0100_000cu32.to_le_bytes());
        assert!(Platform::MacosArm64.matches(&macho));
        assert!(!Platform::MacosX64.matches(&macho));
        assert!(!Platform::LinuxX64.matches(b"#!/bin/sh\necho hi\n"));
    }

    #[test]
    fn platform_from_browser() {
        let all = Platform::ALL.to_vec();
        let ubuntu =
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        let win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0";
        let mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605";
        assert_eq!(Platform::guess(ubuntu, &all), Some(Platform::LinuxX64));
        assert_eq!(Platform::guess(win, &all), Some(Platform::WindowsX64));
        assert_eq!(Platform::guess(mac, &all), Some(Platform::MacosArm64));
        assert_eq!(
            Platform::guess(win, &[Platform::LinuxX64]),
            Some(Platform::LinuxX64),
            "falls back to what exists"
        );
        assert_eq!(Platform::guess(win, &[]), None);
        for p in Platform::ALL {
            assert_eq!(Platform::from_id(p.id()), Some(p));
        }
    }
}
