//! The shell around the screens: the tao event loop, drawing, the picture texture, remote
//! control input, and carrying out the screens' intents through the network thread.

use crate::config::Config;
use crate::control::Controller;
use crate::gpu::{GpuPicture, Planes};
use crate::i18n::Lang;
use crate::net::{Command, Net, Notice, SessionCommand, SessionId, Update};
use crate::screens;
use crate::state::{Intent, State, TierState};
use crate::trace::Trace;
use crate::video::{Decoding, Timing, to_color_image};
use lotse_egui_tao::desktop::{Desktop, DesktopEvent, DialogTexts};
use lotse_egui_tao::{Adapter, Gl};
use lotse_proto::Tier;
use lotse_proto::msg::ClipContent;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tao::dpi::LogicalSize;
use tao::event::{Event as TaoEvent, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopProxy};
use tao::window::{UserAttentionType, Window, WindowBuilder};

/// How to start the console.
#[derive(Debug)]
pub struct Options {
    pub config: Config,
    /// Where the config is remembered.
    pub config_path: PathBuf,
    pub lang: Lang,
    pub started: Instant,
}

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

#[derive(Debug)]
enum UserEvent {
    Net(Update),
    /// A new picture is ready.
    Picture,
    Desktop(DesktopEvent),
    Tick,
}

/// How long closing waits for the goodbye to reach the relay.
const GOODBYE: Duration = Duration::from_millis(600);

/// Opens the window and runs it until the program exits; never returns.
pub fn run(options: Options) -> Result<std::convert::Infallible, WindowError> {
    if !lotse_egui_tao::desktop_available() {
        return Err(WindowError::NoDesktop);
    }
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let mut state = State::new(options.lang);
    state.form.relay = options.config.relay.clone();
    state.form.pin = options.config.pin.clone();
    state.form.user = options.config.user.clone();
    state.downloads = options.config.downloads_dir();
    state.canned = options.config.canned.clone();
    let window = lotse_egui_tao::window_builder(WindowBuilder::new())
        .with_title(state.title())
        .with_inner_size(LogicalSize::new(1200.0, 800.0))
        .with_min_inner_size(LogicalSize::new(720.0, 480.0))
        .build(&event_loop)?;
    let size = window.inner_size();
    let gl = Gl::new(&window, [size.width, size.height])?;
    let xid = lotse_egui_tao::native_id(&window);
    let ctx = egui::Context::default();
    screens::style(&ctx);
    let picture_proxy = event_loop.create_proxy();
    let video = Decoding::start(move || {
        let _ = picture_proxy.send_event(UserEvent::Picture);
    })?;
    // The GPU converts the picture unless told not to (a driver that paints it wrong).
    let gpu =
        (std::env::var_os("LOTSE_CONSOLE_GPU").is_none_or(|v| v != "0")).then(GpuPicture::new);
    video.convert_on_cpu(gpu.is_none());
    let net_proxy = std::sync::Mutex::new(event_loop.create_proxy());
    let net = Net::start(
        move |u| {
            let proxy = net_proxy.lock().unwrap_or_else(|p| p.into_inner());
            let _ = proxy.send_event(UserEvent::Net(u));
        },
        video.clone(),
    )?;
    let keyframes = net.sender();
    video.ask_keyframes_via(move || {
        let _ = keyframes.send(Command::Keyframe);
    });
    let perf = std::env::var_os("LOTSE_CONSOLE_PERF").and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    });
    let desktop_proxy = event_loop.create_proxy();
    let desktop = Desktop::new(&window, move |e| {
        let _ = desktop_proxy.send_event(UserEvent::Desktop(e));
    });
    let mut shell = Shell {
        desktop,
        picking_for: None,
        shown: None,
        control_target: None,
        adapter: Adapter::new(window.scale_factor() as f32),
        window,
        gl: Some(gl),
        ctx,
        state,
        trace: Trace::from_env(options.started),
        net,
        video,
        controller: Controller::default(),
        texture: None,
        gpu,
        last_image: None,
        pending_timing: None,
        perf,
        alarm: Alarm::new(event_loop.create_proxy())?,
        xid,
        next_repaint: None,
        redraw_pending: true,
        title: String::new(),
        attention_for: None,
        config: options.config,
        config_path: options.config_path,
        quitting: None,
    };
    event_loop.run(move |event, _, flow| {
        shell.on_event(event);
        *flow = shell.control_flow();
    })
}

struct Shell {
    window: Window,
    desktop: Desktop,
    /// The session the open file dialog is for.
    picking_for: Option<SessionId>,
    /// The session whose picture the network thread was last told to decode.
    shown: Option<SessionId>,
    /// The session the controller's held keys and buttons are on.
    control_target: Option<SessionId>,
    gl: Option<Gl>,
    ctx: egui::Context,
    adapter: Adapter,
    state: State,
    trace: Option<Trace>,
    net: Net,
    video: Decoding,
    controller: Controller,
    /// The picture as an egui texture, while the CPU converts it.
    texture: Option<egui::TextureHandle>,
    /// The picture's planes for the GPU to convert; `None` once it cannot.
    gpu: Option<GpuPicture>,
    /// The picture shown, and whose it is (for "Screenshot").
    last_image: Option<(SessionId, Arc<lotse_codec::Yuv420>)>,
    /// Decode and convert times of the picture on its way to the screen.
    /// The newest picture's timing, written to `LOTSE_CONSOLE_PERF` once it has been painted.
    pending_timing: Option<Timing>,
    /// `LOTSE_CONSOLE_PERF`: one line per picture shown.
    perf: Option<std::fs::File>,
    alarm: Alarm,
    xid: u64,
    next_repaint: Option<Instant>,
    redraw_pending: bool,
    title: String,
    attention_for: Option<String>,
    config: Config,
    config_path: PathBuf,
    quitting: Option<Instant>,
}

impl Shell {
    /// tao 0.37.2 does not wake its loop for a redraw requested outside event handling, so
    /// `control_flow` polls while one is pending.
    fn redraw(&mut self) {
        self.redraw_pending = true;
        self.window.request_redraw();
    }

    fn on_event(&mut self, event: TaoEvent<'_, UserEvent>) {
        match event {
            TaoEvent::WindowEvent { event, .. } => match event {
                WindowEvent::CloseRequested | WindowEvent::Destroyed => self.quit(),
                WindowEvent::Resized(size) => {
                    if let Some(gl) = self.gl.as_mut() {
                        gl.resize([size.width, size.height]);
                    }
                    self.redraw();
                }
                other => {
                    if self.adapter.on_event(&other) {
                        self.redraw();
                    }
                }
            },
            TaoEvent::UserEvent(UserEvent::Net(u)) => {
                self.state.apply(u);
                self.redraw();
            }
            TaoEvent::UserEvent(UserEvent::Picture) => self.redraw(),
            TaoEvent::UserEvent(UserEvent::Desktop(e)) => {
                self.on_desktop(e);
                self.redraw();
            }
            TaoEvent::UserEvent(UserEvent::Tick) => {}
            TaoEvent::RedrawRequested(_) => {
                self.redraw_pending = false;
                self.frame();
            }
            // The loop ends only to leave; see `exit_now` for why nothing is torn down.
            TaoEvent::LoopDestroyed => lotse_egui_tao::exit_now(0),
            _ => {}
        }
    }

    fn quit(&mut self) {
        if self.quitting.is_some() {
            return;
        }
        if let Some(id) = self.control_target {
            for ev in self.controller.release_all() {
                self.net.send(Command::To(id, SessionCommand::Input(ev)));
            }
        }
        // The network thread ends every session on its way out.
        self.net.send(Command::Quit);
        self.quitting = Some(Instant::now() + GOODBYE);
    }

    fn control_flow(&mut self) -> ControlFlow {
        if let Some(at) = self.quitting {
            if Instant::now() >= at {
                return ControlFlow::ExitWithCode(0);
            }
            self.alarm.wake_at(at);
            return ControlFlow::WaitUntil(at);
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

    /// Takes the newest decoded picture into the texture (egui_glow uploads it in `paint`).
    fn take_picture(&mut self) {
        let Some(shown) = self.video.take() else {
            return;
        };
        // A picture of a tab left behind (decoded before the switch) is not shown.
        if self.state.shown() != Some(shown.session)
            || self.state.session_mut(shown.session).is_none()
        {
            // What it changed never reaches the textures: the next picture goes up whole.
            if let Some(g) = &self.gpu {
                g.invalidate();
            }
            return;
        }
        let size = [shown.yuv.width() as usize, shown.yuv.height() as usize];
        match &self.gpu {
            Some(g) => g.set(Planes {
                yuv: shown.yuv.clone(),
                dirty: shown.dirty,
            }),
            None => {
                let image = shown
                    .image
                    .unwrap_or_else(|| Arc::new(to_color_image(&shown.yuv)));
                self.set_texture(image);
            }
        }
        self.last_image = Some((shown.session, shown.yuv));
        let Some(session) = self.state.session_mut(shown.session) else {
            return;
        };
        session.picture = Some(size);
        session.frames_shown += 1;
        self.pending_timing = Some(shown.timing);
    }

    fn set_texture(&mut self, image: Arc<egui::ColorImage>) {
        let image = egui::ImageData::Color(image);
        let options = egui::TextureOptions::LINEAR;
        match self.texture.as_mut() {
            Some(t) => t.set(image, options),
            None => {
                self.texture = Some(self.ctx.load_texture("customer-screen", image, options));
            }
        }
    }

    /// The GPU could not set up its shader: the CPU converts from now on, starting with the
    /// picture already there.
    fn fall_back_to_cpu(&mut self) {
        if self.gpu.as_ref().and_then(GpuPicture::failed).is_none() {
            return;
        }
        self.gpu = None;
        self.video.convert_on_cpu(true);
        if let Some((_, yuv)) = &self.last_image {
            let image = Arc::new(to_color_image(yuv));
            self.set_texture(image);
        }
        self.redraw();
    }

    fn frame(&mut self) {
        if self.quitting.is_some() {
            return;
        }
        let Some(gl) = self.gl.as_mut() else { return };
        let size = self.window.inner_size();
        gl.resize([size.width, size.height]);
        let (mut input, _) = self
            .adapter
            .take([size.width, size.height], gl.max_texture_side());
        self.state.now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.follow_tabs();
        self.take_picture();
        // Input for the customer leaves before anything is drawn; what is held on a session
        // left behind (another tab, ended) is let go there first.
        let target = self.state.shown();
        if target != self.control_target {
            if let Some(old) = self.control_target {
                for ev in self.controller.release_all() {
                    self.net.send(Command::To(old, SessionCommand::Input(ev)));
                }
            }
            self.control_target = target;
        }
        let session = target.and_then(|id| self.state.session_mut(id));
        for ev in self.controller.filter(&mut input, session) {
            if let Some(id) = target {
                self.net.send(Command::To(id, SessionCommand::Input(ev)));
            }
        }
        let state = &mut self.state;
        let paint = self.gpu.as_ref().map(GpuPicture::callback);
        let size = self
            .last_image
            .as_ref()
            .map(|(_, yuv)| [yuv.width() as usize, yuv.height() as usize]);
        let picture = match (&paint, size, &self.texture) {
            (Some(paint), Some(size), _) => Some(screens::PictureRef::Gpu { size, paint }),
            (None, _, Some(t)) => Some(screens::PictureRef::Texture(t)),
            _ => None,
        };
        let mut output = self.ctx.run_ui(input, |ui| screens::ui(state, picture, ui));
        let ppp = output.pixels_per_point;
        let primitives = self.ctx.tessellate(output.shapes, ppp);
        let clear = self.ctx.global_style().visuals.panel_fill;
        let Some(gl) = self.gl.as_mut() else { return };
        let paint_start = Instant::now();
        if let Err(e) = gl.paint(clear, &primitives, ppp, &mut output.textures_delta) {
            tracing::warn!("cannot show the frame: {e}");
        }
        self.fall_back_to_cpu();
        if let Some(t) = self.pending_timing.take() {
            let paint = paint_start.elapsed().as_secs_f64() * 1000.0;
            if let Some(f) = self.perf.as_mut() {
                let c = self.video.counters();
                // Capture → on screen: the decoder's figure plus the wait for this frame and
                // its upload and paint.
                let shown = t
                    .latency_ms
                    .map(|l| l + t.ready_at.elapsed().as_secs_f64() * 1000.0);
                let line = serde_json::json!({
                    "seq": t.seq,
                    "decode_ms": t.decode_ms,
                    "convert_ms": t.convert_ms,
                    "upload_paint_ms": paint,
                    "capture_to_ready_ms": t.latency_ms,
                    "capture_to_shown_ms": shown,
                    "gpu": self.gpu.is_some(),
                    "rows_uploaded": self.gpu.as_ref().map(GpuPicture::rows_uploaded),
                    "decoded": c.decoded,
                    "dropped": c.dropped,
                });
                let _ = writeln!(f, "{line}");
            }
        }
        self.window
            .set_cursor_icon(cursor(output.platform_output.cursor_icon));
        let delay = output
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map(|v| v.repaint_delay)
            .unwrap_or(Duration::MAX);
        // Waiting times and key expiry tick once a second.
        let delay = if self.state.stage == crate::state::Stage::Ready {
            delay.min(Duration::from_secs(1))
        } else {
            delay
        };
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
                ppp,
                &self.video.counters(),
                (
                    self.gpu.is_some(),
                    self.gpu.as_ref().is_some_and(GpuPicture::nearest),
                ),
            );
        }
        // The rep's clipboard is read only while some session keeps it in step.
        self.desktop.watch_clipboard(self.state.clipboard_syncing());
        for intent in std::mem::take(&mut self.state.intents) {
            self.act(intent);
        }
        self.follow_tabs();
    }

    /// Only the open tab's picture is decoded: tell the network thread when that changes, and
    /// forget the pictures of the others (the texture is the new tab's from now on).
    fn follow_tabs(&mut self) {
        let shown = self.state.shown();
        if shown != self.shown {
            self.shown = shown;
            self.net.send(Command::Show(shown));
            for s in &mut self.state.sessions {
                s.picture = None;
            }
            if let Some(g) = &self.gpu {
                g.invalidate();
            }
        }
    }

    fn on_desktop(&mut self, e: DesktopEvent) {
        match e {
            DesktopEvent::Picked(path) => {
                if let (Some(id), Some(path)) = (self.picking_for.take(), path) {
                    self.offer(id, vec![path]);
                }
            }
            DesktopEvent::Dropped(paths) => match self.state.shown() {
                Some(id) => self.offer(id, paths),
                None => self.state.notice = Some(Notice::FilesNeeded),
            },
            DesktopEvent::Paste(text) => self.adapter.paste(text),
            DesktopEvent::CopiedText(text) => self.state.copied(ClipContent::Text(text)),
            DesktopEvent::CopiedPng(png) => self.state.copied(ClipContent::Png(png)),
            // SIGINT or SIGTERM: as if the window were closed.
            DesktopEvent::Stop => self.quit(),
        }
    }

    /// Offers files to session `id`'s customer, if it still runs with `files` granted.
    fn offer(&mut self, id: SessionId, paths: Vec<PathBuf>) {
        let ok = self
            .state
            .session(id)
            .is_some_and(|s| s.live() && s.tier(Tier::Files) == TierState::Granted);
        if !ok {
            self.state.notice = Some(Notice::FilesNeeded);
            return;
        }
        for p in paths.into_iter().filter(|p| p.is_file()) {
            self.net.send(Command::To(id, SessionCommand::OfferFile(p)));
        }
    }

    /// Title and attention follow the state: a new customer in the queue asks for attention.
    fn follow_state(&mut self) {
        let title = self.state.title();
        if title != self.title {
            self.window.set_title(&title);
            self.title = title;
        }
        if self.state.banner != self.attention_for {
            if self.state.banner.is_some() {
                self.window
                    .request_user_attention(Some(UserAttentionType::Informational));
            }
            self.attention_for = self.state.banner.clone();
        }
    }

    fn act(&mut self, intent: Intent) {
        match intent {
            Intent::Net(cmd) => self.net.send(cmd),
            Intent::Copy(text) => self.desktop.set_clipboard_text(&text),
            Intent::PickFile(id) => {
                if !self.desktop.picking() {
                    let t = self.state.t();
                    self.picking_for = Some(id);
                    self.desktop.pick_file(
                        &self.window,
                        &DialogTexts {
                            title: t.send_file_dialog,
                            accept: t.send,
                            cancel: t.cancel,
                        },
                        &lotse_egui_tao::desktop::start_dir(),
                    );
                }
            }
            Intent::SaveReport(index) => {
                let state = &mut self.state;
                let Some(s) = state.sessions.get_mut(index) else {
                    return;
                };
                let Some(report) = s.sysinfo.as_ref() else {
                    return;
                };
                let words = lotse_proto::sysinfo::Words::of(state.lang == crate::i18n::Lang::De);
                let name = lotse_files::safe_name(&format!(
                    "{}-{}.txt",
                    s.customer.host,
                    lotse_proto::utc_text(report.gathered_at as i64)
                        .trim_end_matches(" UTC")
                        .replace([' ', ':'], "-")
                ));
                let t = state.lang.texts();
                s.sysinfo_saved = Some(
                    match lotse_files::save_new(
                        &state.downloads,
                        &name,
                        report.to_text(words).as_bytes(),
                    ) {
                        Ok(path) => format!("{} {}", t.sysinfo_saved, path.display()),
                        Err(e) => e.to_string(),
                    },
                );
            }
            Intent::Screenshot(index) => {
                let state = &mut self.state;
                let Some(s) = state.sessions.get_mut(index) else {
                    return;
                };
                let t = state.lang.texts();
                let name = lotse_files::safe_name(&format!(
                    "{}-{}.png",
                    s.customer.host,
                    file_time(state.now_unix)
                ));
                let saved = match &self.last_image {
                    Some((session, yuv)) if *session == s.id => png(&to_color_image(yuv))
                        .and_then(|bytes| {
                            lotse_files::save_new(&state.downloads, &name, &bytes)
                                .map_err(|e| e.to_string())
                        })
                        .map(|path| format!("{} {}", t.sysinfo_saved, path.display())),
                    _ => Err(t.sysinfo_needed.to_owned()),
                };
                s.saved = Some(saved.unwrap_or_else(|e| e));
            }
            Intent::SaveTranscript(index) => {
                let state = &mut self.state;
                let Some(s) = state.sessions.get(index) else {
                    return;
                };
                let t = state.lang.texts();
                let text = s.record(t, &state.me, state.now_unix);
                let name = lotse_files::safe_name(&format!(
                    "{}-{}.txt",
                    s.customer.host,
                    file_time(state.now_unix)
                ));
                let saved = match lotse_files::save_new(&state.downloads, &name, text.as_bytes()) {
                    Ok(path) => format!("{} {}", t.sysinfo_saved, path.display()),
                    Err(e) => e.to_string(),
                };
                state.sessions[index].saved = Some(saved);
            }
            Intent::PutClipboard(content) => match content {
                ClipContent::Text(t) => self.desktop.set_clipboard_text(&t),
                ClipContent::Png(p) => self.desktop.set_clipboard_png(&p),
            },
            Intent::SaveConfig => {
                self.config.relay = self.state.form.relay.trim().to_owned();
                self.config.pin = self.state.form.pin.trim().to_owned();
                self.config.user = self.state.form.user.trim().to_owned();
                self.config.lang = self.state.lang.code().to_owned();
                if let Err(e) = self.config.save(&self.config_path) {
                    tracing::warn!("{e}");
                }
            }
        }
    }
}

/// A time for file names: `2026-12-04-17-05-09`.
fn file_time(unix: u64) -> String {
    lotse_proto::utc_text(unix as i64)
        .trim_end_matches(" UTC")
        .replace([' ', ':'], "-")
}

/// The picture as a PNG file (RGB, the picture has no transparency).
fn png(image: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|p| [p.r(), p.g(), p.b()])
        .collect();
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&rgb))
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn cursor(icon: egui::CursorIcon) -> tao::window::CursorIcon {
    use tao::window::CursorIcon as C;
    match icon {
        egui::CursorIcon::PointingHand => C::Hand,
        egui::CursorIcon::Text => C::Text,
        egui::CursorIcon::NotAllowed => C::NotAllowed,
        egui::CursorIcon::ResizeHorizontal | egui::CursorIcon::ResizeColumn => C::EwResize,
        egui::CursorIcon::ResizeVertical | egui::CursorIcon::ResizeRow => C::NsResize,
        _ => C::Default,
    }
}

/// Wakes the event loop at a given instant: tao 0.37.2's `ControlFlow::WaitUntil` does not
/// on Linux (PLATFORM-NOTES), so this thread does.
struct Alarm {
    tx: std::sync::mpsc::Sender<Instant>,
    set: Option<Instant>,
}

impl Alarm {
    fn new(proxy: EventLoopProxy<UserEvent>) -> std::io::Result<Alarm> {
        let (tx, rx) = std::sync::mpsc::channel::<Instant>();
        std::thread::Builder::new()
            .name("lotse-console-alarm".into())
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

    fn wake_at(&mut self, at: Instant) {
        if self.set != Some(at) {
            self.set = Some(at);
            let _ = self.tx.send(at);
        }
    }
}
