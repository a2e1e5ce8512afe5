//! The portal session shared by the capturer and the injector, driven to the [`Access`] level
//! the customer granted.

use super::bus::{self, Bus, Source};
use super::stream::{self, PwStream, Screen};
use super::{Access, PortalError};
use crate::capture::Monitor;
use dbus::Path;
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
    bus: Bus,
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
    /// The portal session: a ScreenCast one for [`Access::View`], a RemoteDesktop one (with
    /// screen sources) for [`Access::Control`].
    session: Path<'static>,
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
    async fn close(self, bus: Bus) {
        let session = self.session.clone();
        if let Err(e) = bus.run(move |c| bus::close(c, &session)).await {
            debug!("closing the portal session: {e}");
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
    // One runtime for the life of the process; the D-Bus calls themselves run on the bus thread.
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
        let bus = Bus::get()?;
        rt.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                check_versions(bus.clone()),
            )
            .await
            .map_err(|_| PortalError::Failed("the desktop portal does not answer".into()))?
        })?;
        let screen = Arc::new(Screen::default());
        let (input, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            rt,
            bus,
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
            self.rt.spawn(active.close(self.bus.clone()));
        }
    }
}

async fn check_versions(bus: Bus) -> Result<(), PortalError> {
    bus.run(|c| {
        for (interface, name, needed) in [
            (bus::SCREENCAST, "ScreenCast", SCREENCAST_VERSION),
            (bus::REMOTE_DESKTOP, "RemoteDesktop", REMOTE_DESKTOP_VERSION),
        ] {
            let found = bus::version(c, interface)?;
            if found < needed {
                return Err(PortalError::TooOld {
                    interface: name,
                    found,
                    needed,
                });
            }
        }
        Ok(())
    })
    .await
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
            old.close(inner.bus.clone()).await;
        }
        return Ok(());
    }
    if current >= want {
        return Ok(());
    }
    inner.screen.update(|s| s.starting = true);
    let generation = inner.screen.lock().generation + 1;
    let started = start(inner, want == Access::Control, generation).await;
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
                old.close(inner.bus.clone()).await;
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
/// metadata handling; otherwise hidden (the pictures still work). Runs on the bus thread.
fn cursor_mode(c: &dbus::blocking::Connection) -> u32 {
    match bus::cursor_modes(c) {
        Ok(modes) if modes & bus::CURSOR_EMBEDDED != 0 => bus::CURSOR_EMBEDDED,
        Ok(_) | Err(_) => {
            warn!("the portal cannot draw the pointer into the pictures; it will not be seen");
            bus::CURSOR_HIDDEN
        }
    }
}

/// Asks for the screen — a ScreenCast session, the system's "Share screen" dialog — or, with
/// `control`, for the screen, pointer and keyboard: a RemoteDesktop session with screen sources,
/// the system's "Remote desktop" dialog. The session when its stream runs; otherwise it is closed.
async fn start(inner: &Arc<Inner>, control: bool, generation: u64) -> Result<Active, PortalError> {
    let (interface, access) = if control {
        (bus::REMOTE_DESKTOP, Access::Control)
    } else {
        (bus::SCREENCAST, Access::View)
    };
    let parent = inner.parent;
    let session = inner
        .bus
        .run(move |c| bus::create_session(c, interface))
        .await?;
    let s = session.clone();
    let wanted = bus::DEVICE_KEYBOARD | bus::DEVICE_POINTER;
    let asked = inner
        .bus
        .run(move |c| {
            if control {
                bus::select_devices(c, &s, wanted)?;
            }
            bus::select_sources(c, &s, cursor_mode(c))?;
            bus::start(c, interface, &s, parent)
        })
        .await;
    let result = match asked {
        // "Allow remote interaction" left off: the portal shares the screen but no devices.
        Ok(answer) if control && answer.devices & wanted != wanted => {
            Err(PortalError::NoInteraction)
        }
        Ok(answer) => connect_stream(inner, &session, answer.streams, generation).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((sources, stream)) => Ok(Active {
            access,
            session,
            node: sources[0].node,
            size: sources[0].size,
            sources,
            since: tokio::time::Instant::now(),
            _stream: stream,
        }),
        Err(e) => {
            let _ = inner.bus.run(move |c| bus::close(c, &session)).await;
            Err(e)
        }
    }
}

/// Opens the PipeWire connection the portal hands out and starts the first screen's stream.
async fn connect_stream(
    inner: &Arc<Inner>,
    session: &Path<'static>,
    mut sources: Vec<Source>,
    generation: u64,
) -> Result<(Vec<Source>, PwStream), PortalError> {
    // Left to right, top to bottom, as the rep's monitor switch shows them (the portal's own
    // order follows the person's clicks).
    sources.sort_by_key(|s| (s.position.0, s.position.1));
    let Some(first) = sources.first() else {
        return Err(PortalError::NoScreen);
    };
    let stream = open_stream(inner, session, first.node, generation).await?;
    Ok((sources, stream))
}

/// Streams node `node` of `session` into the shared screen state as stream `generation`.
async fn open_stream(
    inner: &Arc<Inner>,
    session: &Path<'static>,
    node: u32,
    generation: u64,
) -> Result<PwStream, PortalError> {
    let s = session.clone();
    let fd = inner
        .bus
        .run(move |c| bus::open_pipewire_remote(c, &s))
        .await?;
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
    let generation = inner.screen.lock().generation + 1;
    let stream = open_stream(inner, &a.session, source.node, generation).await?;
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
        if a.access != Access::Control {
            debug!("input dropped: the desktop granted no control");
            continue;
        }
        tokio::time::sleep_until(a.since + SETTLE).await;
        let (session, node, size) = (a.session.clone(), a.node, a.size);
        let result = inner
            .bus
            .run(move |c| inject(c, &session, node, size, input))
            .await;
        if let Err(e) = result {
            debug!("input not injected: {e}");
        }
    }
}

/// One input event through the RemoteDesktop portal. Runs on the bus thread.
fn inject(
    c: &dbus::blocking::Connection,
    session: &Path<'static>,
    node: u32,
    size: (u32, u32),
    input: Input,
) -> Result<(), PortalError> {
    // KeyState / ButtonState: 0 released, 1 pressed.
    let state = |down: bool| u32::from(down);
    match input {
        Input::Motion(x, y) => {
            let x = f64::from(x.min(size.0.saturating_sub(1)));
            let y = f64::from(y.min(size.1.saturating_sub(1)));
            bus::notify(c, session, "NotifyPointerMotionAbsolute", (node, x, y))
        }
        Input::Button(code, down) => {
            bus::notify(c, session, "NotifyPointerButton", (code, state(down)))
        }
        Input::Wheel(dx, dy) => {
            if dy != 0 {
                bus::notify(
                    c,
                    session,
                    "NotifyPointerAxisDiscrete",
                    (bus::AXIS_VERTICAL, dy),
                )?;
            }
            if dx != 0 {
                bus::notify(
                    c,
                    session,
                    "NotifyPointerAxisDiscrete",
                    (bus::AXIS_HORIZONTAL, dx),
                )?;
            }
            Ok(())
        }
        Input::Key(code, down) => {
            bus::notify(c, session, "NotifyKeyboardKeycode", (code, state(down)))
        }
        Input::Keysym(sym, down) => {
            bus::notify(c, session, "NotifyKeyboardKeysym", (sym, state(down)))
        }
    }
}
