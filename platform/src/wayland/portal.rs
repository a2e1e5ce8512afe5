//! The portal session shared by the capturer and the injector, driven to the [`Access`] level
//! the customer granted.

use super::stream::{self, PwStream, Screen};
use super::{Access, PortalError};
use crate::capture::Monitor;
use ashpd::WindowIdentifier;
use ashpd::desktop::remote_desktop::{Axis, DeviceType, KeyState, RemoteDesktop};
use ashpd::desktop::screencast::{CursorMode, Screencast, SourceType, Stream};
use ashpd::desktop::{PersistMode, Session};
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// The oldest interface versions we use: ScreenCast 2 has the cursor modes (so the rep sees
/// the pointer); RemoteDesktop 1 has everything the injector calls.
const SCREENCAST_VERSION: u32 = 2;
const REMOTE_DESKTOP_VERSION: u32 = 1;

/// A handle on the portal session; cheap to clone, shared by capturer, injector and window.
#[derive(Clone, Debug)]
pub struct Portal {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rt: &'static tokio::runtime::Runtime,
    /// The session, touched only on the portal runtime.
    active: tokio::sync::Mutex<Option<Active>>,
    /// One request at a time: a second dialog never opens while one is up.
    ops: tokio::sync::Mutex<()>,
    screen: Arc<Screen>,
    input: mpsc::UnboundedSender<Input>,
    /// The window the system's dialogs belong to (X11 id), so they open in front of it.
    parent: Option<u64>,
}

/// One running portal session.
struct Active {
    access: Access,
    remote: Option<(
        RemoteDesktop<'static>,
        Session<'static, RemoteDesktop<'static>>,
    )>,
    cast: Option<Session<'static, Screencast<'static>>>,
    /// The PipeWire node of the screen being streamed and its logical size (pointer
    /// coordinates): one of `sources`.
    node: u32,
    size: (u32, u32),
    /// Every screen the person selected in the system's dialog, in the portal's order.
    sources: Vec<Source>,
    /// When the desktop granted it; input waits [`SETTLE`] after that.
    since: tokio::time::Instant,
    _stream: PwStream,
}

/// One screen the portal shares: its PipeWire node, position in the desktop and logical size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Source {
    node: u32,
    position: (i32, i32),
    size: (u32, u32),
}

impl Source {
    fn of(stream: &Stream) -> Source {
        Source {
            node: stream.pipe_wire_node_id(),
            position: stream.position().unwrap_or((0, 0)),
            size: stream
                .size()
                .map(|(w, h)| (w.max(0) as u32, h.max(0) as u32))
                .unwrap_or((0, 0)),
        }
    }
}

/// Mutter 43 creates a session's virtual keyboard asynchronously after `Start` and drops keys
/// that come before it is ready (measured here: keys sent within milliseconds of the grant were
/// lost, keys ~1.5 s later arrived, in most runs). A rep's first input comes later anyway; this
/// only keeps a very early burst from being lost. TODO(mutter): no signal tells when the device
/// is ready.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(1000);

impl std::fmt::Debug for Active {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Active")
            .field("access", &self.access)
            .field("node", &self.node)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Active {
    async fn close(self) {
        if let Some((_, s)) = &self.remote
            && let Err(e) = s.close().await
        {
            debug!("closing the remote-desktop session: {e}");
        }
        if let Some(s) = &self.cast
            && let Err(e) = s.close().await
        {
            debug!("closing the screen-cast session: {e}");
        }
    }
}

/// An input event in the portal's terms.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Input {
    /// Absolute position in the shared screen's pixels.
    Motion(u32, u32),
    /// An evdev button code (`BTN_LEFT` …).
    Button(i32, bool),
    /// Wheel steps; positive is down / right.
    Wheel(i32, i32),
    /// An evdev key code.
    Key(i32, bool),
    /// An X keysym, for characters without a key.
    Keysym(i32, bool),
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, PortalError> {
    // ashpd keeps one session-bus connection per process whose tasks live on the runtime it was
    // made on: so there is one runtime, for the life of the process.
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lotse-portal")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| PortalError::Failed(format!("cannot start the portal thread: {e}")))
}

impl Portal {
    /// Checks that the desktop offers the ScreenCast and RemoteDesktop portals in versions we can
    /// use. Shows nothing to the person and asks for nothing. `parent`: the X11 id of our window,
    /// for the system's dialogs. Blocks; call it outside any async runtime.
    pub fn connect(parent: Option<u64>) -> Result<Portal, PortalError> {
        let rt = runtime()?;
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), check_versions())
                .await
                .map_err(|_| PortalError::Failed("the desktop portal does not answer".into()))?
        })?;
        let screen = Arc::new(Screen::default());
        let (input, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            rt,
            active: tokio::sync::Mutex::new(None),
            ops: tokio::sync::Mutex::new(()),
            screen,
            input,
            parent,
        });
        rt.spawn(inject_loop(Arc::downgrade(&inner), rx));
        Ok(Portal { inner })
    }

    /// Brings the session to `access`, showing the system's dialog when more is needed; calls
    /// `done` with the outcome on the portal thread. Less than the session gives (control taken
    /// back while the screen stays shared) keeps the session as it is: our consent gate already
    /// stops the input. [`Access::None`] closes the session.
    pub fn request(
        &self,
        access: Access,
        done: impl FnOnce(Result<(), PortalError>) + Send + 'static,
    ) {
        let inner = self.inner.clone();
        self.inner.rt.spawn(async move {
            done(apply(&inner, access).await);
        });
    }

    /// [`Portal::request`], waiting for the outcome. Call it outside any async runtime.
    pub fn request_blocking(&self, access: Access) -> Result<(), PortalError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.request(access, move |r| {
            let _ = tx.send(r);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(PortalError::Failed("the portal thread stopped".into())))
    }

    /// Streams the `index`th of the screens the person selected in the system's dialog (the
    /// first is streamed after the grant). Call it outside any async runtime.
    pub fn select_blocking(&self, index: usize) -> Result<(), PortalError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let inner = self.inner.clone();
        self.inner.rt.spawn(async move {
            let _ = tx.send(switch(&inner, index).await);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(PortalError::Failed("the portal thread stopped".into())))
    }

    /// What the session gives now.
    pub fn access(&self) -> Access {
        self.inner.screen.lock().access
    }

    pub(crate) fn screen(&self) -> &Arc<Screen> {
        &self.inner.screen
    }

    pub(crate) fn send(&self, input: Input) {
        // Fails only when the portal is gone, and then there is nothing to inject into.
        let _ = self.inner.input.send(input);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: end the session so that the desktop stops sharing at once.
        if let Some(active) = self.active.get_mut().take() {
            self.rt.spawn(active.close());
        }
    }
}

async fn check_versions() -> Result<(), PortalError> {
    let cast = Screencast::new()
        .await
        .map_err(|e| missing(e, "ScreenCast"))?;
    // The proxy is made without asking the bus; the first call tells whether the portal exists.
    let v = version(cast.get_property::<u32>("version").await, "ScreenCast")?;
    if v < SCREENCAST_VERSION {
        return Err(PortalError::TooOld {
            interface: "ScreenCast",
            found: v,
            needed: SCREENCAST_VERSION,
        });
    }
    let remote = RemoteDesktop::new()
        .await
        .map_err(|e| missing(e, "RemoteDesktop"))?;
    let v = version(remote.get_property::<u32>("version").await, "RemoteDesktop")?;
    if v < REMOTE_DESKTOP_VERSION {
        return Err(PortalError::TooOld {
            interface: "RemoteDesktop",
            found: v,
            needed: REMOTE_DESKTOP_VERSION,
        });
    }
    Ok(())
}

/// An interface's version: absent service or bus → that error; a portal that does not say →
/// version 0 (too old).
fn version(
    read: Result<u32, ashpd::zbus::Error>,
    interface: &'static str,
) -> Result<u32, PortalError> {
    match read {
        Ok(v) => Ok(v),
        Err(e) => match missing(ashpd::Error::Zbus(e), interface) {
            e @ (PortalError::Missing(_) | PortalError::NoBus(_)) => Err(e),
            _ => Ok(0),
        },
    }
}

/// Maps the error of opening a portal interface.
fn missing(e: ashpd::Error, interface: &'static str) -> PortalError {
    match e {
        ashpd::Error::PortalNotFound(_) => PortalError::Missing(interface),
        ashpd::Error::Zbus(zbus_err) => match zbus_err {
            ashpd::zbus::Error::InputOutput(io) => PortalError::NoBus(io.to_string()),
            ashpd::zbus::Error::Address(a) => PortalError::NoBus(a),
            // The portal service itself is not there (not installed, not activatable).
            ashpd::zbus::Error::MethodError(name, ..)
                if name.as_str().contains("ServiceUnknown")
                    || name.as_str().contains("UnknownInterface")
                    || name.as_str().contains("UnknownObject") =>
            {
                PortalError::Missing(interface)
            }
            ashpd::zbus::Error::FDO(fdo)
                if matches!(
                    *fdo,
                    ashpd::zbus::fdo::Error::ServiceUnknown(_)
                        | ashpd::zbus::fdo::Error::UnknownInterface(_)
                        | ashpd::zbus::fdo::Error::UnknownObject(_)
                ) =>
            {
                PortalError::Missing(interface)
            }
            other => PortalError::Failed(other.to_string()),
        },
        other => failed(other),
    }
}

fn failed(e: ashpd::Error) -> PortalError {
    match e {
        ashpd::Error::Response(ashpd::desktop::ResponseError::Cancelled) => PortalError::Cancelled,
        ashpd::Error::Portal(ashpd::PortalError::Cancelled(_)) => PortalError::Cancelled,
        other => PortalError::Failed(other.to_string()),
    }
}

async fn apply(inner: &Arc<Inner>, want: Access) -> Result<(), PortalError> {
    let _one_at_a_time = inner.ops.lock().await;
    let current = inner
        .active
        .lock()
        .await
        .as_ref()
        .map_or(Access::None, |a| a.access);
    if want == Access::None {
        let old = inner.active.lock().await.take();
        inner.screen.update(|s| {
            s.generation += 1;
            s.monitors.clear();
            s.serial = 0;
            s.data = Vec::new();
            s.lost = None;
            s.access = Access::None;
        });
        if let Some(old) = old {
            info!("screen sharing ended");
            old.close().await;
        }
        return Ok(());
    }
    if current >= want {
        return Ok(());
    }
    inner.screen.update(|s| s.starting = true);
    let generation = inner.screen.lock().generation + 1;
    let parent = inner
        .parent
        .map(|xid| WindowIdentifier::from_xid(xid as std::os::raw::c_ulong))
        .unwrap_or_default();
    let started = match want {
        Access::Control => start_remote(inner, &parent, generation).await,
        _ => start_cast(inner, &parent, generation).await,
    };
    match started {
        Ok(active) => {
            info!(access = ?active.access, size = ?active.size, screens = active.sources.len(), "the desktop shares the screen");
            let several = active.sources.len() > 1;
            let monitors: Vec<Monitor> = active
                .sources
                .iter()
                .enumerate()
                .map(|(i, src)| Monitor {
                    name: if several {
                        format!("screen {}", i + 1)
                    } else {
                        "screen".into()
                    },
                    x: src.position.0,
                    y: src.position.1,
                    width: src.size.0,
                    height: src.size.1,
                    // The portal does not say which is the primary monitor.
                    primary: !several,
                })
                .collect();
            let old = inner.active.lock().await.replace(active);
            inner.screen.update(|s| {
                s.starting = false;
                s.access = want;
                s.generation = generation;
                s.lost = None;
                s.monitors = monitors;
                s.selected = 0;
            });
            if let Some(old) = old {
                old.close().await;
            }
            Ok(())
        }
        Err(e) => {
            inner.screen.update(|s| s.starting = false);
            Err(e)
        }
    }
}

/// Cursor drawn into the pictures when the portal can: the rep sees the pointer without any
/// metadata handling; otherwise hidden (the pictures still work).
async fn cursor_mode(cast: &Screencast<'static>) -> CursorMode {
    match cast.available_cursor_modes().await {
        Ok(modes) if modes.contains(CursorMode::Embedded) => CursorMode::Embedded,
        Ok(_) | Err(_) => {
            warn!("the portal cannot draw the pointer into the pictures; it will not be seen");
            CursorMode::Hidden
        }
    }
}

async fn start_cast(
    inner: &Arc<Inner>,
    parent: &WindowIdentifier,
    generation: u64,
) -> Result<Active, PortalError> {
    let cast = Screencast::new()
        .await
        .map_err(|e| missing(e, "ScreenCast"))?;
    let session = cast.create_session().await.map_err(failed)?;
    let cursor = cursor_mode(&cast).await;
    // Never persist: no restore token is asked for or kept.
    cast.select_sources(
        &session,
        cursor,
        SourceType::Monitor.into(),
        true,
        None,
        PersistMode::DoNot,
    )
    .await
    .map_err(failed)?;
    let response = cast.start(&session, parent).await.map_err(failed)?;
    let streams = response.response().map_err(failed)?;
    let result = connect_stream(inner, &cast, &session, streams.streams(), generation).await;
    match result {
        Ok((sources, stream)) => Ok(Active {
            access: Access::View,
            remote: None,
            cast: Some(session),
            node: sources[0].node,
            size: sources[0].size,
            sources,
            since: tokio::time::Instant::now(),
            _stream: stream,
        }),
        Err(e) => {
            let _ = session.close().await;
            Err(e)
        }
    }
}

async fn start_remote(
    inner: &Arc<Inner>,
    parent: &WindowIdentifier,
    generation: u64,
) -> Result<Active, PortalError> {
    let remote = RemoteDesktop::new()
        .await
        .map_err(|e| missing(e, "RemoteDesktop"))?;
    let cast = Screencast::new()
        .await
        .map_err(|e| missing(e, "ScreenCast"))?;
    let session = remote.create_session().await.map_err(failed)?;
    let wanted = DeviceType::Keyboard | DeviceType::Pointer;
    let result = async {
        remote
            .select_devices(&session, wanted, None, PersistMode::DoNot)
            .await
            .map_err(failed)?;
        let cursor = cursor_mode(&cast).await;
        cast.select_sources(
            &session,
            cursor,
            SourceType::Monitor.into(),
            true,
            None,
            PersistMode::DoNot,
        )
        .await
        .map_err(failed)?;
        let response = remote.start(&session, parent).await.map_err(failed)?;
        let selected = response.response().map_err(failed)?;
        // "Allow remote interaction" left off: the portal shares the screen but no devices.
        if !selected.devices().contains(wanted) {
            return Err(PortalError::NoInteraction);
        }
        let streams = selected.streams().unwrap_or_default();
        connect_stream(inner, &cast, &session, streams, generation).await
    }
    .await;
    match result {
        Ok((sources, stream)) => Ok(Active {
            access: Access::Control,
            remote: Some((remote, session)),
            cast: None,
            node: sources[0].node,
            size: sources[0].size,
            sources,
            since: tokio::time::Instant::now(),
            _stream: stream,
        }),
        Err(e) => {
            let _ = session.close().await;
            Err(e)
        }
    }
}

/// Opens the PipeWire connection the portal hands out and starts the first screen's stream.
async fn connect_stream<T: ashpd::desktop::screencast::HasScreencastSession>(
    inner: &Arc<Inner>,
    cast: &Screencast<'static>,
    session: &Session<'static, T>,
    streams: &[Stream],
    generation: u64,
) -> Result<(Vec<Source>, PwStream), PortalError> {
    // Left to right, top to bottom, as the rep's monitor switch shows them (the portal's own
    // order follows the person's clicks).
    let mut sources: Vec<Source> = streams.iter().map(Source::of).collect();
    sources.sort_by_key(|s| (s.position.0, s.position.1));
    let Some(first) = sources.first() else {
        return Err(PortalError::NoScreen);
    };
    let stream = open_stream(inner, cast, session, first.node, generation).await?;
    Ok((sources, stream))
}

/// Streams node `node` of `session` into the shared screen state as stream `generation`.
async fn open_stream<T: ashpd::desktop::screencast::HasScreencastSession>(
    inner: &Arc<Inner>,
    cast: &Screencast<'static>,
    session: &Session<'static, T>,
    node: u32,
    generation: u64,
) -> Result<PwStream, PortalError> {
    let fd = cast
        .open_pipe_wire_remote(session)
        .await
        .map_err(|e| PortalError::PipeWire(e.to_string()))?;
    // Pictures of the new stream are accepted from now on.
    inner.screen.update(|s| {
        s.generation = generation;
        s.serial = 0;
    });
    stream::start(fd, node, inner.screen.clone(), generation).await
}

/// Streams the `index`th of the screens the person selected (the rep's monitor switch). The
/// pointer's coordinates follow: they are in the streamed screen's pixels.
async fn switch(inner: &Arc<Inner>, index: usize) -> Result<(), PortalError> {
    let _one_at_a_time = inner.ops.lock().await;
    let mut active = inner.active.lock().await;
    let Some(a) = active.as_mut() else {
        return Err(PortalError::Failed("nothing is shared".into()));
    };
    let Some(source) = a.sources.get(index).copied() else {
        return Err(PortalError::NoScreen);
    };
    if source.node == a.node {
        return Ok(());
    }
    let cast = Screencast::new()
        .await
        .map_err(|e| missing(e, "ScreenCast"))?;
    let generation = inner.screen.lock().generation + 1;
    let stream = match (&a.cast, &a.remote) {
        (Some(session), _) => open_stream(inner, &cast, session, source.node, generation).await?,
        (None, Some((_, session))) => {
            open_stream(inner, &cast, session, source.node, generation).await?
        }
        (None, None) => return Err(PortalError::Failed("nothing is shared".into())),
    };
    // The old stream stops when it is dropped here.
    a._stream = stream;
    a.node = source.node;
    a.size = source.size;
    inner.screen.update(|s| s.selected = index);
    info!(index, size = ?source.size, "streaming another of the shared screens");
    Ok(())
}

/// Injects what the [`super::WaylandInjector`] sends, in order, into the current session.
async fn inject_loop(inner: std::sync::Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Input>) {
    while let Some(input) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let active = inner.active.lock().await;
        let Some(a) = active.as_ref() else {
            debug!("input dropped: nothing is shared");
            continue;
        };
        let Some((remote, session)) = a.remote.as_ref() else {
            debug!("input dropped: the desktop granted no control");
            continue;
        };
        tokio::time::sleep_until(a.since + SETTLE).await;
        let state = |down: bool| {
            if down {
                KeyState::Pressed
            } else {
                KeyState::Released
            }
        };
        let result = match input {
            Input::Motion(x, y) => {
                let x = f64::from(x.min(a.size.0.saturating_sub(1)));
                let y = f64::from(y.min(a.size.1.saturating_sub(1)));
                remote
                    .notify_pointer_motion_absolute(session, a.node, x, y)
                    .await
            }
            Input::Button(code, down) => {
                remote
                    .notify_pointer_button(session, code, state(down))
                    .await
            }
            Input::Wheel(dx, dy) => {
                let mut r = Ok(());
                if dy != 0 {
                    r = remote
                        .notify_pointer_axis_discrete(session, Axis::Vertical, dy)
                        .await;
                }
                if dx != 0 && r.is_ok() {
                    r = remote
                        .notify_pointer_axis_discrete(session, Axis::Horizontal, dx)
                        .await;
                }
                r
            }
            Input::Key(code, down) => {
                remote
                    .notify_keyboard_keycode(session, code, state(down))
                    .await
            }
            Input::Keysym(sym, down) => {
                remote
                    .notify_keyboard_keysym(session, sym, state(down))
                    .await
            }
        };
        if let Err(e) = result {
            debug!("input not injected: {e}");
        }
    }
}
