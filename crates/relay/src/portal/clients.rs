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

    /// Platforms that have a file now.
    pub fn available(&self) -> Vec<Platform> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        Platform::ALL
            .into_iter()
            .filter(|p| dir.join(p.file_name()).is_file())
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
            lotse_bundle::stamp(&mut bytes, &pin).map_err(|source| BuildError::Stamp {
                path: path.display().to_string(),
                source,
            })?;
            let hash = lotse_bundle::body_hash(&bytes);
            Ok(Build {
                mtime,
                len,
                body: Bytes::from(bytes),
                hash,
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
