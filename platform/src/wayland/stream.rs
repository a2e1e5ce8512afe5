//! The screen's PipeWire stream: a main loop on its own thread copies each picture the
//! compositor sends into the shared [`Screen`] slot, where the capturer picks it up.

use super::PortalError;
use crate::capture::Monitor;
use pipewire as pw;
use pw::spa;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tracing::{debug, warn};

/// What the capturer may read: the shared screen, its latest picture, and whether a share is
/// running or being asked for.
#[derive(Debug, Default)]
pub(crate) struct Screen {
    state: Mutex<ScreenState>,
    changed: Condvar,
}

#[derive(Debug)]
pub(crate) struct ScreenState {
    /// The shared screen(s) as the portal described them.
    pub monitors: Vec<Monitor>,
    /// Which of them is streamed.
    pub selected: usize,
    /// The stream whose pictures are accepted (older streams' late pictures are dropped).
    pub generation: u64,
    /// A share is being asked for (the system's dialog may be open).
    pub starting: bool,
    /// What the portal session gives.
    pub access: super::Access,
    /// The stream stopped with this error.
    pub lost: Option<String>,
    /// The latest picture, packed BGRx (stride = width × 4).
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Counts pictures; 0: none yet on this stream.
    pub serial: u64,
}

impl Default for ScreenState {
    fn default() -> Self {
        ScreenState {
            monitors: Vec::new(),
            selected: 0,
            generation: 0,
            starting: false,
            access: super::Access::None,
            lost: None,
            data: Vec::new(),
            width: 0,
            height: 0,
            serial: 0,
        }
    }
}

impl Screen {
    pub fn lock(&self) -> MutexGuard<'_, ScreenState> {
        // Plain data: a panic elsewhere cannot leave it half-updated in a harmful way.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the state and wakes whoever waits for a picture.
    pub fn update(&self, f: impl FnOnce(&mut ScreenState)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `f` says done or `timeout` passes; returns the guard.
    pub fn wait_while<'a>(
        &'a self,
        guard: MutexGuard<'a, ScreenState>,
        timeout: std::time::Duration,
        f: impl FnMut(&mut ScreenState) -> bool,
    ) -> MutexGuard<'a, ScreenState> {
        match self.changed.wait_timeout_while(guard, timeout, f) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }
}

/// A running stream; dropping it stops the thread.
pub(crate) struct PwStream {
    quit: pw::channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PwStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PwStream").finish_non_exhaustive()
    }
}

impl Drop for PwStream {
    fn drop(&mut self) {
        let _ = self.quit.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts receiving node `node` over the portal's PipeWire connection `fd`, into `screen` as
/// stream `generation`. Returns once the stream is connected (pictures follow).
pub(crate) async fn start(
    fd: OwnedFd,
    node: u32,
    screen: Arc<Screen>,
    generation: u64,
) -> Result<PwStream, PortalError> {
    let (quit, quit_rx) = pw::channel::channel::<()>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    let thread = std::thread::Builder::new()
        .name("lotse-pipewire".into())
        .spawn(move || {
            let mut ready = Some(ready_tx);
            let lost = screen.clone();
            if let Err(e) = run(fd, node, screen, generation, quit_rx, &mut ready) {
                warn!("screen stream: {e}");
                match ready.take() {
                    Some(tx) => {
                        let _ = tx.send(Err(e));
                    }
                    None => lost.update(|s| {
                        if s.generation == generation {
                            s.lost = Some(e);
                        }
                    }),
                }
            }
        })
        .map_err(|e| PortalError::PipeWire(format!("cannot start a thread: {e}")))?;
    let stream = PwStream {
        quit,
        thread: Some(thread),
    };
    match ready_rx.await {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(e)) => Err(PortalError::PipeWire(e)),
        Err(_) => Err(PortalError::PipeWire("the stream thread ended".into())),
    }
}

/// The negotiated picture format.
#[derive(Debug, Default)]
struct Format {
    width: u32,
    height: u32,
}

fn run(
    fd: OwnedFd,
    node: u32,
    screen: Arc<Screen>,
    generation: u64,
    quit: pw::channel::Receiver<()>,
    ready: &mut Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
) -> Result<(), String> {
    pw::init();
    let err = |what: &str| {
        let what = what.to_owned();
        move |e: pw::Error| format!("{what}: {e}")
    };
    let mainloop = pw::main_loop::MainLoop::new(None).map_err(err("main loop"))?;
    let context = pw::context::Context::new(&mainloop).map_err(err("context"))?;
    let core = context
        .connect_fd(fd, None)
        .map_err(err("connecting to PipeWire"))?;
    let stream = pw::stream::Stream::new(
        &core,
        "lotse-screen",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(err("stream"))?;
    let on_state = screen.clone();
    let on_frame = screen;
    let _listener = stream
        .add_local_listener_with_user_data(Format::default())
        .state_changed(move |_, _, old, new| {
            debug!(?old, ?new, "screen stream state");
            if let pw::stream::StreamState::Error(e) = new {
                on_state.update(|s| {
                    if s.generation == generation {
                        s.lost = Some(e);
                    }
                });
            }
        })
        .param_changed(|_, format, id, param| {
            let Some(param) = param else { return };
            if id != spa::param::ParamType::Format.as_raw() {
                return;
            }
            let mut info = spa::param::video::VideoInfoRaw::default();
            if info.parse(param).is_ok() {
                format.width = info.size().width;
                format.height = info.size().height;
                debug!(?format, video_format = ?info.format(), "screen stream format");
            }
        })
        .process(move |stream, format| {
            let Some(mut buffer) = stream.dequeue_buffer() else {
                return;
            };
            let Some(data) = buffer.datas_mut().first_mut() else {
                return;
            };
            let (offset, size, stride) = {
                let c = data.chunk();
                (c.offset() as usize, c.size() as usize, c.stride())
            };
            let (w, h) = (format.width, format.height);
            let row = w as usize * 4;
            let stride = if stride > 0 { stride as usize } else { row };
            if size == 0 || w == 0 || h == 0 || stride < row {
                return; // a buffer without a picture (e.g. only cursor metadata)
            }
            let Some(bytes) = data.data() else { return };
            let Some(pic) = bytes.get(offset..offset.saturating_add(size)) else {
                return;
            };
            if pic.len() < stride * (h as usize - 1) + row {
                return;
            }
            on_frame.update(|s| {
                if s.generation != generation {
                    return;
                }
                s.data.resize(row * h as usize, 0);
                for (y, out) in s.data.chunks_exact_mut(row).enumerate() {
                    out.copy_from_slice(&pic[y * stride..y * stride + row]);
                }
                s.width = w;
                s.height = h;
                s.serial += 1;
            });
        })
        .register()
        .map_err(err("stream listener"))?;

    let params = format_params()?;
    let mut params = [spa::pod::Pod::from_bytes(&params)
        .ok_or_else(|| "the stream's format description is invalid".to_owned())?];
    stream
        .connect(
            spa::utils::Direction::Input,
            Some(node),
            pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut params,
        )
        .map_err(err("connecting the stream"))?;
    let ml = mainloop.clone();
    let _quit = quit.attach(mainloop.loop_(), move |()| ml.quit());
    if let Some(tx) = ready.take() {
        let _ = tx.send(Ok(()));
    }
    mainloop.run();
    Ok(())
}

/// The formats we take: 32-bit BGR with a spare or alpha byte, which is the capturer's BGRA.
/// No DMA-BUF modifiers are offered, so the compositor sends memory the CPU can read.
fn format_params() -> Result<Vec<u8>, String> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::param::video::VideoFormat;
    use spa::utils::{Fraction, Rectangle};
    let obj = spa::pod::object!(
        spa::utils::SpaTypes::ObjectParamFormat,
        spa::param::ParamType::EnumFormat,
        spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        spa::pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA
        ),
        spa::pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1920,
                height: 1080
            },
            Rectangle {
                width: 1,
                height: 1
            },
            Rectangle {
                width: 8192,
                height: 8192
            }
        ),
        spa::pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 30, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 120, denom: 1 }
        ),
    );
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(obj),
    )
    .map(|(c, _)| c.into_inner())
    .map_err(|e| format!("cannot describe the stream's format: {e:?}"))
}
