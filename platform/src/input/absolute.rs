//! Windows' absolute pointer coordinates: `SendInput` takes positions normalised to 0..=65535
//! over the virtual desktop (all monitors), and turns them back into a pixel by
//! `floor(n * extent / 65536)`. Pure maths, so it is tested everywhere.

/// The normalised coordinate that lands exactly on pixel `p` of a desktop axis starting at
/// `origin` and `extent` pixels long (`p` is clamped into the axis).
pub fn normalise(p: i32, origin: i32, extent: u32) -> i32 {
    let extent = i64::from(extent.max(1));
    let offset = (i64::from(p) - i64::from(origin)).clamp(0, extent - 1);
    // The smallest n with floor(n * extent / 65536) == offset.
    let n = (offset * 65536 + extent - 1) / extent;
    n.min(65535) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Windows does with a normalised coordinate.
    fn back(n: i32, origin: i32, extent: u32) -> i32 {
        origin + (i64::from(n) * i64::from(extent) / 65536) as i32
    }

    #[test]
    fn every_pixel_comes_back_as_itself() {
        // 100 %, 125 % and 150 % scaled widths, odd sizes, and a virtual desktop whose primary
        // monitor is not the leftmost (origin below zero).
        for (origin, extent) in [
            (0, 1920),
            (0, 1536),
            (0, 1280),
            (-1280, 3200),
            (0, 1),
            (7, 333),
        ] {
            for p in origin..origin + extent as i32 {
                let n = normalise(p, origin, extent);
                assert!((0..=65535).contains(&n));
                assert_eq!(back(n, origin, extent), p, "pixel {p} of {origin}+{extent}");
            }
        }
    }

    #[test]
    fn positions_outside_are_clamped_to_the_edge() {
        assert_eq!(normalise(-5, 0, 1920), 0);
        assert_eq!(back(normalise(5000, 0, 1920), 0, 1920), 1919);
        assert_eq!(back(normalise(i32::MIN, -1280, 3200), -1280, 3200), -1280);
    }
}
