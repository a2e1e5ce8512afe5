//! Windows' clipboard picture format `CF_DIB` (a BITMAPINFOHEADER, then the pixels) to PNG and
//! back. Pure, so it is tested on every system; the Windows clipboard uses it.

/// A `CF_DIB` (BITMAPINFOHEADER, then pixels) of 24 or 32 bits per pixel as PNG.
pub fn dib_to_png(dib: &[u8]) -> Option<Vec<u8>> {
    let u32_at = |at: usize| Some(u32::from_le_bytes(dib.get(at..at + 4)?.try_into().ok()?));
    let header = u32_at(0)? as usize;
    let width = i32::from_le_bytes(dib.get(4..8)?.try_into().ok()?);
    let height = i32::from_le_bytes(dib.get(8..12)?.try_into().ok()?);
    let bits = u16::from_le_bytes(dib.get(14..16)?.try_into().ok()?);
    let compression = u32_at(16)?;
    if width <= 0 || height == 0 || width > 1 << 14 || height.unsigned_abs() > 1 << 14 {
        return None;
    }
    // BI_RGB, or BI_BITFIELDS with the three masks after the header (32-bit BGRA layout).
    let masks = match (compression, bits) {
        (0, 24 | 32) => 0,
        (3, 32) => 12,
        _ => return None,
    };
    let (w, h) = (width as usize, height.unsigned_abs() as usize);
    let bpp = usize::from(bits / 8);
    let stride = (w * bpp).div_ceil(4) * 4;
    let pixels = dib.get(header + masks..)?;
    if pixels.len() < stride * h {
        return None;
    }
    let mut rgba = Vec::with_capacity(w * h * 4);
    for row in 0..h {
        // Positive height: bottom-up rows.
        let src = if height > 0 { h - 1 - row } else { row };
        let line = &pixels[src * stride..src * stride + w * bpp];
        for px in line.chunks_exact(bpp) {
            rgba.extend_from_slice(&[px[2], px[1], px[0], 255]);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().ok()?;
        writer.write_image_data(&rgba).ok()?;
    }
    Some(out)
}

/// A PNG as a `CF_DIB`: 32-bit BI_RGB, bottom-up.
pub fn png_to_dib(png_bytes: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let (w, h) = (reader.info().width as usize, reader.info().height as usize);
    if w == 0 || h == 0 || w > 1 << 14 || h > 1 << 14 {
        return None;
    }
    let mut buf = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    let channels = frame.color_type.samples();
    let data = &buf[..frame.buffer_size()];
    let mut dib = Vec::with_capacity(40 + w * h * 4);
    dib.extend_from_slice(&40u32.to_le_bytes());
    dib.extend_from_slice(&(w as i32).to_le_bytes());
    dib.extend_from_slice(&(h as i32).to_le_bytes());
    dib.extend_from_slice(&1u16.to_le_bytes());
    dib.extend_from_slice(&32u16.to_le_bytes());
    dib.extend_from_slice(&0u32.to_le_bytes()); // BI_RGB
    dib.extend_from_slice(&((w * h * 4) as u32).to_le_bytes());
    dib.extend_from_slice(&[0; 16]); // resolution, palette
    for row in (0..h).rev() {
        let line = &data[row * frame.line_size..row * frame.line_size + w * channels];
        for px in line.chunks_exact(channels) {
            let (r, g, b) = match channels {
                1 | 2 => (px[0], px[0], px[0]),
                _ => (px[0], px[1], px[2]),
            };
            dib.extend_from_slice(&[b, g, r, 0]);
        }
    }
    Some(dib)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(w: u32, h: u32, rgba: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(rgba).unwrap();
        out
    }

    fn pixels_of(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let f = reader.next_frame(&mut buf).unwrap();
        buf.truncate(f.buffer_size());
        (f.width, f.height, buf)
    }

    #[test]
    fn a_picture_survives_png_to_dib_and_back() {
        // 3×2, odd width (row padding in 24-bit DIBs), distinct colours, opaque.
        let rgba: Vec<u8> = (0..6u8)
            .flat_map(|i| [i * 40, 255 - i * 40, i * 7, 255])
            .collect();
        let png = png_of(3, 2, &rgba);
        let dib = png_to_dib(&png).unwrap();
        assert_eq!(dib.len(), 40 + 3 * 2 * 4);
        let back = dib_to_png(&dib).unwrap();
        assert_eq!(pixels_of(&back), (3, 2, rgba));
    }

    #[test]
    fn a_24_bit_bottom_up_dib_reads_right_way_up() {
        // 1×2: the first row in the file is the bottom one.
        let mut dib = vec![0u8; 40];
        dib[..4].copy_from_slice(&40u32.to_le_bytes());
        dib[4..8].copy_from_slice(&1i32.to_le_bytes());
        dib[8..12].copy_from_slice(&2i32.to_le_bytes());
        dib[12..14].copy_from_slice(&1u16.to_le_bytes());
        dib[14..16].copy_from_slice(&24u16.to_le_bytes());
        dib.extend_from_slice(&[255, 0, 0, 0]); // bottom: blue (BGR), padded to 4
        dib.extend_from_slice(&[0, 0, 255, 0]); // top: red
        let (w, h, px) = pixels_of(&dib_to_png(&dib).unwrap());
        assert_eq!((w, h), (1, 2));
        assert_eq!(px, vec![255, 0, 0, 255, 0, 0, 255, 255]);
    }

    #[test]
    fn impossible_dibs_are_refused() {
        assert!(dib_to_png(&[]).is_none());
        let mut dib = vec![0u8; 40];
        dib[..4].copy_from_slice(&40u32.to_le_bytes());
        dib[4..8].copy_from_slice(&100_000i32.to_le_bytes());
        dib[8..12].copy_from_slice(&1i32.to_le_bytes());
        dib[14..16].copy_from_slice(&32u16.to_le_bytes());
        assert!(dib_to_png(&dib).is_none(), "too wide");
        dib[4..8].copy_from_slice(&2i32.to_le_bytes());
        assert!(dib_to_png(&dib).is_none(), "pixels missing");
        assert!(png_to_dib(b"not a png").is_none());
    }
}
