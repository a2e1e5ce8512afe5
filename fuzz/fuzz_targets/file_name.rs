//! A file name from the other side, as it is saved: whatever the name, the result is one
//! harmless component that every system accepts — not empty, at most MAX_NAME_BYTES, no path
//! separator, no character Windows refuses, nothing invisible, not hidden, no trailing dot or
//! space, no device name — and cleaning it again changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_files::{MAX_NAME_BYTES, numbered, safe_name};

/// The characters that change how a name looks without being seen (bidirectional controls,
/// zero-width characters, BOM, soft hyphen, separators, tags), as inclusive ranges.
const INVISIBLE: [(char, char); 10] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{E0000}', '\u{E007F}'),
    ('\u{0000}', '\u{001F}'),
];

/// Every name Windows reserves for a device, spelled out.
fn devices() -> Vec<String> {
    let mut all: Vec<String> = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"]
        .map(String::from)
        .to_vec();
    for port in ["COM", "LPT"] {
        for d in "0123456789¹²³".chars() {
            all.push(format!("{port}{d}"));
        }
    }
    all
}

fn harmless(name: &str) {
    assert!(!name.is_empty());
    assert!(
        name.len() <= MAX_NAME_BYTES,
        "{} bytes: {name:?}",
        name.len()
    );
    assert!(
        !name.chars().any(|c| c.is_control()
            || INVISIBLE.iter().any(|&(a, b)| (a..=b).contains(&c))
            || "/\\<>:\"|?*".contains(c)),
        "{name:?}"
    );
    assert!(!name.starts_with(['.', ' ']), "{name:?}");
    assert!(!name.ends_with(['.', ' ']), "{name:?}");
    // Windows looks at what comes before the first dot, without surrounding spaces.
    let stem = name.split('.').next().unwrap_or("").trim().to_uppercase();
    assert!(!devices().contains(&stem), "{name:?}");
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let name = safe_name(&raw);
    harmless(&name);
    assert_eq!(safe_name(&name), name, "cleaning twice changed {raw:?}");
    // The numbered names for a taken one stay single components and differ from it.
    for n in [2, 10, u32::MAX] {
        let other = numbered(&name, n);
        assert_ne!(other, name);
        assert!(
            !other.contains(['/', '\\']) && !other.ends_with(['.', ' ']),
            "{other:?}"
        );
    }
});
