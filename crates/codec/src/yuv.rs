//! Pictures: the captured BGRA view, the I420 picture the codec works on, conversion between
//! them, and PSNR.
//!
//! BGRA→I420 goes through OpenH264's converter (`YUVBuffer::read_bgra8`), which uses AVX2 where the
//! CPU has it; the colour matrix is BT.601 with limited range, which the decoder's I420→RGB
//! conversion inverts.

use openh264::formats::{BGRA8Source, RGB8Source, RGBSource, YUVBuffer, YUVSource};

/// A borrowed BGRA picture, X11's 32-bit layout (blue, green, red, unused), rows `stride` bytes
/// apart.
#[derive(Clone, Copy, Debug)]
pub struct Bgra<'a> {
    pub data: &'a [u8],
    pub width: u32,
    pub height: u32,
    /// Bytes from one row to the next; at least `width * 4`.
    pub stride: usize,
}

impl<'a> Bgra<'a> {
    /// A packed picture (`stride == width * 4`); `None` if `data` is too short.
    pub fn packed(data: &'a [u8], width: u32, height: u32) -> Option<Self> {
        let b = Bgra {
            data,
            width,
            height,
            stride: width as usize * 4,
        };
        b.is_valid().then_some(b)
    }

    /// Whether `data` holds `height` rows of `stride` bytes, each with `width` pixels.
    pub fn is_valid(&self) -> bool {
        let row = self.width as usize * 4;
        self.stride >= row
            && (self.height == 0
                || self.data.len() >= self.stride * (self.height as usize - 1) + row)
    }

    /// One row's pixels (without the padding after them).
    pub fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * 4]
    }
}

/// Rounds down to an even number: I420 needs even dimensions (one chroma sample per 2×2 block).
pub const fn even(n: u32) -> u32 {
    n & !1
}

/// An I420 picture (Y plane, then U and V at half resolution), even width and height.
pub struct Yuv420 {
    buf: YUVBuffer,
    width: u32,
    height: u32,
}

impl Yuv420 {
    /// A black picture; odd dimensions are rounded down to even ones.
    pub fn new(width: u32, height: u32) -> Yuv420 {
        let (w, h) = (even(width), even(height));
        let (wu, hu) = (w as usize, h as usize);
        let mut data = vec![16u8; wu * hu + wu * hu / 2];
        data[wu * hu..].fill(128);
        Yuv420 {
            buf: YUVBuffer::from_vec(data, wu, hu),
            width: w,
            height: h,
        }
    }

    /// Converts a BGRA picture (its even-sized top-left part).
    pub fn from_bgra(src: &Bgra<'_>) -> Yuv420 {
        let mut p = Yuv420::new(src.width, src.height);
        p.read_bgra(src);
        p
    }

    /// A picture from its planes packed one after another without padding (Y, U, V: what
    /// [`Yuv420::y`], [`Yuv420::u`] and [`Yuv420::v`] give, in that order), taking the buffer;
    /// `None` if the size is odd, zero, or does not match the data's length.
    pub fn from_i420(width: u32, height: u32, data: Vec<u8>) -> Option<Yuv420> {
        if width == 0 || height == 0 || width != even(width) || height != even(height) {
            return None;
        }
        let (w, h) = (width as usize, height as usize);
        if data.len() != w.checked_mul(h)?.checked_mul(3)? / 2 {
            return None;
        }
        Some(Yuv420 {
            buf: YUVBuffer::from_vec(data, w, h),
            width,
            height,
        })
    }

    /// Copies tightly packed or strided planes (e.g. from a decoder) into a new picture.
    ///
    /// # Panics
    /// If a plane is shorter than its stride and the picture's size require.
    pub fn from_planes(
        width: u32,
        height: u32,
        planes: (&[u8], &[u8], &[u8]),
        strides: (usize, usize, usize),
    ) -> Yuv420 {
        let (w, h) = (even(width) as usize, even(height) as usize);
        let mut data = Vec::with_capacity(w * h * 3 / 2);
        for row in 0..h {
            data.extend_from_slice(&planes.0[row * strides.0..][..w]);
        }
        for row in 0..h / 2 {
            data.extend_from_slice(&planes.1[row * strides.1..][..w / 2]);
        }
        for row in 0..h / 2 {
            data.extend_from_slice(&planes.2[row * strides.2..][..w / 2]);
        }
        Yuv420 {
            buf: YUVBuffer::from_vec(data, w, h),
            width: w as u32,
            height: h as u32,
        }
    }

    /// Converts `src` into this picture. `src` must be at least as large as the picture; only
    /// its top-left part is read.
    ///
    /// # Panics
    /// If `src` is smaller than the picture or its data shorter than its size says.
    pub fn read_bgra(&mut self, src: &Bgra<'_>) {
        assert!(
            src.width >= self.width && src.height >= self.height && src.is_valid(),
            "BGRA source {}x{} (stride {}) does not cover the {}x{} picture",
            src.width,
            src.height,
            src.stride,
            self.width,
            self.height
        );
        if src.stride.is_multiple_of(4) {
            self.buf.read_bgra8(Strided {
                src,
                width: self.width as usize,
                height: self.height as usize,
            });
        } else {
            // An X server never pads rows to other than 4 bytes; keep a correct path anyway.
            let packed: Vec<u8> = (0..self.height)
                .flat_map(|y| src.row(y)[..self.width as usize * 4].iter().copied())
                .collect();
            let view = Bgra {
                data: &packed,
                width: self.width,
                height: self.height,
                stride: self.width as usize * 4,
            };
            self.read_bgra(&view);
        }
    }

    /// Takes the rows `rows` (rounded out to even rows, clipped to the picture) from `other`, a
    /// picture of the same size; the other rows stay. (A copy of the whole picture: for the
    /// thin-link stripes, a few frames a second.)
    ///
    /// # Panics
    /// If `other` is of another size.
    pub fn copy_rows_from(&mut self, other: &Yuv420, rows: std::ops::Range<u32>) {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "rows from a picture of another size"
        );
        let (w, h) = (self.width as usize, self.height as usize);
        let from = (rows.start as usize & !1).min(h);
        let to = (rows.end as usize).next_multiple_of(2).clamp(from, h);
        // Every picture here is packed (made by `from_vec`): rows are plain slices.
        let mut data = Vec::with_capacity(w * h * 3 / 2);
        data.extend_from_slice(&self.y()[..from * w]);
        data.extend_from_slice(&other.y()[from * w..to * w]);
        data.extend_from_slice(&self.y()[to * w..h * w]);
        for (m, t) in [(self.u(), other.u()), (self.v(), other.v())] {
            let cw = w / 2;
            data.extend_from_slice(&m[..from / 2 * cw]);
            data.extend_from_slice(&t[from / 2 * cw..to / 2 * cw]);
            data.extend_from_slice(&m[to / 2 * cw..h / 2 * cw]);
        }
        self.buf = YUVBuffer::from_vec(data, w, h);
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn y(&self) -> &[u8] {
        self.buf.y()
    }

    pub fn u(&self) -> &[u8] {
        self.buf.u()
    }

    pub fn v(&self) -> &[u8] {
        self.buf.v()
    }

    /// The planes' strides (Y, U, V) in bytes: tightly packed.
    pub fn strides(&self) -> (usize, usize, usize) {
        self.buf.strides()
    }

    /// Converts to packed RGB (3 bytes a pixel) with the inverse of the capture's matrix.
    pub fn to_rgb(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.width as usize * self.height as usize * 3];
        let (w, h) = (self.width as usize, self.height as usize);
        for y in 0..h {
            for x in 0..w {
                let yy = i32::from(self.y()[y * w + x]) - 16;
                let u = i32::from(self.u()[(y / 2) * (w / 2) + x / 2]) - 128;
                let v = i32::from(self.v()[(y / 2) * (w / 2) + x / 2]) - 128;
                let c = 298 * yy;
                let px = &mut out[(y * w + x) * 3..][..3];
                px[0] = clamp8((c + 409 * v + 128) >> 8);
                px[1] = clamp8((c - 100 * u - 208 * v + 128) >> 8);
                px[2] = clamp8((c + 516 * u + 128) >> 8);
            }
        }
        out
    }

    pub(crate) fn source(&self) -> &YUVBuffer {
        &self.buf
    }
}

impl Clone for Yuv420 {
    fn clone(&self) -> Yuv420 {
        Yuv420::from_planes(
            self.width,
            self.height,
            (self.y(), self.u(), self.v()),
            self.strides(),
        )
    }
}

impl std::fmt::Debug for Yuv420 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Yuv420")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Peak signal-to-noise ratio per plane and over all samples (ffmpeg's `psnr` "average").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Psnr {
    pub y: f64,
    pub u: f64,
    pub v: f64,
    /// From the mean squared error over all Y, U and V samples together.
    pub avg: f64,
}

/// PSNR in dB of `b` against `a`; identical pictures give 100 dB (ffmpeg says "inf").
///
/// # Panics
/// If the pictures differ in size.
pub fn psnr(a: &Yuv420, b: &Yuv420) -> Psnr {
    assert_eq!(
        (a.width, a.height),
        (b.width, b.height),
        "PSNR needs pictures of one size"
    );
    let sse = |p: &[u8], q: &[u8]| -> (f64, usize) {
        let s: u64 = p
            .iter()
            .zip(q)
            .map(|(x, y)| {
                let d = i64::from(*x) - i64::from(*y);
                (d * d) as u64
            })
            .sum();
        (s as f64, p.len())
    };
    let (ys, yn) = sse(a.y(), b.y());
    let (us, un) = sse(a.u(), b.u());
    let (vs, vn) = sse(a.v(), b.v());
    let db = |sse: f64, n: usize| {
        if sse == 0.0 || n == 0 {
            100.0
        } else {
            10.0 * (255.0f64 * 255.0 / (sse / n as f64)).log10()
        }
    };
    Psnr {
        y: db(ys, yn),
        u: db(us, un),
        v: db(vs, vn),
        avg: db(ys + us + vs, yn + un + vn),
    }
}

/// OpenH264's converter reads through these traits; this one adds a row stride and a crop.
struct Strided<'a, 'b> {
    src: &'b Bgra<'a>,
    width: usize,
    height: usize,
}

impl RGBSource for Strided<'_, '_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn pixel_f32(&self, x: usize, y: usize) -> (f32, f32, f32) {
        let p = &self.src.data[y * self.src.stride + x * 4..][..3];
        (f32::from(p[2]), f32::from(p[1]), f32::from(p[0]))
    }
}

impl RGB8Source for Strided<'_, '_> {
    fn dimensions_padded(&self) -> (usize, usize) {
        (self.src.stride / 4, self.height)
    }

    fn rgb8_data(&self) -> &[u8] {
        self.src.data
    }

    fn pixel_stride(&self) -> usize {
        4
    }

    fn rgb_channel_offsets(&self) -> (usize, usize, usize) {
        (2, 1, 0)
    }
}

impl BGRA8Source for Strided<'_, '_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, bgra: [u8; 4]) -> Vec<u8> {
        bgra.iter()
            .copied()
            .cycle()
            .take((w * h * 4) as usize)
            .collect()
    }

    #[test]
    fn copy_rows_from_takes_those_rows_of_every_plane_and_keeps_the_rest() {
        let (w, h) = (32u32, 24u32);
        let white = solid(w, h, [255, 255, 255, 255]);
        let blue = solid(w, h, [255, 0, 0, 255]);
        let mut pic = Yuv420::from_bgra(&Bgra::packed(&white, w, h).unwrap());
        let other = Yuv420::from_bgra(&Bgra::packed(&blue, w, h).unwrap());
        let before = (pic.y().to_vec(), pic.u().to_vec());
        // Odd edges are rounded out to whole chroma rows: 5..11 → 4..12.
        pic.copy_rows_from(&other, 5..11);
        let (wu, cw) = (w as usize, w as usize / 2);
        for row in 0..h as usize {
            let src = if (4..12).contains(&row) {
                other.y()
            } else {
                &before.0[..]
            };
            assert_eq!(
                pic.y()[row * wu..][..wu],
                src[row * wu..][..wu],
                "Y row {row}"
            );
        }
        for row in 0..h as usize / 2 {
            let src = if (2..6).contains(&row) {
                other.u()
            } else {
                &before.1[..]
            };
            assert_eq!(
                pic.u()[row * cw..][..cw],
                src[row * cw..][..cw],
                "U row {row}"
            );
        }
        // Past the bottom is clipped; the whole picture is the other one's.
        pic.copy_rows_from(&other, 0..1000);
        assert_eq!(
            (pic.y(), pic.u(), pic.v()),
            (other.y(), other.u(), other.v())
        );
    }

    #[test]
    fn white_and_black_map_to_limited_range() {
        let white = solid(4, 2, [255, 255, 255, 0]);
        let p = Yuv420::from_bgra(&Bgra::packed(&white, 4, 2).unwrap());
        assert!(p.y().iter().all(|&y| y == 235), "{:?}", p.y());
        assert!(p.u().iter().all(|&u| u == 128));
        let black = solid(4, 2, [0, 0, 0, 0]);
        let p = Yuv420::from_bgra(&Bgra::packed(&black, 4, 2).unwrap());
        assert!(p.y().iter().all(|&y| y == 16));
    }

    #[test]
    fn odd_sizes_are_cropped_and_strides_respected() {
        // 5x3 picture in rows of 6 pixels: the converter must read 4x2 and skip the padding.
        let mut data = vec![0u8; 6 * 4 * 3];
        for y in 0..3 {
            for x in 0..6 {
                let v = if x < 5 { 200 } else { 7 }; // padding is dark
                data[(y * 6 + x) * 4..][..3].copy_from_slice(&[v, v, v]);
            }
        }
        let src = Bgra {
            data: &data,
            width: 5,
            height: 3,
            stride: 24,
        };
        let p = Yuv420::from_bgra(&src);
        assert_eq!((p.width(), p.height()), (4, 2));
        let y0 = p.y()[0];
        assert!(p.y().iter().all(|&y| y == y0), "{:?}", p.y());
    }

    #[test]
    fn rgb_round_trip_is_close() {
        let mut data = Vec::new();
        for i in 0..64u32 {
            data.extend_from_slice(&[(i * 4) as u8, (255 - i * 3) as u8, (i * 2) as u8, 0]);
        }
        // 8x8 where every 2x2 block has one colour, so chroma subsampling loses nothing.
        let mut blocky = vec![0u8; 8 * 8 * 4];
        for y in 0..8 {
            for x in 0..8 {
                let src = ((y / 2) * 8 + x / 2) * 4;
                blocky[(y * 8 + x) * 4..][..4].copy_from_slice(&data[src..src + 4]);
            }
        }
        let p = Yuv420::from_bgra(&Bgra::packed(&blocky, 8, 8).unwrap());
        let rgb = p.to_rgb();
        for (i, px) in rgb.chunks(3).enumerate() {
            let b = &blocky[i * 4..i * 4 + 3];
            for c in 0..3 {
                let d = (i32::from(px[c]) - i32::from(b[2 - c])).abs();
                assert!(d <= 3, "pixel {i} channel {c}: {px:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn psnr_of_identical_and_of_noisy_pictures() {
        let a = Yuv420::new(16, 16);
        assert_eq!(psnr(&a, &a).avg, 100.0);
        let mut planes = (a.y().to_vec(), a.u().to_vec(), a.v().to_vec());
        for (i, y) in planes.0.iter_mut().enumerate() {
            if i % 2 == 0 {
                *y += 4; // MSE 8 on Y
            }
        }
        let b = Yuv420::from_planes(16, 16, (&planes.0, &planes.1, &planes.2), (16, 8, 8));
        let p = psnr(&a, &b);
        assert!((p.y - 10.0 * (65025.0f64 / 8.0).log10()).abs() < 1e-9);
        assert_eq!(p.u, 100.0);
        assert!(p.avg > p.y);
    }
}
