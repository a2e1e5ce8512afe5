//! Physical keys: USB HID usages (keyboard page 0x07) to Linux evdev key codes.
//!
//! The wire carries HID usages because they name a key's position, not its meaning: the rep's
//! `Z` key lands on the customer's key in the same place, which the customer's layout then
//! interprets, exactly as if the customer had pressed it. X11 key codes are evdev codes plus 8.

/// The evdev code for a HID usage, `None` for usages without a key.
pub fn hid_to_evdev(usage: u16) -> Option<u16> {
    let code = match usage {
        0x04..=0x1d => LETTERS[(usage - 0x04) as usize],
        0x1e..=0x26 => usage - 0x1e + 2,  // 1..9
        0x27 => 11,                       // 0
        0x28 => 28,                       // Enter
        0x29 => 1,                        // Escape
        0x2a => 14,                       // Backspace
        0x2b => 15,                       // Tab
        0x2c => 57,                       // Space
        0x2d => 12,                       // - ß
        0x2e => 13,                       // = ´
        0x2f => 26,                       // [ ü
        0x30 => 27,                       // ] +
        0x31 | 0x32 => 43,                // \ #
        0x33 => 39,                       // ; ö
        0x34 => 40,                       // ' ä
        0x35 => 41,                       // ` ^
        0x36 => 51,                       // ,
        0x37 => 52,                       // .
        0x38 => 53,                       // / -
        0x39 => 58,                       // Caps Lock
        0x3a..=0x43 => usage - 0x3a + 59, // F1..F10
        0x44 => 87,                       // F11
        0x45 => 88,                       // F12
        0x46 => 99,                       // Print Screen
        0x47 => 70,                       // Scroll Lock
        0x48 => 119,                      // Pause
        0x49 => 110,                      // Insert
        0x4a => 102,                      // Home
        0x4b => 104,                      // Page Up
        0x4c => 111,                      // Delete
        0x4d => 107,                      // End
        0x4e => 109,                      // Page Down
        0x4f => 106,                      // Right
        0x50 => 105,                      // Left
        0x51 => 108,                      // Down
        0x52 => 103,                      // Up
        0x53 => 69,                       // Num Lock
        0x54 => 98,                       // KP /
        0x55 => 55,                       // KP *
        0x56 => 74,                       // KP -
        0x57 => 78,                       // KP +
        0x58 => 96,                       // KP Enter
        0x59..=0x5b => usage - 0x59 + 79, // KP 1..3
        0x5c..=0x5e => usage - 0x5c + 75, // KP 4..6
        0x5f..=0x61 => usage - 0x5f + 71, // KP 7..9
        0x62 => 82,                       // KP 0
        0x63 => 83,                       // KP .
        0x64 => 86,                       // the key left of Z on ISO keyboards (< > |)
        0x65 => 127,                      // Menu
        0xe0 => 29,                       // Left Ctrl
        0xe1 => 42,                       // Left Shift
        0xe2 => 56,                       // Left Alt
        0xe3 => 125,                      // Left Super
        0xe4 => 97,                       // Right Ctrl
        0xe5 => 54,                       // Right Shift
        0xe6 => 100,                      // Right Alt (AltGr)
        0xe7 => 126,                      // Right Super
        _ => return None,
    };
    Some(code)
}

/// A PC keyboard scan code (set 1) as Windows' `SendInput` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCode {
    pub code: u16,
    /// The key sends an `E0` prefix (arrows, the block above them, right Ctrl and Alt, …).
    pub extended: bool,
}

/// The set-1 scan code for a HID usage. evdev codes 1..=88 are the set-1 codes themselves; the
/// rest are the `E0`-prefixed keys. Pause has no plain scan code (it sends `E1 1D 45`): `None`,
/// and the Windows injector sends it by virtual key.
pub fn hid_to_scancode(usage: u16) -> Option<ScanCode> {
    let plain = |code| ScanCode {
        code,
        extended: false,
    };
    let e0 = |code| ScanCode {
        code,
        extended: true,
    };
    Some(match hid_to_evdev(usage)? {
        c @ 1..=88 => plain(c),
        96 => e0(0x1c),  // KP Enter
        97 => e0(0x1d),  // Right Ctrl
        98 => e0(0x35),  // KP /
        99 => e0(0x37),  // Print Screen
        100 => e0(0x38), // Right Alt (AltGr)
        102 => e0(0x47), // Home
        103 => e0(0x48), // Up
        104 => e0(0x49), // Page Up
        105 => e0(0x4b), // Left
        106 => e0(0x4d), // Right
        107 => e0(0x4f), // End
        108 => e0(0x50), // Down
        109 => e0(0x51), // Page Down
        110 => e0(0x52), // Insert
        111 => e0(0x53), // Delete
        125 => e0(0x5b), // Left Windows
        126 => e0(0x5c), // Right Windows
        127 => e0(0x5d), // Menu
        _ => return None,
    })
}

/// evdev codes of a..z.
const LETTERS: [u16; 26] = [
    30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45,
    21, 44,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_map_to_evdev() {
        assert_eq!(hid_to_evdev(0x04), Some(30)); // a
        assert_eq!(hid_to_evdev(0x1d), Some(44)); // z
        assert_eq!(hid_to_evdev(0x1e), Some(2)); // 1
        assert_eq!(hid_to_evdev(0x27), Some(11)); // 0
        assert_eq!(hid_to_evdev(0x45), Some(88)); // F12
        assert_eq!(hid_to_evdev(0xe0), Some(29)); // left ctrl
        assert_eq!(hid_to_evdev(0x00), None);
        assert_eq!(hid_to_evdev(0xffff), None);
    }

    #[test]
    fn scan_codes_are_set_1_with_e0_for_the_extended_keys() {
        let sc = |u| hid_to_scancode(u).map(|s| (s.code, s.extended));
        assert_eq!(sc(0x04), Some((0x1e, false))); // a
        assert_eq!(sc(0x1c), Some((0x15, false))); // y (z on a German keyboard)
        assert_eq!(sc(0x28), Some((0x1c, false))); // Enter
        assert_eq!(sc(0x58), Some((0x1c, true))); // KP Enter
        assert_eq!(sc(0x2d), Some((0x0c, false))); // - ß
        assert_eq!(sc(0x64), Some((0x56, false))); // < > |
        assert_eq!(sc(0x45), Some((0x58, false))); // F12
        assert_eq!(sc(0x52), Some((0x48, true))); // Up
        assert_eq!(sc(0x4c), Some((0x53, true))); // Delete
        assert_eq!(sc(0xe6), Some((0x38, true))); // AltGr
        assert_eq!(sc(0xe2), Some((0x38, false))); // Left Alt
        assert_eq!(sc(0xe3), Some((0x5b, true))); // Left Windows
        assert_eq!(sc(0x48), None); // Pause: by virtual key
        // Every key with an evdev code but Pause has a scan code, and no two share one.
        let mut seen = std::collections::HashMap::new();
        for u in 0..=0xffu16 {
            if hid_to_evdev(u).is_some() && u != 0x48 {
                let s = hid_to_scancode(u).unwrap_or_else(|| panic!("usage {u:#x}"));
                if let Some(prev) = seen.insert((s.code, s.extended), u) {
                    assert_eq!((prev, u), (0x31, 0x32), "usage {u:#x} and {prev:#x}");
                }
            }
        }
    }

    #[test]
    fn no_two_usages_share_a_code_except_the_two_backslashes() {
        let mut seen = std::collections::HashMap::new();
        for u in 0..=0xffu16 {
            if let Some(c) = hid_to_evdev(u)
                && let Some(prev) = seen.insert(c, u)
            {
                assert_eq!(
                    (prev, u),
                    (0x31, 0x32),
                    "usage {u:#x} and {prev:#x} share code {c}"
                );
            }
        }
    }
}
