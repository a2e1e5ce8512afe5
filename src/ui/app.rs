//! The shell around the screens: the tao event loop, drawing, and carrying out what the person
//! asked for through the session [`Handle`].

use super::i18n::Lang;
use super::screens;
use super::state::{Intent, Outcome, REMOTE_PRESS, Stage, State};
use super::trace::Trace;
use crate::session::{self, Event, Frontend, Handle, Hooks, Settings};
use lotse_egui_tao::desktop::{Desktop, DesktopEvent, DialogTexts};
use lotse_egui_tao::{Adapter, Gl};
use lotse_proto::msg::HowEnded;
use std::path::PathBuf;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tao::dpi::{LogicalSize, PhysicalPosition, PhysicalSize};
use tao::event::{Event as TaoEvent, StartCause, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::window::{Window, WindowBuilder};

/// How to start the window.
#[derive(Debug)]
pub struct Options {
    /// Where and how to connect, once the person has accepted the terms.
    pub settings: Settings,
    pub lang: Lang,
    /// When the program started, for the trace's timings.
    pub started: Instant,
    /// The deployment's terms of use (summary, a line `---`, full text), if it has its own.
    pub terms: Option<String>,
}

/// How long closing the window waits for the session to say goodbye to the relay. The issue's
/// promise is one second from the click to the exit.
const GOODBYE: Duration = Duration::from_millis(900);

/// Why the window could not open.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("there is no desktop to show the window on (no display, or it refused the connection)")]
    NoDesktop,
    #[error("cannot open the window: {0}")]
    Window(#[from] tao::error::OsError),
    #[error(transparent)]
    Gl(#[from] lotse_egui_tao::GlError),
    #[error("cannot start a thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// What other threads send to the event loop.
/// The largest clipboard content the window reads or accepts (the protocol's limit; the relay may
/// allow less).
const CLIPBOARD_MAX: usize = lotse_proto::frame::limits::CLIPBOARD - 64;

#[derive(Debug)]
enum UserEvent {
    Session(Event),
    /// The [`Alarm`] went off.
    Tick,
    /// The file dialog, a drop, the clipboard or a stop signal.
    Desktop(DesktopEvent),
    /// The person answered the system's screen-sharing dialog (Wayland) that followed their
    /// Allow for `request`: what the rep is told, and why not, if not.
    SystemDialog {
        request: lotse_proto::msg::RequestId,
        reply: lotse_proto::msg::Reply,
        error: Option<String>,
    },
}

/// Wakes the event loop at a given instant. tao's `ControlFlow::WaitUntil` does not on Linux
/// (0.37.2 blocks in `gtk::main_iteration_do(true)` without a timer), so this thread does it.
struct Alarm {
    tx: std::sync::mpsc::Sender<Instant>,
    set: Option<Instant>,
}

impl Alarm {
    fn new(proxy: EventLoopProxy<UserEvent>) -> std::io::Result<Alarm> {
        let (tx, rx) = std::sync::mpsc::channel::<Instant>();
        std::thread::Builder::new()
            .name("lotse-ui-alarm".into())
            .spawn(move || {
                let mut next: Option<Instant> = None;
                loop {
                    let got = match next {
                        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                        Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                    };
                    match got {
                        Ok(at) => next = Some(at),
                        Err(RecvTimeoutError::Timeout) => {
                            next = None;
                            if proxy.send_event(UserEvent::Tick).is_err() {
                                return;
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })?;
        Ok(Alarm { tx, set: None })
    }

    /// Makes sure the loop wakes at `at` (a later call replaces an earlier one).
    fn wake_at(&mut self, at: Instant) {
        if self.set != Some(at) {
            self.set = Some(at);
            let _ = self.tx.send(at);
        }
    }
}

/// The session's frontend: forwards every event to the window's event loop.
struct Bridge(EventLoopProxy<UserEvent>);

impl Frontend for Bridge {
    fn notify(&self, event: Event) {
        // Fails only when the window is gone, and then nobody is left to tell.
        let _ = self.0.send_event(UserEvent::Session(event));
    }
}

/// Opens the window and runs it until the program exits; never returns.
pub fn run(options: Options) -> Result<std::convert::Infallible, WindowError> {
    if !lotse_egui_tao::desktop_available() {
        return Err(WindowError::NoDesktop);
    }
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let mut state = State::new(options.lang, Instant::now());
    if let Some(text) = &options.terms {
        state.set_terms(text);
    }
    state.downloads = options.settings.downloads.clone();
    let window = lotse_egui_tao::window_builder(WindowBuilder::new())
        .with_title(&state.t().window_title)
        .with_inner_size(LogicalSize::new(600.0, 700.0))
        .with_min_inner_size(MIN_SIZE)
        .build(&event_loop)?;
    let size = window.inner_size();
    let gl = Gl::new(&window, [size.width, size.height])?;
    let xid = lotse_egui_tao::native_id(&window);
    let ctx = egui::Context::default();
    screens::style(&ctx);
    let desktop_proxy = event_loop.create_proxy();
    let desktop = Desktop::new(&window, move |e| {
        // Fails only when the loop is gone, and then nobody is left to tell.
        let _ = desktop_proxy.send_event(UserEvent::Desktop(e));
    });
    let mut shell = Shell {
        adapter: Adapter::new(window.scale_factor() as f32),
        window,
        desktop,
        gl: Some(gl),
        ctx,
        state,
        trace: Trace::from_env(options.started),
        settings: Some(options.settings),
        proxy: event_loop.create_proxy(),
        alarm: Alarm::new(event_loop.create_proxy())?,
        session: None,
        quitting: None,
        exit: None,
        on_top: false,
        raised_for: None,
        compact: None,
        placing: None,
        restore_min: false,
        title: String::new(),
        xid,
        next_repaint: None,
        leaving: None,
        redraw_pending: true,
        wayland: None,
        injected: Arc::new(Mutex::new(RemoteInput::default())),
        picking_since: None,
    };
    event_loop.run(move |event, _, flow| {
        shell.on_event(event);
        *flow = shell.control_flow();
    })
}

/// How long the window keeps asking for the size and place it was given.
const PLACING: Duration = Duration::from_secs(3);
/// How often it asks again meanwhile.
const PLACING_STEP: Duration = Duration::from_millis(150);

/// The full window's smallest size.
const MIN_SIZE: LogicalSize<f64> = LogicalSize::new(460.0, 520.0);

/// A window's place (its frame's top left) and inner size.
#[derive(Debug, Clone, Copy)]
struct FullGeometry {
    position: Option<PhysicalPosition<i32>>,
    size: PhysicalSize<u32>,
}

struct Shell {
    window: Window,
    desktop: Desktop,
    gl: Option<Gl>,
    ctx: egui::Context,
    adapter: Adapter,
    state: State,
    trace: Option<Trace>,
    /// Taken when the person accepts the terms; until then nothing can connect.
    settings: Option<Settings>,
    proxy: EventLoopProxy<UserEvent>,
    alarm: Alarm,
    session: Option<(Handle, JoinHandle<()>)>,
    /// Leaving: the exit code and the latest instant to exit at.
    quitting: Option<(i32, Instant)>,
    /// Exit now with this code.
    exit: Option<i32>,
    on_top: bool,
    /// The prompt the window was last raised for.
    raised_for: Option<lotse_proto::msg::RequestId>,
    /// While the window is the compact bar: the bar's content height it was sized for, and
    /// where the full window was and how big, to go back to.
    compact: Option<(f32, FullGeometry)>,
    /// The size and place last given to the window, until when to insist on them, and when
    /// they were last asked for.
    placing: Option<(FullGeometry, Instant, Instant)>,
    /// The full window's smallest size is to be set again once it has its size back.
    restore_min: bool,
    title: String,
    xid: u64,
    next_repaint: Option<Instant>,
    /// The exit code the loop was told to end with.
    leaving: Option<i32>,
    /// A redraw was asked for and not yet drawn.
    redraw_pending: bool,
    /// On a Wayland desktop: the portal's screen share (see `super::wayland`).
    wayland: Option<super::wayland::WaylandShare>,
    /// What the rep's injected input did last.
    injected: Arc<Mutex<RemoteInput>>,
    /// When the person opened the "Send file…" dialog (only while it is open).
    picking_since: Option<Instant>,
}

/// Notes when a key or button of the rep's is injected, so that the window can tell presses,
/// drops and file-dialog picks that may be the rep's from the person's own.
struct Stamped {
    inner: Box<dyn lotse_platform::Injector>,
    at: Arc<Mutex<RemoteInput>>,
}

/// What the window knows of the rep's injected input.
#[derive(Debug, Default, Clone, Copy)]
struct RemoteInput {
    /// When the rep's last key, button, text or wheel event was injected.
    last: Option<Instant>,
    /// Mouse buttons the rep holds down now (a drag in progress).
    buttons_down: u8,
}

impl RemoteInput {
    /// Whether the rep's input may have produced something that happened at `at`: a rep's
    /// button is down, or the rep's key or button came within `window` before.
    fn may_have_caused(&self, at: Instant, window: Duration) -> bool {
        self.buttons_down > 0
            || self
                .last
                .is_some_and(|t| at.saturating_duration_since(t) <= window)
    }

    /// Whether any of the rep's keys or buttons was injected since `since`.
    fn since(&self, since: Instant) -> bool {
        self.buttons_down > 0 || self.last.is_some_and(|t| t >= since)
    }
}

/// A file dropped this soon after the rep's key or button is refused: longer than
/// [`REMOTE_PRESS`], because between the button's release and the drop's arrival the desktop
/// passes the data between two programs, which takes a while on a busy machine.
const REMOTE_DROP: Duration = Duration::from_secs(2);

impl lotse_platform::Injector for Stamped {
    fn obstruction(&mut self) -> Option<lotse_proto::msg::Obstruction> {
        self.inner.obstruction()
    }

    fn blocks(
        &mut self,
        event: &lotse_proto::input::InputEvent,
    ) -> Option<lotse_proto::msg::Obstruction> {
        self.inner.blocks(event)
    }

    fn inject(
        &mut self,
        event: &lotse_proto::input::InputEvent,
    ) -> Result<(), lotse_platform::InjectError> {
        use lotse_proto::input::InputEvent as E;
        if matches!(
            event,
            E::Button { .. } | E::Key { .. } | E::Text { .. } | E::Wheel { .. }
        ) {
            let mut r = self.at.lock().unwrap_or_else(|p| p.into_inner());
            r.last = Some(Instant::now());
            if let E::Button { down, .. } = event {
                r.buttons_down = if *down {
                    r.buttons_down.saturating_add(1)
                } else {
                    r.buttons_down.saturating_sub(1)
                };
            }
        }
        self.inner.inject(event)
    }

    fn release_all(&mut self) {
        self.inner.release_all();
        let mut r = self.at.lock().unwrap_or_else(|p| p.into_inner());
        if r.buttons_down > 0 {
            r.last = Some(Instant::now());
        }
        r.buttons_down = 0;
    }
}

impl Shell {
    /// Asks for a frame. tao 0.37.2 on Linux does not wake its loop for a redraw requested
    /// outside of event handling, so `control_flow` polls while one is pending.
    fn redraw(&mut self) {
        self.redraw_pending = true;
        self.window.request_redraw();
    }

    fn on_event(&mut self, event: TaoEvent<'_, UserEvent>) {
        match event {
            TaoEvent::WindowEvent { event, .. } => match event {
                WindowEvent::CloseRequested | WindowEvent::Destroyed => {
                    self.leave(HowEnded::WindowClosed, 0);
                }
                WindowEvent::Resized(size) => {
                    if let Some(gl) = self.gl.as_mut() {
                        gl.resize([size.width, size.height]);
                    }
                    self.redraw();
                }
                // Windows and macOS report drops through tao; Linux through `desktop`.
                WindowEvent::DroppedFile(path) => self.dropped(vec![path]),
                other => {
                    if self.adapter.is_paste(&other) {
                        self.desktop.request_paste();
                    }
                    if self.adapter.on_event(&other) {
                        self.redraw();
                    }
                }
            },
            TaoEvent::UserEvent(UserEvent::Desktop(event)) => {
                self.state.now = Instant::now();
                match event {
                    DesktopEvent::Picked(path) => {
                        self.state.picking = false;
                        let opened = self.picking_since.take();
                        // The rep may steer the open dialog (select another file, press Enter):
                        // a pick is the person's only if no key or button of the rep's came
                        // while the dialog was open.
                        let remote = *self.injected.lock().unwrap_or_else(|p| p.into_inner());
                        let steered = opened.is_none_or(|at| {
                            remote.since(at) || remote.may_have_caused(Instant::now(), REMOTE_PRESS)
                        });
                        if steered && path.is_some() {
                            self.refuse_remote("file picked while the rep's input was injected");
                        } else {
                            self.send_files(path.into_iter().collect());
                        }
                    }
                    DesktopEvent::Dropped(paths) => self.dropped(paths),
                    DesktopEvent::Paste(text) => self.adapter.paste(text),
                    DesktopEvent::Stop => self.leave(HowEnded::ProgramStopped, 0),
                    // The customer's window never watches the clipboard through GTK (the
                    // platform's clipboard does, only while a rep holds the tier).
                    DesktopEvent::CopiedText(_) | DesktopEvent::CopiedPng(_) => {}
                }
                self.redraw();
            }
            TaoEvent::UserEvent(UserEvent::Session(event)) => {
                let over = matches!(event, Event::Ended(_) | Event::Failed(_));
                self.state.now = Instant::now();
                self.state.apply(event);
                if self.state.picking && matches!(self.state.stage, Stage::Over { .. }) {
                    self.desktop.close_dialog();
                    self.state.picking = false;
                    self.picking_since = None;
                }
                if over && self.quitting.is_some() {
                    self.finish_leaving();
                }
                self.redraw();
            }
            TaoEvent::UserEvent(UserEvent::SystemDialog {
                request,
                reply,
                error,
            }) => {
                // Our Allow goes to the rep only now; a cancelled system dialog is a Deny, with
                // the reason for the rep.
                if let Some(why) = &error {
                    tracing::warn!("the system's sharing dialog: {why}");
                }
                if let Some((h, _)) = self.session.as_ref() {
                    h.reply(request, reply);
                }
                self.redraw();
            }
            TaoEvent::UserEvent(UserEvent::Tick)
            | TaoEvent::NewEvents(StartCause::ResumeTimeReached { .. }) => {}
            // A frame asked for while drawing one is asked for again here, outside of drawing:
            // on Windows a request made while the window paints is swallowed by that paint.
            TaoEvent::MainEventsCleared if self.redraw_pending => {
                self.window.request_redraw();
            }
            TaoEvent::RedrawRequested(_) => {
                self.redraw_pending = false;
                if self.quitting.is_none() {
                    self.frame();
                }
            }
            // The loop ends only to leave; see `exit_now` for why nothing is torn down.
            TaoEvent::LoopDestroyed => lotse_egui_tao::exit_now(self.leaving.unwrap_or(0)),
            _ => {}
        }
    }

    fn control_flow(&mut self) -> ControlFlow {
        if let Some(code) = self.exit {
            self.leaving = Some(code);
            return ControlFlow::ExitWithCode(code);
        }
        if let Some((code, deadline)) = self.quitting {
            if Instant::now() >= deadline {
                // The close was sent when the session ended its loop; waiting longer would break
                // the promise to be gone within a second.
                self.leaving = Some(code);
                return ControlFlow::ExitWithCode(code);
            }
            self.alarm.wake_at(deadline);
            return ControlFlow::WaitUntil(deadline);
        }
        if self.next_repaint.is_some_and(|at| at <= Instant::now()) {
            self.next_repaint = None;
            self.redraw();
        }
        if self.redraw_pending {
            return ControlFlow::Poll;
        }
        match self.next_repaint {
            Some(at) => {
                self.alarm.wake_at(at);
                ControlFlow::WaitUntil(at)
            }
            None => ControlFlow::Wait,
        }
    }

    /// Draws one frame, reports it to the trace, and carries out what the person asked for.
    fn frame(&mut self) {
        let Some(gl) = self.gl.as_mut() else { return };
        let size = self.window.inner_size();
        gl.resize([size.width, size.height]);
        let (input, presses) = self
            .adapter
            .take([size.width, size.height], gl.max_texture_side());
        self.state.now = Instant::now();
        self.state.input_since = presses.map(|(first, _)| first);
        let injected = self.injected.lock().unwrap_or_else(|p| p.into_inner()).last;
        self.state.remote_press = presses.is_some_and(|(first, last)| {
            injected.is_some_and(|at| {
                [first, last]
                    .iter()
                    .any(|p| p.saturating_duration_since(at) <= REMOTE_PRESS && *p >= at)
            })
        });
        let state = &mut self.state;
        let mut output = self.ctx.run_ui(input, |ui| screens::ui(state, ui));
        let ppp = output.pixels_per_point;
        let primitives = self.ctx.tessellate(output.shapes, ppp);
        let clear = self.ctx.global_style().visuals.panel_fill;
        if let Err(e) = gl.paint(clear, &primitives, ppp, &mut output.textures_delta) {
            tracing::warn!("cannot show the frame: {e}");
        }
        self.window
            .set_cursor_icon(cursor(output.platform_output.cursor_icon));
        let delay = output
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map(|v| v.repaint_delay)
            .unwrap_or(Duration::MAX);
        tracing::trace!(?delay, screen = self.state.screen, "frame");
        self.next_repaint = if delay.is_zero() {
            self.redraw();
            None
        } else {
            Instant::now().checked_add(delay)
        };
        self.follow_state();
        if let Some(trace) = self.trace.as_mut() {
            trace.frame(
                &self.state,
                self.xid,
                [size.width, size.height],
                self.on_top,
                ppp,
            );
        }
        for intent in std::mem::take(&mut self.state.intents) {
            if self.state.remote_press && intent.acts_for_the_person() {
                // The rep holds `control` and was pressing keys or buttons just then: this
                // click or key may be theirs, and a rep must not act for the person.
                self.refuse_remote("the press may have been the rep's input");
                if let Intent::Chat(text) = intent
                    && self.state.chat_input.is_empty()
                {
                    // The line stays in the field: the person reads it and decides.
                    self.state.chat_input = text;
                }
                continue;
            }
            self.act(intent);
        }
    }

    /// Window properties that follow the state: title, on top while watched, raised for prompts,
    /// the compact bar's size and place.
    fn follow_state(&mut self) {
        self.follow_compact();
        let title = &self.state.t().window_title;
        if *title != self.title {
            self.window.set_title(title);
            self.title = title.clone();
        }
        if let Some(w) = self.wayland.as_mut() {
            w.follow(self.state.someone_views());
        }
        let on_top = self.state.someone_views();
        if on_top != self.on_top {
            self.window.set_always_on_top(on_top);
            self.on_top = on_top;
        }
        let prompt = self.state.prompt().map(|p| p.request);
        if prompt.is_some() && prompt != self.raised_for {
            // A prompt must not wait unseen behind other windows.
            self.window.set_focus();
            self.window
                .request_user_attention(Some(tao::window::UserAttentionType::Informational));
        }
        self.raised_for = prompt;
    }

    /// Makes the window the compact bar at the top edge of its screen while the screens draw
    /// it, sized to its content; puts the full window back where it was afterwards.
    fn follow_compact(&mut self) {
        let margin = screens::COMPACT_MARGIN;
        match (self.state.compact_height, self.compact.take()) {
            (Some(height), previous) => {
                let full = match previous {
                    Some((shown, full)) if (shown - height).abs() < 1.0 => {
                        self.compact = Some((shown, full));
                        self.keep_placing();
                        return;
                    }
                    Some((_, full)) => full,
                    None => {
                        let full = FullGeometry {
                            position: self.window.outer_position().ok(),
                            size: self.window.inner_size(),
                        };
                        self.window.set_min_inner_size(None::<LogicalSize<f64>>);
                        self.restore_min = false;
                        full
                    }
                };
                let scale = self.window.scale_factor();
                let mut width = f64::from(screens::COMPACT_WIDTH + 2.0 * margin);
                let bar_height = f64::from(height + 2.0 * margin).ceil();
                let monitor = self.window.current_monitor();
                if let Some(m) = &monitor {
                    width = width.min(f64::from(m.size().width) / scale - 16.0);
                }
                let size = LogicalSize::new(width, bar_height).to_physical(scale);
                // Centred at the top edge of the screen the window is on.
                let position = monitor.map(|m| {
                    let x = m.position().x
                        + ((f64::from(m.size().width) - width * scale) / 2.0).max(0.0) as i32;
                    PhysicalPosition::new(x, m.position().y)
                });
                self.place(FullGeometry { position, size });
                self.compact = Some((height, full));
            }
            (None, Some((_, full))) => {
                // The smallest size comes back once the window is whole again (see
                // `keep_placing`): set now, GTK would grow the bar to it and drop the resize.
                self.restore_min = true;
                self.place(full);
            }
            (None, None) => self.keep_placing(),
        }
    }

    /// Sizes and moves the window, and keeps at it for a while: GTK drops a resize that
    /// crosses a configure event of the window manager's still on its way.
    fn place(&mut self, to: FullGeometry) {
        let now = Instant::now();
        self.placing = Some((to, now + PLACING, now));
        // The place first: the frame drawn at the new size is then already where it belongs.
        if let Some(p) = to.position {
            self.window.set_outer_position(p);
        }
        self.window.set_inner_size(to.size);
        let at = now + PLACING_STEP;
        self.next_repaint = Some(self.next_repaint.map_or(at, |n| n.min(at)));
    }

    /// Asks again for the size (and with it the place) last given whenever the window does not
    /// have that size, until [`PLACING`] is over.
    fn keep_placing(&mut self) {
        let Some((to, until, last)) = self.placing else {
            return;
        };
        let now = Instant::now();
        // Only the size is insisted on: a window manager may keep a window off a panel (GNOME's
        // top bar) and must not be fought over the place, which would move the window under
        // the person's pointer.
        let there = self.window.inner_size() == to.size;
        if there && self.restore_min {
            self.restore_min = false;
            self.window.set_min_inner_size(Some(MIN_SIZE));
        }
        if now >= until {
            // However it went: the person can size the window themselves now.
            self.placing = None;
            if std::mem::take(&mut self.restore_min) {
                self.window.set_min_inner_size(Some(MIN_SIZE));
            }
            return;
        }
        // Until then it is checked again and again: a late configure event of the window
        // manager's can still undo a size that was already there.
        if !there && now.duration_since(last) >= PLACING_STEP {
            if let Some(p) = to.position {
                self.window.set_outer_position(p);
            }
            self.window.set_inner_size(to.size);
            self.placing = Some((to, until, now));
        }
        let at = now + PLACING_STEP;
        self.next_repaint = Some(self.next_repaint.map_or(at, |n| n.min(at)));
    }

    fn act(&mut self, intent: Intent) {
        let handle = self.session.as_ref().map(|(h, _)| h);
        match intent {
            Intent::Accept => self.start_session(),
            Intent::Decline => self.exit = Some(0),
            Intent::Redeem(key) => {
                if let Some(h) = handle {
                    h.redeem(&key);
                }
            }
            Intent::Answer { request, allow } => {
                // On Wayland an Allow for the screen or the input first opens the system's own
                // dialog; the answer follows as `UserEvent::SystemDialog`.
                let access = self
                    .state
                    .prompt_tier(request)
                    .and_then(super::wayland::access_for);
                match (&self.wayland, access) {
                    (Some(w), Some(access)) if allow && handle.is_some() => {
                        let proxy = self.proxy.clone();
                        w.ask(access, move |r| {
                            let reply = super::wayland::reply_for(&r);
                            let error = r.err().map(|e| e.to_string());
                            // Fails only when the window is gone.
                            let _ = proxy.send_event(UserEvent::SystemDialog {
                                request,
                                reply,
                                error,
                            });
                        });
                    }
                    // The person allowed what this desktop cannot give: the rep is told why,
                    // and the person too.
                    (None, Some(_)) if allow && self.state.share_unavailable.is_some() => {
                        self.state.show_share_unavailable = true;
                        if let Some(h) = handle {
                            h.reply(
                                request,
                                lotse_proto::msg::Reply::Deny(
                                    lotse_proto::msg::DenyReason::SystemUnavailable,
                                ),
                            );
                        }
                    }
                    _ => {
                        if let Some(h) = handle {
                            h.answer(request, allow);
                        }
                    }
                }
            }
            Intent::Revoke { rep, tier } => {
                if let Some(h) = handle {
                    h.revoke(rep, tier);
                }
            }
            Intent::Remove(rep) => {
                if let Some(h) = handle {
                    h.remove(rep);
                }
            }
            Intent::Chat(text) => {
                if let Some(h) = handle {
                    h.chat(&text);
                }
            }
            Intent::PickFile => {
                if self.state.can_send_files() && !self.state.picking {
                    self.state.picking = true;
                    self.picking_since = Some(Instant::now());
                    let t = self.state.t();
                    let texts = DialogTexts {
                        title: &t.files_dialog_title,
                        accept: &t.files_dialog_send,
                        cancel: &t.files_dialog_cancel,
                    };
                    let start = lotse_egui_tao::desktop::start_dir();
                    self.desktop.pick_file(&self.window, &texts, &start);
                    self.redraw();
                }
            }
            Intent::CancelTransfer { rep, transfer } => {
                if let Some(h) = handle {
                    h.cancel_transfer(rep, transfer);
                }
            }
            Intent::End => {
                if let Some(h) = handle {
                    h.end(HowEnded::EndButton);
                }
            }
            Intent::Leave => self.leave(HowEnded::Cancelled, 0),
            Intent::OpenFolder(dir) => {
                if let Err(e) = lotse_platform::desktop::open_folder(&dir) {
                    tracing::warn!("cannot open {}: {e}", dir.display());
                }
            }
            Intent::Close => {
                let failed = matches!(
                    self.state.stage,
                    Stage::Over {
                        outcome: Outcome::Failed(_),
                        ..
                    }
                );
                self.leave(HowEnded::WindowClosed, i32::from(failed));
            }
        }
    }

    /// Says that something the rep's input may have done in the person's name did nothing.
    fn refuse_remote(&mut self, why: &str) {
        tracing::info!("refused: {why}");
        self.state.refused_remote += 1;
        self.state.remote_notice_until = Some(Instant::now() + Duration::from_secs(8));
        self.redraw();
    }

    /// Files dropped onto the window: the person's own drag, unless the rep's input may have
    /// made it (a rep holding `control` can drag a file from a file manager onto this window).
    fn dropped(&mut self, paths: Vec<PathBuf>) {
        let remote = *self.injected.lock().unwrap_or_else(|p| p.into_inner());
        if remote.may_have_caused(Instant::now(), REMOTE_DROP) {
            self.refuse_remote("files dropped while the rep's input was injected");
            return;
        }
        self.send_files(paths);
    }

    /// Sends files the person picked or dropped: their own action is the consent. Only while
    /// the session is live and no prompt is open; only regular files (a folder is refused with a
    /// note, not sent).
    fn send_files(&mut self, paths: Vec<PathBuf>) {
        if !self.state.can_send_files() {
            tracing::info!(
                "not sending {} file(s): no live session with a rep who may receive files",
                paths.len()
            );
            return;
        }
        let Some((handle, _)) = self.session.as_ref() else {
            return;
        };
        for path in paths {
            if path.is_file() {
                self.state.file_notice = None;
                handle.send_file(path);
            } else {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string());
                self.state.file_notice = Some(super::state::FileNotice::NotAFile(name));
            }
        }
        self.redraw();
    }

    /// The only place the network is started: after the person accepted the terms.
    fn start_session(&mut self) {
        let Some(settings) = self.settings.take() else {
            return; // already started
        };
        let bridge: Arc<dyn Frontend> = Arc::new(Bridge(self.proxy.clone()));
        // The monitor area is shared between the screen source and the injector.
        let area = lotse_platform::input::AreaHandle::default();
        // A Wayland desktop shares through its portal (after its own dialog); X11 directly.
        let mut wayland_video = None;
        let opened = super::wayland::open(self.xid);
        let on_wayland = opened.is_some();
        let (injector, unavailable) = match opened {
            Some(Ok((share, injector, video))) => {
                self.wayland = Some(share);
                self.state.system_dialog = true;
                wayland_video = Some(video);
                (injector, None)
            }
            Some(Err(e)) => {
                // X11 capture would see only XWayland windows here: better nothing, with why.
                tracing::warn!("the screen cannot be shared: {e}");
                self.state.share_unavailable = Some(e.to_string());
                (
                    Box::new(lotse_platform::NoInjector) as Box<dyn lotse_platform::Injector>,
                    Some(e.to_string()),
                )
            }
            None => lotse_platform::input::system_injector(area.clone()),
        };
        let injector = Box::new(Stamped {
            inner: injector,
            at: self.injected.clone(),
        });
        if let Some(why) = unavailable {
            tracing::warn!("remote control is not available: {why}");
        }
        let hooks = Hooks {
            injector,
            clipboard: lotse_platform::clipboard::system(CLIPBOARD_MAX)
                .map(|(port, changes)| crate::session::ClipboardHook { port, changes }),
            // The screen is captured only while a rep holds `view` (the driver runs the source
            // then); a system without a usable display still gets a session, without video.
            video: match wayland_video {
                Some(v) => Some(v),
                None if on_wayland => None,
                None => match crate::video::ScreenSource::open(None, Default::default()) {
                    Ok(mut src) => {
                        src.share_area(area);
                        // The benchmark seam: pictures that are sent anyway (someone views)
                        // also go into a folder of the person's own choosing.
                        if let Some(dir) = std::env::var_os("LOTSE_BENCH_SAMPLES") {
                            src.set_tap(crate::video::sample_tap(dir.into(), 15));
                        }
                        Some(Box::new(src))
                    }
                    Err(e) => {
                        tracing::warn!("the screen cannot be shared: {e}");
                        None
                    }
                },
            },
        };
        self.state.stage = Stage::Connecting;
        self.state.started = true;
        match session::start(settings, bridge, hooks) {
            Ok(s) => self.session = Some(s),
            Err(e) => self
                .state
                .apply(Event::Failed(format!("cannot start the session: {e}"))),
        }
    }

    /// Ends whatever runs with `reason` (the rep sees it) and exits with `code` once the session
    /// has closed the connection, or after [`GOODBYE`] at the latest.
    fn leave(&mut self, reason: HowEnded, code: i32) {
        if self.quitting.is_some() || self.exit.is_some() {
            return;
        }
        match &self.session {
            Some((handle, thread))
                if !thread.is_finished() && !matches!(self.state.stage, Stage::Over { .. }) =>
            {
                handle.end(reason);
                self.window.set_visible(false);
                self.quitting = Some((code, Instant::now() + GOODBYE));
            }
            _ => {
                self.quitting = Some((code, Instant::now()));
                self.finish_leaving();
            }
        }
    }

    /// The session has said it is over: wait for its thread (it is about to return) and exit.
    fn finish_leaving(&mut self) {
        let Some((code, _)) = self.quitting else {
            return;
        };
        if let Some((_, thread)) = self.session.take() {
            let _ = thread.join();
        }
        self.exit = Some(code);
    }
}

fn cursor(icon: egui::CursorIcon) -> tao::window::CursorIcon {
    use tao::window::CursorIcon as C;
    match icon {
        egui::CursorIcon::PointingHand => C::Hand,
        egui::CursorIcon::Text => C::Text,
        egui::CursorIcon::NotAllowed => C::NotAllowed,
        egui::CursorIcon::Wait | egui::CursorIcon::Progress => C::Progress,
        _ => C::Default,
    }
}
