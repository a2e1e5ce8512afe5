//! egui keys to USB HID usages (keyboard page 0x07), the layout-independent key numbers the
//! customer's injector takes. The window reports the physical key where it knows it, so a rep
//! with a German layout presses the same physical keys on the customer's machine.

use egui::Key;

/// Left Control, Shift, Alt and GUI.
pub const LEFT_CTRL: u16 = 0xE0;
pub const LEFT_SHIFT: u16 = 0xE1;
pub const LEFT_ALT: u16 = 0xE2;
pub const LEFT_GUI: u16 = 0xE3;
/// Delete (forward).
pub const DELETE: u16 = 0x4C;

/// The HID usage of `key`, or `None` for keys the customer side has no use for.
pub fn hid_usage(key: Key) -> Option<u16> {
    use Key::*;
    let letters = [
        A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P, Q, R, S, T, U, V, W, X, Y, Z,
    ];
    if let Some(i) = letters.iter().position(|k| *k == key) {
        return Some(0x04 + i as u16);
    }
    let digits = [Num1, Num2, Num3, Num4, Num5, Num6, Num7, Num8, Num9, Num0];
    if let Some(i) = digits.iter().position(|k| *k == key) {
        return Some(0x1E + i as u16);
    }
    let functions = [F1, F2, F3, F4, F5, F6, F7, F8, F9, F10, F11, F12];
    if let Some(i) = functions.iter().position(|k| *k == key) {
        return Some(0x3A + i as u16);
    }
    Some(match key {
        Enter => 0x28,
        Escape => 0x29,
        Backspace => 0x2A,
        Tab => 0x2B,
        Space => 0x2C,
        Minus => 0x2D,
        Equals => 0x2E,
        OpenBracket => 0x2F,
        CloseBracket => 0x30,
        Backslash => 0x31,
        Semicolon => 0x33,
        Quote => 0x34,
        Backtick => 0x35,
        Comma => 0x36,
        Period => 0x37,
        Slash => 0x38,
        Insert => 0x49,
        Home => 0x4A,
        PageUp => 0x4B,
        Delete => 0x4C,
        End => 0x4D,
        PageDown => 0x4E,
        ArrowRight => 0x4F,
        ArrowLeft => 0x50,
        ArrowDown => 0x51,
        ArrowUp => 0x52,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usages_match_the_hid_tables() {
        assert_eq!(hid_usage(Key::A), Some(0x04));
        assert_eq!(hid_usage(Key::Z), Some(0x1D));
        assert_eq!(hid_usage(Key::Num1), Some(0x1E));
        assert_eq!(hid_usage(Key::Num0), Some(0x27));
        assert_eq!(hid_usage(Key::Enter), Some(0x28));
        assert_eq!(hid_usage(Key::F12), Some(0x45));
        assert_eq!(hid_usage(Key::ArrowUp), Some(0x52));
        assert_eq!(hid_usage(Key::Copy), None);
    }

    #[test]
    fn every_usage_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in Key::ALL {
            if let Some(u) = hid_usage(*k) {
                assert!(seen.insert(u), "{k:?} repeats usage {u:#x}");
            }
        }
        assert!(seen.len() >= 26 + 10 + 12 + 26);
    }
}
