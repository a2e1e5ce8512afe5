//! The customer's picture painted straight from the decoder's I420 planes: luma in a
//! one-channel texture, U and V interleaved in a two-channel one (one fetch for both, which
//! matters where software GL samples), and one shader that converts to RGB while it paints (BT.601 limited range, the same
//! formula as [`crate::video::to_color_image`]). The CPU neither converts nor uploads 8 MB of
//! RGBA per 1080p picture: it uploads 3 MB of planes, and of those only the strips of rows that
//! changed since the last upload ([`Dirty`]).
//!
//! Needs GLSL 1.40 or ES 3.00 (`R8`/`RG8` textures, `gl_VertexID`). Where the context has
//! less, or a shader does not build, [`GpuPicture::failed`] says why and the shell falls back to
//! the CPU conversion and an egui texture; `LOTSE_CONSOLE_GPU=0` chooses that path by hand.

use crate::video::lock;
use lotse_codec::Yuv420;
use lotse_egui_tao::egui_glow::{
    self,
    glow::{self, HasContext as _},
};
use std::any::Any;
use std::sync::{Arc, Mutex};

/// Luma rows per strip of [`Dirty`] (even, so a strip's chroma rows are whole).
pub const STRIP: usize = 16;

/// Which strips of [`STRIP`] luma rows differ from the picture uploaded before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirty {
    strips: Vec<bool>,
}

impl Dirty {
    /// Everything, for a picture with nothing to compare to.
    pub fn all(height: usize) -> Dirty {
        Dirty {
            strips: vec![true; height.div_ceil(STRIP)],
        }
    }

    /// The strips where `new` differs from `old` (all of them when the sizes differ).
    pub fn between(old: &Yuv420, new: &Yuv420) -> Dirty {
        let (w, h) = (new.width() as usize, new.height() as usize);
        if (old.width(), old.height()) != (new.width(), new.height()) {
            return Dirty::all(h);
        }
        let (os, ns) = (old.strides(), new.strides());
        let rows_differ =
            |a: &[u8], sa: usize, b: &[u8], sb: usize, rows: std::ops::Range<usize>, w: usize| {
                rows.into_iter()
                    .any(|r| a[r * sa..][..w] != b[r * sb..][..w])
            };
        let strips = (0..h.div_ceil(STRIP))
            .map(|i| {
                let rows = i * STRIP..((i + 1) * STRIP).min(h);
                let chroma = rows.start / 2..rows.end.div_ceil(2);
                rows_differ(old.y(), os.0, new.y(), ns.0, rows, w)
                    || rows_differ(old.u(), os.1, new.u(), ns.1, chroma.clone(), w / 2)
                    || rows_differ(old.v(), os.2, new.v(), ns.2, chroma, w / 2)
            })
            .collect();
        Dirty { strips }
    }

    /// Adds what `other` marks (two changes in a row, the first never uploaded).
    pub fn merge(&mut self, other: &Dirty) {
        if self.strips.len() != other.strips.len() {
            self.strips.iter_mut().for_each(|s| *s = true);
            return;
        }
        for (a, b) in self.strips.iter_mut().zip(&other.strips) {
            *a |= *b;
        }
    }

    /// The luma rows to upload, as runs of whole strips (clipped to `height`).
    pub fn runs(&self, height: usize) -> Vec<std::ops::Range<usize>> {
        let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
        for (i, _) in self.strips.iter().enumerate().filter(|(_, d)| **d) {
            let rows = i * STRIP..((i + 1) * STRIP).min(height);
            match runs.last_mut() {
                Some(last) if last.end == rows.start => last.end = rows.end,
                _ => runs.push(rows),
            }
        }
        runs
    }

    pub fn is_empty(&self) -> bool {
        !self.strips.iter().any(|d| *d)
    }
}

/// A decoded picture on its way to the textures.
#[derive(Debug, Clone)]
pub struct Planes {
    pub yuv: Arc<Yuv420>,
    pub dirty: Dirty,
}

#[derive(Default)]
struct Shared {
    pending: Option<Planes>,
    /// The textures no longer hold a picture the next one can be compared with.
    stale: bool,
    renderer: Option<Renderer>,
    failed: Option<String>,
    /// Luma rows uploaded since the start, for the trace and the benchmark.
    rows_uploaded: u64,
}

/// The window's handle: [`GpuPicture::set`] on the UI thread, [`GpuPicture::callback`] painted
/// by egui_glow (where the GL context is current).
#[derive(Clone)]
pub struct GpuPicture {
    shared: Arc<Mutex<Shared>>,
    callback: Arc<dyn Any + Send + Sync>,
}

impl Default for GpuPicture {
    fn default() -> Self {
        GpuPicture::new()
    }
}

impl std::fmt::Debug for GpuPicture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuPicture").finish_non_exhaustive()
    }
}

impl GpuPicture {
    pub fn new() -> GpuPicture {
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let paint = shared.clone();
        let callback = egui_glow::CallbackFn::new(move |info, painter| {
            let mut s = lock(&paint);
            if s.failed.is_some() {
                return;
            }
            let gl = painter.gl();
            if s.renderer.is_none() {
                // SAFETY: egui_glow calls back with its context current on this thread.
                match unsafe { Renderer::new(gl) } {
                    Ok(r) => s.renderer = Some(r),
                    Err(e) => {
                        tracing::warn!("the picture is converted on the CPU: {e}");
                        s.failed = Some(e);
                        return;
                    }
                }
            }
            let stale = std::mem::take(&mut s.stale);
            let pending = s.pending.take();
            let Some(r) = s.renderer.as_mut() else { return };
            let mut rows = 0;
            if let Some(mut p) = pending {
                if stale {
                    p.dirty = Dirty::all(p.yuv.height() as usize);
                }
                // SAFETY: as above.
                rows = unsafe { r.upload(gl, &p) };
            }
            // egui_glow sets the viewport to the part of the rectangle inside the window, which
            // would squeeze a 1:1 picture larger than the window into it: the whole rectangle,
            // then (egui's scissor keeps the drawing inside the clip).
            let ppp = info.pixels_per_point;
            let v = info.viewport;
            let (left, top) = (
                (v.min.x * ppp).round() as i32,
                (v.min.y * ppp).round() as i32,
            );
            let (right, bottom) = (
                (v.max.x * ppp).round() as i32,
                (v.max.y * ppp).round() as i32,
            );
            // SAFETY: as above.
            unsafe {
                gl.viewport(
                    left,
                    info.screen_size_px[1] as i32 - bottom,
                    right - left,
                    bottom - top,
                );
                r.draw(gl, (right - left, bottom - top));
            }
            s.rows_uploaded += rows as u64;
        });
        GpuPicture {
            shared,
            callback: Arc::new(callback),
        }
    }

    /// The next picture to show; what changed is added to a picture not yet uploaded.
    pub fn set(&self, mut planes: Planes) {
        let mut s = lock(&self.shared);
        if let Some(old) = s.pending.take() {
            planes.dirty.merge(&old.dirty);
        }
        s.pending = Some(planes);
    }

    /// The next picture is uploaded whole (one was skipped, or another session's is coming).
    pub fn invalidate(&self) {
        lock(&self.shared).stale = true;
    }

    /// Why the GPU cannot paint the picture, once it has tried.
    pub fn failed(&self) -> Option<String> {
        lock(&self.shared).failed.clone()
    }

    pub fn rows_uploaded(&self) -> u64 {
        lock(&self.shared).rows_uploaded
    }

    /// Whether the last picture was drawn pixel for pixel (nearest texels, not bilinear).
    pub fn nearest(&self) -> bool {
        lock(&self.shared)
            .renderer
            .as_ref()
            .is_some_and(|r| r.filter == glow::NEAREST)
    }

    /// What to put into an [`egui::PaintCallback`].
    pub fn callback(&self) -> Arc<dyn Any + Send + Sync> {
        self.callback.clone()
    }
}

const VERTEX: &str = r"
out vec2 v_uv;
void main() {
    // A rectangle over the whole viewport (the callback sets it to the picture's rectangle).
    vec2 p = vec2(float((gl_VertexID & 1) * 2 - 1), float((gl_VertexID >> 1) * 2 - 1));
    v_uv = vec2(p.x * 0.5 + 0.5, 0.5 - p.y * 0.5);
    gl_Position = vec4(p, 0.0, 1.0);
}
";

const FRAGMENT: &str = r"
uniform sampler2D u_y;
uniform sampler2D u_uv;
in vec2 v_uv;
out vec4 out_color;
void main() {
    // BT.601 limited range, as the customer's capture writes it.
    float c = 1.1640625 * (texture(u_y, v_uv).r - 0.0627451);
    vec2 uv = texture(u_uv, v_uv).rg - 0.5019608;
    float u = uv.x;
    float v = uv.y;
    out_color = vec4(
        clamp(c + 1.5976563 * v, 0.0, 1.0),
        clamp(c - 0.3906250 * u - 0.8125 * v, 0.0, 1.0),
        clamp(c + 2.015625 * u, 0.0, 1.0),
        1.0);
}
";

struct Renderer {
    program: glow::Program,
    vao: glow::VertexArray,
    /// Y, and U and V interleaved.
    textures: [glow::Texture; 2],
    /// Interleaved chroma rows on their way up.
    chroma: Vec<u8>,
    /// The luma size the textures have.
    size: Option<(u32, u32)>,
    /// The textures' filter (`LINEAR` when scaled, `NEAREST` when drawn pixel for pixel).
    filter: u32,
}

/// How the picture's textures are sampled when the picture (`picture`, luma pixels) is drawn
/// into `drawn` window pixels: pixel for pixel (the 1:1 view, or a picture smaller than the view)
/// each window pixel is one texel, so the nearest one is the same picture as bilinear's and
/// costs software GL a fifth less per picture (docs/PERFORMANCE.md); scaled, bilinear keeps
/// text legible.
fn filter_for(drawn: (i32, i32), picture: (u32, u32)) -> u32 {
    if i64::from(drawn.0) == i64::from(picture.0) && i64::from(drawn.1) == i64::from(picture.1) {
        glow::NEAREST
    } else {
        glow::LINEAR
    }
}

impl Renderer {
    unsafe fn new(gl: &glow::Context) -> Result<Renderer, String> {
        let version = egui_glow::ShaderVersion::get(gl);
        if !version.is_new_shader_interface() {
            return Err(format!("{version:?} is older than GLSL 1.40 / ES 3.00"));
        }
        let header = format!(
            "{}{}",
            version.version_declaration(),
            if version.is_embedded() {
                "precision mediump float;\n"
            } else {
                ""
            }
        );
        unsafe {
            let program = gl.create_program()?;
            let mut shaders = Vec::new();
            for (kind, src) in [
                (glow::VERTEX_SHADER, VERTEX),
                (glow::FRAGMENT_SHADER, FRAGMENT),
            ] {
                let s = gl.create_shader(kind)?;
                gl.shader_source(s, &format!("{header}{src}"));
                gl.compile_shader(s);
                if !gl.get_shader_compile_status(s) {
                    let log = gl.get_shader_info_log(s);
                    gl.delete_shader(s);
                    gl.delete_program(program);
                    return Err(format!("shader: {log}"));
                }
                gl.attach_shader(program, s);
                shaders.push(s);
            }
            gl.link_program(program);
            for s in shaders {
                gl.detach_shader(program, s);
                gl.delete_shader(s);
            }
            if !gl.get_program_link_status(program) {
                let log = gl.get_program_info_log(program);
                gl.delete_program(program);
                return Err(format!("program: {log}"));
            }
            gl.use_program(Some(program));
            for (i, name) in ["u_y", "u_uv"].into_iter().enumerate() {
                let at = gl.get_uniform_location(program, name);
                gl.uniform_1_i32(at.as_ref(), i as i32);
            }
            let vao = gl.create_vertex_array()?;
            let mut textures = Vec::new();
            for _ in 0..2 {
                let t = gl.create_texture()?;
                gl.bind_texture(glow::TEXTURE_2D, Some(t));
                for (p, v) in [
                    (glow::TEXTURE_MIN_FILTER, glow::LINEAR),
                    (glow::TEXTURE_MAG_FILTER, glow::LINEAR),
                    (glow::TEXTURE_WRAP_S, glow::CLAMP_TO_EDGE),
                    (glow::TEXTURE_WRAP_T, glow::CLAMP_TO_EDGE),
                ] {
                    gl.tex_parameter_i32(glow::TEXTURE_2D, p, v as i32);
                }
                textures.push(t);
            }
            let error = gl.get_error();
            if error != glow::NO_ERROR {
                return Err(format!("GL error {error:#x} while setting up"));
            }
            Ok(Renderer {
                program,
                vao,
                textures: [textures[0], textures[1]],
                chroma: Vec::new(),
                size: None,
                filter: glow::LINEAR,
            })
        }
    }

    /// Uploads the changed rows of `p` (all of them for a new size); returns how many luma rows.
    unsafe fn upload(&mut self, gl: &glow::Context, p: &Planes) -> usize {
        let yuv = &p.yuv;
        let (w, h) = (yuv.width(), yuv.height());
        let (wl, hl) = (w as usize, h as usize);
        let (cw, ch) = (wl / 2, hl / 2);
        let (ys, us, vs) = yuv.strides();
        let resized = self.size != Some((w, h));
        let runs = if resized {
            std::iter::once(0..hl).collect()
        } else {
            p.dirty.runs(hl)
        };
        // SAFETY (all below): the caller's context is current; every slice covers the rows
        // and row length given to GL.
        unsafe {
            gl.pixel_store_i32(glow::UNPACK_ALIGNMENT, 1);
            for (t, format, inner, width, height) in [
                (0, glow::RED, glow::R8, wl, hl),
                (1, glow::RG, glow::RG8, cw, ch),
            ] {
                gl.bind_texture(glow::TEXTURE_2D, Some(self.textures[t]));
                if resized {
                    gl.tex_image_2d(
                        glow::TEXTURE_2D,
                        0,
                        inner as i32,
                        width as i32,
                        height as i32,
                        0,
                        format,
                        glow::UNSIGNED_BYTE,
                        glow::PixelUnpackData::Slice(None),
                    );
                }
            }
            for rows in &runs {
                // Luma straight from the decoder's plane.
                gl.bind_texture(glow::TEXTURE_2D, Some(self.textures[0]));
                gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, ys as i32);
                let bytes = &yuv.y()[rows.start * ys..(rows.end - 1) * ys + wl];
                gl.tex_sub_image_2d(
                    glow::TEXTURE_2D,
                    0,
                    0,
                    rows.start as i32,
                    wl as i32,
                    rows.len() as i32,
                    glow::RED,
                    glow::UNSIGNED_BYTE,
                    glow::PixelUnpackData::Slice(Some(bytes)),
                );
                // U and V interleaved into one two-channel texture: one fetch for both.
                let (c0, c1) = (rows.start / 2, rows.end.div_ceil(2).min(ch));
                if c1 <= c0 {
                    continue;
                }
                self.chroma.clear();
                for r in c0..c1 {
                    let (u, v) = (&yuv.u()[r * us..][..cw], &yuv.v()[r * vs..][..cw]);
                    self.chroma
                        .extend(u.iter().zip(v).flat_map(|(u, v)| [*u, *v]));
                }
                gl.bind_texture(glow::TEXTURE_2D, Some(self.textures[1]));
                gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, 0);
                gl.tex_sub_image_2d(
                    glow::TEXTURE_2D,
                    0,
                    0,
                    c0 as i32,
                    cw as i32,
                    (c1 - c0) as i32,
                    glow::RG,
                    glow::UNSIGNED_BYTE,
                    glow::PixelUnpackData::Slice(Some(&self.chroma)),
                );
            }
            // egui's own uploads assume tightly packed rows.
            gl.pixel_store_i32(glow::UNPACK_ROW_LENGTH, 0);
        }
        self.size = Some((w, h));
        runs.iter().map(|r| r.len()).sum()
    }

    /// Draws the picture into the viewport, `drawn` window pixels.
    unsafe fn draw(&mut self, gl: &glow::Context, drawn: (i32, i32)) {
        let Some(size) = self.size else { return };
        let filter = filter_for(drawn, size);
        unsafe {
            // The picture is opaque: blending would only make software GL read every pixel
            // under it back (egui_glow sets its own state again after a callback).
            gl.disable(glow::BLEND);
            gl.use_program(Some(self.program));
            gl.bind_vertex_array(Some(self.vao));
            for (i, t) in self.textures.iter().enumerate() {
                gl.active_texture(glow::TEXTURE0 + i as u32);
                gl.bind_texture(glow::TEXTURE_2D, Some(*t));
                if filter != self.filter {
                    for p in [glow::TEXTURE_MIN_FILTER, glow::TEXTURE_MAG_FILTER] {
                        gl.tex_parameter_i32(glow::TEXTURE_2D, p, filter as i32);
                    }
                }
            }
            self.filter = filter;
            gl.draw_arrays(glow::TRIANGLE_STRIP, 0, 4);
            gl.bind_vertex_array(None);
            gl.active_texture(glow::TEXTURE0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_texels_only_pixel_for_pixel() {
        assert_eq!(filter_for((1920, 1080), (1920, 1080)), glow::NEAREST);
        assert_eq!(filter_for((1280, 720), (1280, 720)), glow::NEAREST);
        // Scaled either way, or in one direction only: bilinear.
        assert_eq!(filter_for((1197, 673), (1920, 1080)), glow::LINEAR);
        assert_eq!(filter_for((1920, 1079), (1920, 1080)), glow::LINEAR);
        assert_eq!(filter_for((1921, 1080), (1920, 1080)), glow::LINEAR);
        assert_eq!(filter_for((3840, 2160), (1920, 1080)), glow::LINEAR);
        assert_eq!(filter_for((0, 0), (1920, 1080)), glow::LINEAR);
        assert_eq!(filter_for((-1920, 1080), (1920, 1080)), glow::LINEAR);
    }

    fn picture(w: u32, h: u32, seed: u8) -> Yuv420 {
        let y: Vec<u8> = (0..w * h).map(|i| (i as u8).wrapping_add(seed)).collect();
        let c = vec![128u8; (w * h / 4) as usize];
        Yuv420::from_planes(
            w,
            h,
            (&y, &c, &c),
            (w as usize, w as usize / 2, w as usize / 2),
        )
    }

    #[test]
    fn only_the_strips_that_changed_are_marked() {
        let a = picture(64, 100, 0);
        assert!(Dirty::between(&a, &a).is_empty());
        // One luma pixel in row 40 (strip 2) and one chroma sample in chroma row 49 (luma row
        // 98, the last, short strip 6).
        let mut y = a.y().to_vec();
        y[40 * 64 + 3] ^= 1;
        let mut v = a.v().to_vec();
        v[49 * 32 + 31] ^= 1;
        let b = Yuv420::from_planes(64, 100, (&y, a.u(), &v), (64, 32, 32));
        let d = Dirty::between(&a, &b);
        assert_eq!(d.runs(100), vec![32..48, 96..100]);
        // Merged with a change in strip 3: strips 2 and 3 become one run.
        let mut e = Dirty::between(&a, &a);
        e.strips[3] = true;
        let mut m = d.clone();
        m.merge(&e);
        assert_eq!(m.runs(100), vec![32..64, 96..100]);
        // Another size: everything.
        assert_eq!(
            Dirty::between(&picture(64, 64, 0), &a).runs(100),
            vec![0..100]
        );
        assert_eq!(Dirty::all(100).runs(100), vec![0..100]);
    }

    #[test]
    fn a_picture_not_yet_uploaded_keeps_its_changes_when_the_next_arrives() {
        let g = GpuPicture::new();
        let a = Arc::new(picture(64, 64, 0));
        let mut first = Dirty::all(64);
        first.strips = vec![true, false, false, false];
        let mut second = Dirty::all(64);
        second.strips = vec![false, false, true, false];
        g.set(Planes {
            yuv: a.clone(),
            dirty: first,
        });
        g.set(Planes {
            yuv: a,
            dirty: second,
        });
        let s = lock(&g.shared);
        assert_eq!(
            s.pending.as_ref().unwrap().dirty.runs(64),
            vec![0..16, 32..48]
        );
    }
}
