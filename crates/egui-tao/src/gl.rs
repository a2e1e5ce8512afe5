//! OpenGL for the window: a glutin EGL context on the tao window's native handles, and the
//! egui_glow painter that draws egui's triangles with it.

use egui_glow::glow;
use glutin::config::{Config, ConfigTemplateBuilder, GlConfig};
use glutin::context::{ContextAttributesBuilder, PossiblyCurrentContext};
use glutin::display::{Display, DisplayApiPreference, GlDisplay};
use glutin::prelude::NotCurrentGlContext;
use glutin::surface::{GlSurface, Surface, SurfaceAttributesBuilder, SwapInterval, WindowSurface};
use raw_window_handle::{HasDisplayHandle, HasWindowHandle};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Why drawing could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum GlError {
    #[error("the window system gave no handle: {0}")]
    Handle(#[from] raw_window_handle::HandleError),
    #[error("OpenGL (EGL) is not available: {0}")]
    Glutin(#[from] glutin::error::Error),
    #[error("no OpenGL configuration fits this window")]
    NoConfig,
    #[error("the OpenGL painter could not start: {0}")]
    Painter(#[from] egui_glow::PainterError),
}

/// A window's GL surface, context and egui painter.
pub struct Gl {
    surface: Surface<WindowSurface>,
    context: PossiblyCurrentContext,
    painter: egui_glow::Painter,
    size: [u32; 2],
}

impl std::fmt::Debug for Gl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gl")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// EGL on Linux (X11); WGL on Windows (Mesa's llvmpipe under Wine), which needs the window.
#[cfg(not(windows))]
fn api_preference(_window: raw_window_handle::RawWindowHandle) -> DisplayApiPreference {
    DisplayApiPreference::Egl
}
#[cfg(windows)]
fn api_preference(window: raw_window_handle::RawWindowHandle) -> DisplayApiPreference {
    DisplayApiPreference::Wgl(Some(window))
}

impl Gl {
    /// Sets up GL on `window`, whose inner size in physical pixels is `size`.
    pub fn new(window: &tao::window::Window, size: [u32; 2]) -> Result<Gl, GlError> {
        // PLATFORM-NOTES: every display_handle() call opens an X connection; this is the one.
        let raw_display = window.display_handle()?.as_raw();
        let raw_window = window.window_handle()?.as_raw();
        // SAFETY: both handles belong to `window`, which outlives this GL state (the shell drops
        // `Gl` before the window).
        let display = unsafe { Display::new(raw_display, api_preference(raw_window)) }?;
        let template = ConfigTemplateBuilder::new()
            .compatible_with_native_window(raw_window)
            .with_transparency(false)
            .build();
        // SAFETY: as above.
        let config = unsafe { display.find_configs(template) }?
            .reduce(prefer)
            .ok_or(GlError::NoConfig)?;
        let attributes = ContextAttributesBuilder::new().build(Some(raw_window));
        // SAFETY: as above.
        let context = unsafe { display.create_context(&config, &attributes) }?;
        let [w, h] = size.map(nonzero);
        let surface_attributes =
            SurfaceAttributesBuilder::<WindowSurface>::new().build(raw_window, w, h);
        // SAFETY: as above.
        let surface = unsafe { display.create_window_surface(&config, &surface_attributes) }?;
        let context = context.make_current(&surface)?;
        // Vsync keeps a burst of repaints from spinning; failure only costs that.
        let _ = surface.set_swap_interval(&context, SwapInterval::Wait(NonZeroU32::MIN));
        // SAFETY: the loader returns function pointers of the current context, as glow expects.
        let glow = unsafe {
            glow::Context::from_loader_function_cstr(|name| display.get_proc_address(name))
        };
        let painter = egui_glow::Painter::new(Arc::new(glow), "", None, false)?;
        Ok(Gl {
            surface,
            context,
            painter,
            size,
        })
    }

    /// The largest texture the GPU takes, for egui's font atlas.
    pub fn max_texture_side(&self) -> usize {
        self.painter.max_texture_side()
    }

    /// Follows a window resize.
    pub fn resize(&mut self, size: [u32; 2]) {
        if size != self.size && size[0] > 0 && size[1] > 0 {
            self.size = size;
            let [w, h] = size.map(nonzero);
            self.surface.resize(&self.context, w, h);
        }
    }

    /// Draws one egui frame and shows it.
    pub fn paint(
        &mut self,
        clear: egui::Color32,
        primitives: &[egui::ClippedPrimitive],
        pixels_per_point: f32,
        textures: &mut egui::TexturesDelta,
    ) -> Result<(), glutin::error::Error> {
        let rgba = egui::Rgba::from(clear).to_array();
        self.painter.clear(self.size, rgba);
        self.painter
            .paint_and_update_textures(self.size, pixels_per_point, primitives, textures);
        self.surface.swap_buffers(&self.context)
    }
}

/// Prefers configurations without multisampling (egui anti-aliases itself) and with fewer bits.
fn prefer(a: Config, b: Config) -> Config {
    let key = |c: &Config| (c.num_samples(), c.alpha_size(), c.depth_size());
    if key(&b) < key(&a) { b } else { a }
}

fn nonzero(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN)
}
