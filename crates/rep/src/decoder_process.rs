//! The H.264 decoder in a child process of its own.
//!
//! The rep's programs decode what the customer's side sends with OpenH264, which is C++. Fuzzing
//! found three memory errors in its decoder (issue 18; fixed in `patches/openh264-sys2`), so the
//! console and the CLI no longer run it in their own process: a fault in the decoder ends a
//! child process, not the console with its sessions, and on Linux the child runs under a seccomp
//! filter that allows only reading its input, writing its answers and managing memory — no
//! files, no sockets, no new programs — so even a decoder taken over cannot reach the rep's
//! login, keys or network.
//!
//! The child is the program itself, started again with [`CHILD_ARG`]: every program that uses
//! [`crate::VideoReceiver::isolated`] calls [`run_if_child`] first thing in `main`. Frames go to
//! the child's stdin, pictures come back on its stdout (below); the child's answers are checked
//! like any other input. A child that dies or stays silent for [`ANSWER_DEADLINE`] (its first
//! answer: [`FIRST_ANSWER_DEADLINE`]) is killed and reported as a decode error; the receiver then
//! waits for a keyframe, and the next frame starts a new child (at most one a second).
//!
//! The child ends with its parent. An idle one sees its input end; on Linux the kernel also
//! kills it when the thread that started it ends (`PR_SET_PDEATHSIG`), so a child busy in the
//! decoder — or looping in a decoder taken over — does not outlive a rep's program that crashed
//! or was killed. So an [`IsolatedDecoder`] stays on the thread that made it, for its life (the
//! console's decoding thread, the CLI's main thread); moved to another, its child would be
//! killed when the first thread ends and replaced at the next keyframe. On Windows a thread of
//! the child waits on its parent's process handle and ends the child with the parent's process
//! (the child's own thread, so not proof against a decoder taken over).
//!
//! Wire (little-endian): to the child `u32 length` + that many bytes of Annex-B, at most
//! [`limits::VIDEO`]; from the child one answer per frame: `0` nothing; `1` a picture,
//! `u32 width`, `u32 height`, then Y, U and V packed (width × height × 3/2 bytes); `2` an
//! error, `u32 length` + UTF-8 text of at most [`MAX_ERROR_BYTES`].

use lotse_codec::{DecodeError, Decoder, MAX_SHORT_SIDE, MAX_SIDE, Yuv420};
use lotse_proto::frame::limits;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The argument that makes a program its own decoder child.
pub const CHILD_ARG: &str = "--lotse-decoder-child";
/// With [`CHILD_ARG`], for tests: enter the sandbox, then try to open a file and a socket; a
/// child that gets past them says `escaped` on stdout and exits 0.
pub const PROBE_SANDBOX_ARG: &str = "--probe-sandbox";
/// The longest the child may take to answer a frame (a 4K keyframe takes ~0.1 s here).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(5);
/// The longest a new child may take to answer its first frame, its start included (a program
/// starting on a busy machine, or under Wine, takes seconds).
pub const FIRST_ANSWER_DEADLINE: Duration = Duration::from_secs(30);
/// The longest error text a child may send.
pub const MAX_ERROR_BYTES: usize = 4096;
/// A new child at most this often after one ended.
const RESTART_INTERVAL: Duration = Duration::from_secs(1);

/// Set by [`run_if_child`]: this program can be its own decoder child.
static CAN_BE_CHILD: AtomicBool = AtomicBool::new(false);

/// Call first thing in `main`: if this process was started as a decoder child, runs the child
/// and exits; otherwise notes that this program may start decoder children of itself.
pub fn run_if_child() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(CHILD_ARG)) {
        let probe = args.next().as_deref() == Some(std::ffi::OsStr::new(PROBE_SANDBOX_ARG));
        std::process::exit(child_main(probe));
    }
    CAN_BE_CHILD.store(true, Ordering::Relaxed);
}

/// Whether [`run_if_child`] ran in this program.
pub fn can_be_child() -> bool {
    CAN_BE_CHILD.load(Ordering::Relaxed)
}

fn child_main(probe: bool) -> i32 {
    if let Err(e) = sandbox::end_with_parent() {
        eprintln!("lotse decoder child: {e}");
        return 4;
    }
    let mut decoder = match Decoder::new() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("lotse decoder child: {e}");
            return 3;
        }
    };
    if let Err(e) = sandbox::enter() {
        eprintln!("lotse decoder child: cannot enter the sandbox: {e}");
        return 4;
    }
    if probe {
        return probe_sandbox();
    }
    let mut input = std::io::stdin().lock();
    let mut output = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut frame = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if input.read_exact(&mut len).is_err() {
            return 0; // the parent is gone or done
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > limits::VIDEO {
            eprintln!("lotse decoder child: a frame of {len} bytes is over the limit");
            return 5;
        }
        frame.resize(len, 0);
        if input.read_exact(&mut frame).is_err() {
            return 0;
        }
        let written = match decoder.decode(&frame) {
            Ok(None) => output.write_all(&[0]),
            Ok(Some(p)) => output
                .write_all(&[1])
                .and_then(|()| output.write_all(&p.width().to_le_bytes()))
                .and_then(|()| output.write_all(&p.height().to_le_bytes()))
                .and_then(|()| output.write_all(p.y()))
                .and_then(|()| output.write_all(p.u()))
                .and_then(|()| output.write_all(p.v())),
            Err(e) => {
                let text = e.to_string();
                let mut end = text.len().min(MAX_ERROR_BYTES);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                output
                    .write_all(&[2])
                    .and_then(|()| output.write_all(&(end as u32).to_le_bytes()))
                    .and_then(|()| output.write_all(&text.as_bytes()[..end]))
            }
        };
        if written.and_then(|()| output.flush()).is_err() {
            return 0;
        }
    }
}

/// Tries what a decoder taken over would try; returns 0 only if something got through.
fn probe_sandbox() -> i32 {
    let file = std::fs::File::open("/proc/self/status").is_ok();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").is_ok();
    let mut out = std::io::stdout();
    if file || socket {
        let _ = writeln!(out, "escaped file={file} socket={socket}");
        return 0;
    }
    let _ = writeln!(out, "refused");
    6
}

/// One answer of the child.
enum Answer {
    Nothing,
    Picture(Yuv420),
    Error(String),
}

/// A running child and the threads that feed and read it.
struct Running {
    child: Child,
    answered: bool,
    frames: mpsc::SyncSender<Vec<u8>>,
    answers: mpsc::Receiver<Result<Answer, String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The decoder in a child process; the same calls as [`Decoder`].
pub struct IsolatedDecoder {
    program: PathBuf,
    running: Option<Running>,
    started: Option<Instant>,
}

impl std::fmt::Debug for IsolatedDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IsolatedDecoder")
            .field("program", &self.program)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl IsolatedDecoder {
    /// A decoder child of this program (which must call [`run_if_child`] in `main`).
    pub fn new() -> Result<IsolatedDecoder, DecodeError> {
        if !can_be_child() {
            return Err(DecodeError::Create(
                "this program cannot start decoder children of itself (run_if_child)".into(),
            ));
        }
        // On Linux the running program itself, even after a package upgrade replaced or
        // removed its file (the path would then start the new version, or nothing).
        let program = if cfg!(target_os = "linux") {
            PathBuf::from("/proc/self/exe")
        } else {
            std::env::current_exe()
                .map_err(|e| DecodeError::Create(format!("where is this program? {e}")))?
        };
        IsolatedDecoder::with_program(program)
    }

    /// A decoder child running `program` (a program that calls [`run_if_child`] in `main`).
    pub fn with_program(program: PathBuf) -> Result<IsolatedDecoder, DecodeError> {
        let mut d = IsolatedDecoder {
            program,
            running: None,
            started: None,
        };
        d.start()?;
        Ok(d)
    }

    /// The child's process id, while one runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    fn start(&mut self) -> Result<(), DecodeError> {
        let mut command = Command::new(&self.program);
        // The child needs no environment; the rep's may hold a password (LOTSE_PASSWORD) or a
        // join code. Its only open files are the three pipes (Rust opens everything else
        // close-on-exec).
        if cfg!(unix) {
            command.env_clear();
        } else {
            // Windows (and Wine) need their system variables to start a program.
            for (name, _) in std::env::vars_os() {
                if name
                    .to_string_lossy()
                    .to_ascii_uppercase()
                    .starts_with("LOTSE")
                {
                    command.env_remove(name);
                }
            }
        }
        let mut child = command
            .arg(CHILD_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                DecodeError::Create(format!(
                    "cannot start the decoder process {}: {e}",
                    self.program.display()
                ))
            })?;
        self.started = Some(Instant::now());
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(DecodeError::Create(
                "the decoder process has no pipes".into(),
            ));
        };
        let (frames, frames_rx) = mpsc::sync_channel::<Vec<u8>>(1);
        let (answers_tx, answers) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("lotse-decoder-in".into())
            .spawn(move || feed(stdin, frames_rx))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("lotse-decoder-out".into())
                    .spawn(move || read_answers(stdout, answers_tx))
            });
        let running = Running {
            child,
            answered: false,
            frames,
            answers,
        };
        if let Err(e) = spawned {
            return Err(DecodeError::Create(format!(
                "cannot start the decoder's threads: {e}"
            )));
        }
        self.running = Some(running);
        Ok(())
    }

    /// Decodes one access unit, as [`Decoder::decode`] does.
    pub fn decode(&mut self, annexb: &[u8]) -> Result<Option<Yuv420>, DecodeError> {
        if annexb.is_empty() {
            return Ok(None);
        }
        if annexb.len() > limits::VIDEO {
            return Err(DecodeError::Corrupt(format!(
                "a frame of {} bytes is over the limit",
                annexb.len()
            )));
        }
        if self.running.is_none() {
            if self.started.is_some_and(|t| t.elapsed() < RESTART_INTERVAL) {
                return Err(DecodeError::Corrupt(
                    "the decoder process is restarting".into(),
                ));
            }
            self.start()?;
        }
        let Some(running) = self.running.as_mut() else {
            return Err(DecodeError::Create("no decoder process".into()));
        };
        let deadline = if running.answered {
            ANSWER_DEADLINE
        } else {
            FIRST_ANSWER_DEADLINE
        };
        let answer = match running.frames.send(annexb.to_vec()) {
            Ok(()) => match running.answers.recv_timeout(deadline) {
                Ok(Ok(a)) => {
                    running.answered = true;
                    Ok(a)
                }
                Ok(Err(why)) => Err(why),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    Err(format!("no answer within {} s", deadline.as_secs()))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => Err("it ended".into()),
            },
            Err(_) => Err("it ended".into()),
        };
        match answer {
            Ok(Answer::Nothing) => Ok(None),
            Ok(Answer::Picture(p)) => Ok(Some(p)),
            Ok(Answer::Error(text)) => Err(DecodeError::Corrupt(text)),
            Err(why) => {
                // Killed and reaped here; say how it ended.
                let status = match self.running.take() {
                    Some(mut running) => {
                        let _ = running.child.kill();
                        running
                            .child
                            .wait()
                            .map(|s| s.to_string())
                            .unwrap_or_else(|e| e.to_string())
                    }
                    None => "gone".into(),
                };
                tracing::warn!("the decoder process failed ({why}; {status}); a new one follows");
                Err(DecodeError::Corrupt(format!(
                    "the decoder process failed ({why}; {status})"
                )))
            }
        }
    }
}

/// Writes each frame to the child, length first; ends when the child or the decoder is gone.
fn feed(stdin: ChildStdin, frames: mpsc::Receiver<Vec<u8>>) {
    let mut stdin = BufWriter::with_capacity(64 * 1024, stdin);
    while let Ok(frame) = frames.recv() {
        let ok = stdin
            .write_all(&(frame.len() as u32).to_le_bytes())
            .and_then(|()| stdin.write_all(&frame))
            .and_then(|()| stdin.flush());
        if ok.is_err() {
            return;
        }
    }
}

/// Reads the child's answers, checking each like any input from outside.
fn read_answers(stdout: ChildStdout, answers: mpsc::SyncSender<Result<Answer, String>>) {
    let mut out = std::io::BufReader::with_capacity(1 << 20, stdout);
    loop {
        let answer = read_answer(&mut out);
        let end = answer.is_err();
        if answers.send(answer).is_err() || end {
            return;
        }
    }
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_answer(r: &mut impl Read) -> Result<Answer, String> {
    let io = |e: std::io::Error| format!("it ended ({e})");
    let mut tag = [0u8; 1];
    r.read_exact(&mut tag).map_err(io)?;
    match tag[0] {
        0 => Ok(Answer::Nothing),
        1 => {
            let w = read_u32(r).map_err(io)?;
            let h = read_u32(r).map_err(io)?;
            let (wu, hu) = (w as usize, h as usize);
            if w == 0
                || h == 0
                || w % 2 == 1
                || h % 2 == 1
                || wu.max(hu) > MAX_SIDE
                || wu.min(hu) > MAX_SHORT_SIDE
            {
                return Err(format!("it answered a {w}×{h} picture"));
            }
            let mut data = vec![0u8; wu * hu * 3 / 2];
            r.read_exact(&mut data).map_err(io)?;
            Yuv420::from_i420(w, h, data)
                .map(Answer::Picture)
                .ok_or_else(|| format!("it answered a {w}×{h} picture"))
        }
        2 => {
            let len = read_u32(r).map_err(io)? as usize;
            if len > MAX_ERROR_BYTES {
                return Err(format!("it answered an error of {len} bytes"));
            }
            let mut text = vec![0u8; len];
            r.read_exact(&mut text).map_err(io)?;
            Ok(Answer::Error(String::from_utf8_lossy(&text).into_owned()))
        }
        t => Err(format!("it answered with tag {t}")),
    }
}

#[cfg(target_os = "linux")]
mod sandbox {
    use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch};
    use std::collections::BTreeMap;

    /// What the decoder child may still do: read frames, write pictures, manage its memory,
    /// end. Anything else (open, socket, connect, execve, ptrace, kill …) kills the process.
    const ALLOWED: &[i64] = &[
        libc::SYS_read,
        libc::SYS_readv,
        libc::SYS_write,
        libc::SYS_writev,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_brk,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_clock_gettime,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_sigaltstack,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];

    /// Has the kernel kill this process when the thread that started it ends, and so the
    /// parent: a child that is not reading its input at that moment (decoding, or a decoder
    /// taken over and looping) would otherwise outlive the rep's program. A parent that ended
    /// before this call is noticed by its input's end at the first read.
    pub fn end_with_parent() -> Result<(), String> {
        // SAFETY: getppid and prctl(PR_SET_PDEATHSIG, signal) touch no memory of ours.
        unsafe {
            let before = libc::getppid();
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(format!(
                    "cannot bind its life to its parent's: {}",
                    std::io::Error::last_os_error()
                ));
            }
            if libc::getppid() != before {
                return Err("its parent ended while it started".into());
            }
        }
        Ok(())
    }

    pub fn enter() -> Result<(), String> {
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
        let rules: BTreeMap<i64, Vec<SeccompRule>> =
            ALLOWED.iter().map(|&n| (n, Vec::new())).collect();
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::KillProcess,
            SeccompAction::Allow,
            arch,
        )
        .map_err(|e| e.to_string())?;
        let program: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| e.to_string())?;
        seccompiler::apply_filter(&program).map_err(|e| e.to_string())
    }
}

#[cfg(windows)]
mod sandbox {
    use windows_sys::Win32::Foundation::{CloseHandle, FILETIME, HANDLE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Diagnostics::ToolHelp::{
        CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW,
        TH32CS_SNAPPROCESS,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetCurrentProcessId, GetProcessTimes, INFINITE, OpenProcess,
        PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE, TerminateProcess,
        WaitForSingleObject,
    };

    /// No sandbox beyond the process boundary here yet (a restricted token and a job object
    /// would be the counterpart of the seccomp filter).
    pub fn enter() -> Result<(), String> {
        Ok(())
    }

    /// Windows has no parent-death signal: a thread of the child waits on its parent's process
    /// handle and ends the child when the parent ends, so that a child busy decoding, or
    /// looping, does not outlive a rep's program that crashed or was killed. Unlike the Linux
    /// kernel's signal, this thread is the child's own: a decoder taken over could stop it.
    /// A parent that cannot be found or opened (already gone: its pipe's end tells the child at
    /// the next read; or a number already reused by a younger process) leaves the child as it
    /// was.
    pub fn end_with_parent() -> Result<(), String> {
        let Some(parent) = parent_id() else {
            return Ok(());
        };
        // SAFETY: OpenProcess takes plain values; a null handle is checked.
        let handle = unsafe {
            OpenProcess(
                PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                0,
                parent,
            )
        };
        if handle.is_null() {
            return Ok(());
        }
        // SAFETY: GetCurrentProcess is a constant pseudo-handle.
        let ours = unsafe { GetCurrentProcess() };
        match (created(handle), created(ours)) {
            (Some(p), Some(c)) if p <= c => {}
            _ => {
                // SAFETY: the handle is ours and used no more.
                unsafe { CloseHandle(handle) };
                return Ok(());
            }
        }
        // A HANDLE is a pointer, which a thread cannot take; the number is what it is.
        let raw = handle as usize;
        std::thread::Builder::new()
            .name("lotse-decoder-parent".into())
            .spawn(move || {
                // SAFETY: the handle stays open for the child's life; waiting touches no memory
                // of ours, and ending this process is what is wanted when it returns.
                unsafe {
                    WaitForSingleObject(raw as HANDLE, INFINITE);
                    TerminateProcess(GetCurrentProcess(), 0);
                }
            })
            .map(drop)
            .map_err(|e| format!("cannot watch its parent: {e}"))
    }

    /// The process that started this one, from a snapshot of the processes.
    fn parent_id() -> Option<u32> {
        // SAFETY: the snapshot is read with entries of the size it is told, then closed.
        unsafe {
            let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
            if snapshot == INVALID_HANDLE_VALUE || snapshot.is_null() {
                return None;
            }
            let me = GetCurrentProcessId();
            let mut entry: PROCESSENTRY32W = std::mem::zeroed();
            entry.dwSize = std::mem::size_of::<PROCESSENTRY32W>() as u32;
            let mut found = None;
            let mut more = Process32FirstW(snapshot, &mut entry) != 0;
            while more {
                if entry.th32ProcessID == me {
                    found = Some(entry.th32ParentProcessID).filter(|&p| p != 0);
                    break;
                }
                more = Process32NextW(snapshot, &mut entry) != 0;
            }
            CloseHandle(snapshot);
            found
        }
    }

    /// When `process` was created, in 100 ns since 1601.
    fn created(process: HANDLE) -> Option<u64> {
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut c, mut e, mut k, mut u) = (zero, zero, zero, zero);
        // SAFETY: four FILETIMEs of ours to write into.
        let ok = unsafe { GetProcessTimes(process, &mut c, &mut e, &mut k, &mut u) } != 0;
        ok.then(|| (u64::from(c.dwHighDateTime) << 32) | u64::from(c.dwLowDateTime))
    }
}

#[cfg(not(any(target_os = "linux", windows)))]
mod sandbox {
    /// No sandbox beyond the process boundary here.
    pub fn enter() -> Result<(), String> {
        Ok(())
    }

    /// Not bound here; a parent that ends is noticed by the input's end at the next read.
    pub fn end_with_parent() -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(bytes: &[u8]) -> Result<Answer, String> {
        read_answer(&mut std::io::Cursor::new(bytes))
    }

    #[test]
    fn answers_are_read_and_checked() {
        assert!(matches!(answer(&[0]), Ok(Answer::Nothing)));
        let mut pic = vec![1u8];
        pic.extend(4u32.to_le_bytes());
        pic.extend(2u32.to_le_bytes());
        pic.extend([7u8; 12]);
        match answer(&pic) {
            Ok(Answer::Picture(p)) => {
                assert_eq!((p.width(), p.height()), (4, 2));
                assert_eq!(p.y(), &[7; 8]);
            }
            _ => panic!("a 4×2 picture"),
        }
        // Short picture data, odd or oversized sizes, long errors, unknown tags, nothing.
        assert!(answer(&pic[..pic.len() - 1]).is_err());
        for (w, h) in [(3u32, 2u32), (0, 2), (4096, 2), (3000, 3000), (u32::MAX, 2)] {
            let mut bad = vec![1u8];
            bad.extend(w.to_le_bytes());
            bad.extend(h.to_le_bytes());
            let why = answer(&bad).err().unwrap_or_default();
            assert!(why.contains("picture"), "{w}×{h}: {why}");
        }
        let mut err = vec![2u8];
        err.extend(5u32.to_le_bytes());
        err.extend(b"fault");
        assert!(matches!(answer(&err), Ok(Answer::Error(t)) if t == "fault"));
        let mut long = vec![2u8];
        long.extend(((MAX_ERROR_BYTES + 1) as u32).to_le_bytes());
        assert!(answer(&long).is_err());
        assert!(answer(&[3]).is_err());
        assert!(answer(&[]).is_err());
    }

    proptest::proptest! {
        /// Whatever a child taken over writes: an answer or an error, never a panic, and never
        /// more than a 4K picture allocated.
        #[test]
        fn any_bytes_from_a_child_are_survived(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = answer(&bytes);
        }
    }
}
