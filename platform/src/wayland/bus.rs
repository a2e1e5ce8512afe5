//! The portal's D-Bus side: one connection to the session bus per process, owned by one thread
//! (`lotse-dbus`), spoken through libdbus (the `dbus` crate). Every desktop already loads
//! libdbus (GTK's accessibility bridge links it), so this costs the download ~0.1 MB where a
//! D-Bus implementation of our own (zbus, under ashpd) cost ~0.75 MB.
//!
//! Why one thread: a portal session belongs to the connection that created it, so every call
//! for a session goes through one connection; and a libdbus connection must not be read from two
//! threads at once. The async portal code hands each step to the thread as a closure
//! ([`Bus::run`]) and awaits the outcome; the steps run one after another, in order.
//!
//! A request that shows a dialog (`Start`, `SelectSources` …) answers with a `Request` object
//! whose `Response` signal carries the outcome. We subscribe to that signal before calling,
//! on the object path the portal will use (the documented `handle_token` scheme), so that an
//! answer that comes quickly is not lost, and accept it only from the portal's own connection
//! (its unique name, checked on every message: another program on the bus cannot answer the
//! system's dialog for the person, not even with a signal sent to us directly). If the portal
//! goes away while its dialog is open, the request fails instead of waiting for ever.

use super::PortalError;
use dbus::arg::{PropMap, RefArg, Variant};
use dbus::blocking::Connection;
use dbus::message::MatchRule;
use dbus::{Message, Path};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

const DEST: &str = "org.freedesktop.portal.Desktop";
const OBJECT: &str = "/org/freedesktop/portal/desktop";
pub(super) const SCREENCAST: &str = "org.freedesktop.portal.ScreenCast";
pub(super) const REMOTE_DESKTOP: &str = "org.freedesktop.portal.RemoteDesktop";
const REQUEST: &str = "org.freedesktop.portal.Request";
const DBUS: &str = "org.freedesktop.DBus";
const SESSION: &str = "org.freedesktop.portal.Session";

/// A call that shows nothing to the person and takes longer than this has hung.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// `types` of `SelectSources`: monitors (not windows).
const SOURCE_MONITOR: u32 = 1;
/// `cursor_mode` of `SelectSources`.
pub(super) const CURSOR_HIDDEN: u32 = 1;
pub(super) const CURSOR_EMBEDDED: u32 = 2;
/// `types` of `SelectDevices`, and the `devices` a `Start` granted.
pub(super) const DEVICE_KEYBOARD: u32 = 1;
pub(super) const DEVICE_POINTER: u32 = 2;
/// `persist_mode`: never remember the grant (no restore token is asked for or kept).
const PERSIST_DO_NOT: u32 = 0;
/// `axis` of `NotifyPointerAxisDiscrete`.
pub(super) const AXIS_VERTICAL: u32 = 0;
pub(super) const AXIS_HORIZONTAL: u32 = 1;

type Job = Box<dyn FnOnce(&Connection) + Send>;

/// The process's D-Bus thread; cheap to clone.
#[derive(Clone, Debug)]
pub(super) struct Bus {
    jobs: mpsc::Sender<Job>,
}

impl Bus {
    /// The process's bus thread, started (and connected to the session bus) on first use.
    pub(super) fn get() -> Result<Bus, PortalError> {
        static BUS: Mutex<Option<Bus>> = Mutex::new(None);
        let mut slot = BUS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bus) = slot.as_ref()
            && bus.jobs.send(Box::new(|_| {})).is_ok()
        {
            return Ok(bus.clone());
        }
        let bus = Bus::start()?;
        *slot = Some(bus.clone());
        Ok(bus)
    }

    fn start() -> Result<Bus, PortalError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("lotse-dbus".into())
            .spawn(move || {
                let conn = match Connection::new_session() {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(text(&e)));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                for job in rx {
                    job(&conn);
                }
            })
            .map_err(|e| PortalError::Failed(format!("cannot start the D-Bus thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Bus { jobs }),
            Ok(Err(e)) => Err(PortalError::NoBus(e)),
            Err(_) => Err(stopped()),
        }
    }

    /// Runs `f` on the bus thread, after everything handed to it before, and returns its outcome.
    pub(super) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, PortalError> + Send + 'static,
    ) -> Result<R, PortalError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |c| {
                let _ = tx.send(f(c));
            }))
            .map_err(|_| stopped())?;
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> PortalError {
    PortalError::Failed("the D-Bus thread stopped".into())
}

fn text(e: &dbus::Error) -> String {
    match (e.name(), e.message()) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (None, Some(m)) => m.to_string(),
        (Some(n), None) => n.to_string(),
        (None, None) => "unknown D-Bus error".into(),
    }
}

/// What a failed call means for the person.
fn classify(e: &dbus::Error, interface: &'static str) -> PortalError {
    let Some(kind) = e
        .name()
        .and_then(|n| n.strip_prefix("org.freedesktop.DBus.Error."))
    else {
        return PortalError::Failed(text(e));
    };
    // A portal service that runs without this interface (no backend for it) answers
    // `Properties.Get` with "No such interface"; a missing property is no missing interface.
    let no_interface = kind == "InvalidArgs"
        && e.message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("no such interface"));
    match kind {
        // The portal service is not there (not installed, not activatable).
        "ServiceUnknown" | "UnknownInterface" | "UnknownObject" => PortalError::Missing(interface),
        _ if no_interface => PortalError::Missing(interface),
        "NoServer" | "Disconnected" | "FileNotFound" | "NoNetwork" => PortalError::NoBus(text(e)),
        _ => PortalError::Failed(text(e)),
    }
}

fn bad(e: impl std::fmt::Display) -> PortalError {
    PortalError::Failed(format!("the desktop portal sent something unexpected: {e}"))
}

fn desktop(c: &Connection) -> dbus::blocking::Proxy<'_, &Connection> {
    c.with_proxy(DEST, OBJECT, CALL_TIMEOUT)
}

/// The interface's `version` property: a missing service or bus is that error; a portal that
/// does not say is version 0 (too old).
pub(super) fn version(c: &Connection, interface: &'static str) -> Result<u32, PortalError> {
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
    match desktop(c).get::<u32>(interface, "version") {
        Ok(v) => Ok(v),
        Err(e) => match classify(&e, name(interface)) {
            e @ (PortalError::Missing(_) | PortalError::NoBus(_)) => Err(e),
            _ => Ok(0),
        },
    }
}

/// The ScreenCast portal's `AvailableCursorModes` (a bit set).
pub(super) fn cursor_modes(c: &Connection) -> Result<u32, PortalError> {
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
    desktop(c)
        .get::<u32>(SCREENCAST, "AvailableCursorModes")
        .map_err(|e| classify(&e, "ScreenCast"))
}

fn name(interface: &str) -> &'static str {
    if interface == REMOTE_DESKTOP {
        "RemoteDesktop"
    } else {
        "ScreenCast"
    }
}

/// One of the screens the portal shares: its PipeWire node, position in the desktop and logical
/// size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Source {
    pub node: u32,
    pub position: (i32, i32),
    pub size: (u32, u32),
}

/// The results of a request the person (or the desktop) answered "yes".
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Results {
    pub session: Option<String>,
    pub devices: u32,
    pub streams: Vec<Source>,
}

/// A `Response` signal: 0 = yes, 1 = the person cancelled, 2 = the desktop ended it otherwise.
fn decode(msg: &Message) -> Result<Results, PortalError> {
    let (code, results): (u32, PropMap) = msg.read2().map_err(bad)?;
    match code {
        0 => {}
        1 => return Err(PortalError::Cancelled),
        n => {
            return Err(PortalError::Failed(format!(
                "the desktop ended the request (response {n})"
            )));
        }
    }
    let session = results
        .get("session_handle")
        .and_then(|v| v.0.as_str())
        .map(str::to_owned);
    let devices = results
        .get("devices")
        .and_then(|v| v.0.as_u64())
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(0);
    let mut streams = Vec::new();
    if let Some(list) = results.get("streams").and_then(|v| v.0.as_iter()) {
        for stream in list {
            streams.push(source(stream).ok_or_else(|| bad("a stream that is not (u a{sv})"))?);
        }
    }
    Ok(Results {
        session,
        devices,
        streams,
    })
}

/// One `(u a{sv})` of `streams`: the node, and `position` / `size` when the portal says.
fn source(stream: &dyn RefArg) -> Option<Source> {
    let mut fields = stream.as_iter()?;
    let node = u32::try_from(fields.next()?.as_u64()?).ok()?;
    let mut position = (0, 0);
    let mut size = (0, 0);
    let mut props = fields.next()?.as_iter()?;
    while let (Some(key), Some(value)) = (props.next(), props.next()) {
        let pair = || -> Option<(i64, i64)> {
            // The value is a variant holding an (ii).
            let inner = value.as_iter()?.next()?;
            let mut xy = inner.as_iter()?;
            Some((xy.next()?.as_i64()?, xy.next()?.as_i64()?))
        };
        match (key.as_str(), pair()) {
            (Some("position"), Some((x, y))) => {
                position = (i32::try_from(x).ok()?, i32::try_from(y).ok()?);
            }
            (Some("size"), Some((w, h))) => {
                size = (u32::try_from(w.max(0)).ok()?, u32::try_from(h.max(0)).ok()?);
            }
            _ => {}
        }
    }
    Some(Source {
        node,
        position,
        size,
    })
}

/// A request token: unique in this process, letters, digits and `_` only.
fn token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "lotse{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Calls `method`, whose last argument is the options (with our `handle_token` added), and
/// waits for the person's answer in the system's dialog, however long that takes.
fn request(
    c: &Connection,
    interface: &'static str,
    method: &'static str,
    args: impl FnOnce(Message, PropMap) -> Message,
    mut options: PropMap,
) -> Result<Results, PortalError> {
    let fail = |e: dbus::Error| classify(&e, name(interface));
    let token = token();
    let sender = c.unique_name().to_string();
    let expected = format!(
        "{OBJECT}/request/{}/{token}",
        sender.trim_start_matches(':').replace('.', "_")
    );
    // The portal's own connection: a call to it starts it if it is not running.
    desktop(c)
        .method_call::<(), _, _, _>("org.freedesktop.DBus.Peer", "Ping", ())
        .map_err(fail)?;
    let (portal,): (String,) = c
        .with_proxy(DBUS, "/org/freedesktop/DBus", CALL_TIMEOUT)
        .method_call(DBUS, "GetNameOwner", (DEST,))
        .map_err(fail)?;
    let answer: Arc<Mutex<Option<Result<Results, PortalError>>>> = Arc::default();
    let subscribe = |path: &str| {
        let path = Path::new(path.to_owned()).map_err(bad)?;
        let rule = MatchRule::new_signal(REQUEST, "Response")
            .with_strict_sender(portal.clone())
            .with_path(path);
        let slot = answer.clone();
        c.add_match(rule, move |(): (), _, msg: &Message| {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(decode(msg));
            false
        })
        .map_err(fail)
    };
    // The portal leaving the bus (it crashed or was stopped) ends the wait.
    let watch_owner = || {
        let rule = MatchRule::new_signal(DBUS, "NameOwnerChanged").with_strict_sender(DBUS);
        let (slot, owner) = (answer.clone(), portal.clone());
        c.add_match(
            rule,
            move |(name, old, _new): (String, String, String), _, _: &Message| {
                if name == DEST && old == owner {
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(Err(PortalError::Failed(
                            "the desktop portal stopped while its dialog was open".into(),
                        )));
                    return false;
                }
                true
            },
        )
        .map_err(fail)
    };
    // Every match made is removed below, whatever happens in between.
    let mut subscribed = Vec::new();
    options.insert("handle_token".into(), Variant(Box::new(token)));
    let outcome = (|| {
        subscribed.push(subscribe(&expected)?);
        subscribed.push(watch_owner()?);
        let call = Message::new_method_call(DEST, OBJECT, interface, method).map_err(bad)?;
        let reply = c
            .channel()
            .send_with_reply_and_block(args(call, options), CALL_TIMEOUT)
            .map_err(fail)?;
        let handle: Path = reply.read1().map_err(bad)?;
        // Portals older than the handle_token scheme pick their own path.
        if *handle != *expected {
            subscribed.push(subscribe(&handle)?);
        }
        loop {
            if let Some(a) = answer.lock().unwrap_or_else(PoisonError::into_inner).take() {
                return a;
            }
            c.process(Duration::from_millis(500)).map_err(fail)?;
        }
    })();
    for id in subscribed {
        // A match that fired has removed itself.
        let _ = c.remove_match(id);
    }
    outcome
}

fn options(pairs: Vec<(&str, Box<dyn RefArg>)>) -> PropMap {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Variant(v)))
        .collect()
}

/// `CreateSession` on `interface`: the new session's object path.
pub(super) fn create_session(
    c: &Connection,
    interface: &'static str,
) -> Result<Path<'static>, PortalError> {
    let results = request(
        c,
        interface,
        "CreateSession",
        |m, o| m.append1(o),
        options(vec![("session_handle_token", Box::new(token()))]),
    )?;
    let session = results
        .session
        .ok_or_else(|| bad("CreateSession gave no session_handle"))?;
    Path::new(session).map_err(bad)
}

/// `SelectSources`: monitors, several allowed, the pointer drawn as `cursor`.
pub(super) fn select_sources(
    c: &Connection,
    session: &Path<'static>,
    cursor: u32,
) -> Result<(), PortalError> {
    let choices: Vec<(&str, Box<dyn RefArg>)> = vec![
        ("types", Box::new(SOURCE_MONITOR)),
        ("multiple", Box::new(true)),
        ("cursor_mode", Box::new(cursor)),
    ];
    select(c, SCREENCAST, "SelectSources", session, choices)
}

/// `SelectDevices`: `types` (keyboard, pointer).
pub(super) fn select_devices(
    c: &Connection,
    session: &Path<'static>,
    types: u32,
) -> Result<(), PortalError> {
    let choices: Vec<(&str, Box<dyn RefArg>)> = vec![("types", Box::new(types))];
    select(c, REMOTE_DESKTOP, "SelectDevices", session, choices)
}

/// What a session asks for, never persisted (no restore token is asked for or kept).
fn select(
    c: &Connection,
    interface: &'static str,
    method: &'static str,
    session: &Path<'static>,
    mut choices: Vec<(&str, Box<dyn RefArg>)>,
) -> Result<(), PortalError> {
    choices.push(("persist_mode", Box::new(PERSIST_DO_NOT)));
    let session = session.clone();
    request(
        c,
        interface,
        method,
        |m, o| m.append2(session, o),
        options(choices),
    )
    .map(drop)
}

/// `Start`: shows the system's dialog in front of `parent` (an X11 window id) and waits for it.
pub(super) fn start(
    c: &Connection,
    interface: &'static str,
    session: &Path<'static>,
    parent: Option<u64>,
) -> Result<Results, PortalError> {
    let session = session.clone();
    let parent = parent
        .map(|xid| format!("x11:0x{xid:x}"))
        .unwrap_or_default();
    request(
        c,
        interface,
        "Start",
        |m, o| m.append3(session, parent, o),
        PropMap::new(),
    )
}

/// `OpenPipeWireRemote`: the PipeWire connection with the session's streams.
pub(super) fn open_pipewire_remote(
    c: &Connection,
    session: &Path<'static>,
) -> Result<OwnedFd, PortalError> {
    desktop(c)
        .method_call::<(OwnedFd,), _, _, _>(
            SCREENCAST,
            "OpenPipeWireRemote",
            (session.clone(), PropMap::new()),
        )
        .map(|(fd,)| fd)
        .map_err(|e| PortalError::PipeWire(text(&e)))
}

/// Ends a session: the desktop stops sharing at once.
pub(super) fn close(c: &Connection, session: &Path<'static>) -> Result<(), PortalError> {
    c.with_proxy(DEST, session.clone(), CALL_TIMEOUT)
        .method_call::<(), _, _, _>(SESSION, "Close", ())
        .map_err(|e| PortalError::Failed(text(&e)))
}

/// A RemoteDesktop `Notify…` call; `args` follow the session and the (empty) options.
pub(super) fn notify<A: dbus::arg::AppendAll>(
    c: &Connection,
    session: &Path<'static>,
    method: &'static str,
    args: A,
) -> Result<(), PortalError> {
    let mut m = Message::new_method_call(DEST, OBJECT, REMOTE_DESKTOP, method).map_err(bad)?;
    m = m.append2(session.clone(), PropMap::new());
    let mut iter = dbus::arg::IterAppend::new(&mut m);
    args.append(&mut iter);
    c.channel()
        .send_with_reply_and_block(m, CALL_TIMEOUT)
        .map(drop)
        .map_err(|e| PortalError::Failed(text(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(code: u32, results: PropMap) -> Message {
        Message::new_signal(
            "/org/freedesktop/portal/desktop/request/1_2/t",
            REQUEST,
            "Response",
        )
        .expect("signal")
        .append2(code, results)
    }

    fn pair(a: i32, b: i32) -> Variant<Box<dyn RefArg>> {
        Variant(Box::new((a, b)))
    }

    #[test]
    fn a_response_gives_the_session_devices_and_every_screen() {
        let screens: Vec<(u32, PropMap)> = vec![
            (
                44,
                [
                    ("position".to_owned(), pair(1920, 0)),
                    ("size".to_owned(), pair(1280, 1024)),
                ]
                .into_iter()
                .collect(),
            ),
            // A portal that does not say where or how big.
            (45, PropMap::new()),
        ];
        let results = options(vec![
            (
                "session_handle",
                Box::new("/org/freedesktop/portal/desktop/session/1_2/s".to_owned()),
            ),
            ("devices", Box::new(DEVICE_KEYBOARD | DEVICE_POINTER)),
            ("streams", Box::new(screens)),
        ]);
        let got = decode(&response(0, results)).expect("decoded");
        assert_eq!(
            got,
            Results {
                session: Some("/org/freedesktop/portal/desktop/session/1_2/s".into()),
                devices: 3,
                streams: vec![
                    Source {
                        node: 44,
                        position: (1920, 0),
                        size: (1280, 1024)
                    },
                    Source {
                        node: 45,
                        position: (0, 0),
                        size: (0, 0)
                    },
                ],
            }
        );
    }

    #[test]
    fn a_cancelled_or_ended_request_is_an_error_and_bad_streams_are_refused() {
        assert_eq!(
            decode(&response(1, PropMap::new())),
            Err(PortalError::Cancelled)
        );
        assert!(matches!(
            decode(&response(2, PropMap::new())),
            Err(PortalError::Failed(_))
        ));
        // `streams` that are not (u a{sv}): refused, not guessed.
        let results = options(vec![("streams", Box::new(vec!["x".to_owned()]))]);
        assert!(matches!(
            decode(&response(0, results)),
            Err(PortalError::Failed(_))
        ));
        // Negative sizes are no size.
        let screens: Vec<(u32, PropMap)> =
            vec![(7, [("size".to_owned(), pair(-5, 10))].into_iter().collect())];
        let got = decode(&response(0, options(vec![("streams", Box::new(screens))]))).unwrap();
        assert_eq!(got.streams[0].size, (0, 10));
    }

    #[test]
    fn errors_name_what_is_missing() {
        let e = dbus::Error::new_custom("org.freedesktop.DBus.Error.ServiceUnknown", "no");
        assert_eq!(
            classify(&e, "ScreenCast"),
            PortalError::Missing("ScreenCast")
        );
        let e = dbus::Error::new_custom(
            "org.freedesktop.DBus.Error.InvalidArgs",
            "No such interface “org.freedesktop.portal.RemoteDesktop”",
        );
        assert_eq!(
            classify(&e, "RemoteDesktop"),
            PortalError::Missing("RemoteDesktop")
        );
        // A portal without the `version` property: not missing (the version check then says
        // "too old").
        let e = dbus::Error::new_custom(
            "org.freedesktop.DBus.Error.InvalidArgs",
            "No such property “version”",
        );
        assert!(matches!(classify(&e, "ScreenCast"), PortalError::Failed(_)));
        let e = dbus::Error::new_custom("org.freedesktop.DBus.Error.NoServer", "gone");
        assert!(matches!(classify(&e, "ScreenCast"), PortalError::NoBus(_)));
        let e = dbus::Error::new_custom("org.example.Other", "x");
        assert!(matches!(classify(&e, "ScreenCast"), PortalError::Failed(_)));
        assert!(
            token()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        );
        assert_ne!(token(), token());
    }
}
