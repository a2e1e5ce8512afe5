//! The console's remembered settings: relay address, pin, user name and language, in
//! `$XDG_CONFIG_HOME/lotse/console.toml` (or `--config FILE`). The password is never written
//! anywhere: it is asked for at every login (no OS keyring — the Linux ones need D-Bus and the
//! Secret Service, more weight than this window's whole GUI stack).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the console remembers between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `host:port` of the relay.
    pub relay: String,
    /// The relay's key pin, `sha256//…`.
    pub pin: String,
    /// The rep's login name.
    pub user: String,
    /// `de` or `en`; empty means the system's language.
    pub lang: String,
    /// Where files from customers are saved; empty means the Downloads folder.
    pub downloads: String,
    /// The rep's own canned chat messages, offered before the built-in ones.
    pub canned: Vec<String>,
}

/// Why the config could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid console configuration: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// The default location: `$XDG_CONFIG_HOME/lotse/console.toml` or `~/.config/lotse/…`.
    pub fn default_path() -> PathBuf {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("lotse").join("console.toml")
    }

    /// Reads `path`; a missing file is the empty default, a broken one an error naming the key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if !config.lang.is_empty() && !matches!(config.lang.as_str(), "de" | "en") {
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                message: format!("key `lang`: {:?} is neither \"de\" nor \"en\"", config.lang),
            });
        }
        Ok(config)
    }

    /// Writes the file (mode 0600 on Unix), creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let write = |source| ConfigError::Write {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let text = toml::to_string(self).map_err(|e| write(std::io::Error::other(e)))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        use std::io::Write;
        options
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(write)
    }

    /// The configuration an installed package brings (`/etc/lotse/console.toml`: the relay and
    /// pin the support portal put into the package it handed out), found from the program's
    /// own place — `<root>/usr/bin/lotse-console` → `<root>/etc/lotse/console.toml` — so that a
    /// package unpacked into another root finds its own.
    pub fn system_path(exe: &Path) -> Option<PathBuf> {
        let root = exe.parent()?.parent()?.parent()?;
        Some(root.join("etc").join("lotse").join("console.toml"))
    }

    /// Takes the relay and pin from `system` where this configuration has none (the rep's own
    /// settings come first).
    pub fn fill_from(&mut self, system: &Config) {
        if self.relay.is_empty() && self.pin.is_empty() {
            self.relay = system.relay.clone();
            self.pin = system.pin.clone();
        }
    }

    /// Where customers' files go.
    pub fn downloads_dir(&self) -> PathBuf {
        if !self.downloads.is_empty() {
            return PathBuf::from(&self.downloads);
        }
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join("Downloads"))
            .unwrap_or_else(std::env::temp_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_packages_relay_fills_an_empty_login() {
        let exe = Path::new("/tmp/root/usr/bin/lotse-console");
        assert_eq!(
            Config::system_path(exe).unwrap(),
            Path::new("/tmp/root/etc/lotse/console.toml")
        );
        assert_eq!(
            Config::system_path(Path::new("/usr/bin/lotse-console")).unwrap(),
            Path::new("/etc/lotse/console.toml")
        );
        let system = Config {
            relay: "support.example.org:4433".into(),
            pin: "sha256//abc".into(),
            ..Config::default()
        };
        let mut empty = Config {
            user: "ann".into(),
            ..Config::default()
        };
        empty.fill_from(&system);
        assert_eq!(
            (empty.relay.as_str(), empty.user.as_str()),
            ("support.example.org:4433", "ann")
        );
        assert_eq!(empty.pin, "sha256//abc");
        let mut own = Config {
            relay: "other:1".into(),
            pin: "sha256//own".into(),
            ..Config::default()
        };
        own.fill_from(&system);
        assert_eq!(own.relay, "other:1", "the rep's own settings come first");
    }

    #[test]
    fn round_trips_and_never_holds_a_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("console.toml");
        assert_eq!(Config::load(&path).unwrap(), Config::default());
        let c = Config {
            relay: "relay.example.org:4433".into(),
            pin: "sha256//abc".into(),
            user: "ann".into(),
            lang: "de".into(),
            downloads: String::new(),
            canned: vec!["Bitte starten Sie neu.".into(), "Danke!".into()],
        };
        c.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), c);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("password"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lang = \"fr\"\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("lang"), "{e}");
        std::fs::write(&path, "password = \"x\"\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("password"), "{e}");
    }
}
