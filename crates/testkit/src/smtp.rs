//! A real SMTP server on the loopback for mail tests: Debian's `python3-aiosmtpd` run by
//! `smtp_sink.py`, accepting (each mail kept as a file), refusing every recipient, or silent.

use crate::{Proc, wait_until};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What the server does with a mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Refuse,
    /// Takes the connection and never answers.
    Silent,
}

/// A running SMTP server; stops when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    _proc: Proc,
}

impl SmtpSink {
    /// Starts it on a free loopback port.
    ///
    /// # Panics
    /// If python3-aiosmtpd is missing or the server does not start.
    pub fn start(mode: Mode) -> SmtpSink {
        SmtpSink::start_with(mode, &[])
    }

    /// Like [`SmtpSink::start`], with the script's options (`--starttls CERT KEY`, `--tls CERT
    /// KEY`, `--auth USER PASSWORD`).
    ///
    /// # Panics
    /// As [`SmtpSink::start`].
    pub fn start_with(mode: Mode, options: &[&std::ffi::OsStr]) -> SmtpSink {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/smtp_sink.py");
        let word = match mode {
            Mode::Accept => "accept",
            Mode::Refuse => "refuse",
            Mode::Silent => "silent",
        };
        // Debian's Python, where python3-aiosmtpd is installed (not a pyenv one on PATH).
        let mut proc = Proc::spawn(
            Command::new("/usr/bin/python3")
                .arg(script)
                .arg(dir.path())
                .arg(word)
                .args(options)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        );
        let out = proc.0.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("the SMTP server's first line");
        let port = line
            .strip_prefix("ready ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server said {line:?}"));
        SmtpSink {
            port,
            dir,
            _proc: proc,
        }
    }

    /// How mail `n` (from 1) came: `tls=yes|no auth=USER`.
    pub fn how(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{n}.meta")))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The mails received so far: (the recipients of the envelope, the whole message).
    pub fn mails(&self) -> Vec<(Vec<String>, String)> {
        let mut out = Vec::new();
        for n in 1.. {
            let mail = self.dir.path().join(format!("{n}.eml"));
            let Ok(text) = std::fs::read_to_string(&mail) else {
                break;
            };
            let rcpt = std::fs::read_to_string(self.dir.path().join(format!("{n}.rcpt")))
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect();
            out.push((rcpt, text));
        }
        out
    }

    /// Waits (up to the tests' deadline) until `n` mails arrived; returns them.
    pub fn wait_mails(&self, n: usize) -> Vec<(Vec<String>, String)> {
        wait_until(&format!("{n} mails"), || self.mails().len() >= n);
        self.mails()
    }

    /// Where the mails are kept.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}
