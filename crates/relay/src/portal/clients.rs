//! The customer client builds the portal hands out: one file per platform in the configured
//! directory, stamped with the relay's pin once (on start, or when the file changes) and kept in
//! memory with the hash the trailer signature covers.

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
    mtime: Option<SystemTime>,
    pub(crate) len: u64,
    pub body: Bytes,
    pub hash: [u8; 32],
    /// The certificate table of a signed Windows build: the trailer goes inside it.
    pub table: Option<lotse_bundle::pe::CertTable>,
}

impl Build {
    /// A download of this build with `trailer`: appended, or inside the certificate table of an
    /// Authenticode-signed Windows build, whose two length fields then grow (`lotse_bundle::pe`).
    pub fn download(&self, trailer: Vec<u8>) -> Result<Chunks, lotse_bundle::pe::PlaceError> {
        let trailer = Bytes::from(trailer);
        let Some(table) = self.table else {
            return Ok(Chunks(std::collections::VecDeque::from([
                self.body.clone(),
                trailer,
            ])));
        };
        let place = lotse_bundle::pe::placement(&self.body, table, trailer.len())?;
        let mut parts = std::collections::VecDeque::new();
        let mut at = 0;
        for (field, value) in place.patches {
            parts.push_back(self.body.slice(at..field));
            parts.push_back(Bytes::copy_from_slice(&value.to_le_bytes()));
            at = field + 4;
        }
        parts.push_back(self.body.slice(at..));
        parts.push_back(Bytes::from(vec![0u8; place.pad]));
        parts.push_back(trailer);
        Ok(Chunks(parts))
    }
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
            Ok(Build {
                mtime,
                len,
                body: Bytes::from(bytes),
                hash,
                table,
            })
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
