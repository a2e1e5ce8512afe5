//! Input for injection tests: events, input scripts for `lotse-rep input`, and taking apart what
//! a recording terminal received (typed text and SGR mouse reports).

use lotse_proto::input::{InputEvent, MouseButton};
use std::path::{Path, PathBuf};

/// A key by USB HID usage going down or up.
pub fn key(usage: u16, down: bool) -> InputEvent {
    InputEvent::Key { usage, down }
}

/// A key pressed and let go.
pub fn tap(usage: u16) -> Vec<InputEvent> {
    vec![key(usage, true), key(usage, false)]
}

/// A key pressed and let go while left shift is held.
pub fn shifted(usage: u16) -> Vec<InputEvent> {
    vec![
        key(0xe1, true),
        key(usage, true),
        key(usage, false),
        key(0xe1, false),
    ]
}

/// The left mouse button going down or up.
pub fn button(down: bool) -> InputEvent {
    InputEvent::Button {
        button: MouseButton::Left,
        down,
    }
}

/// The pointer to pixel (`x`, `y`) of the shared monitor.
pub fn pointer(x: u32, y: u32) -> InputEvent {
    InputEvent::PointerMove { x, y }
}

/// One line of an input script for `lotse-rep input`: `event`, sent `after_ms` after the line
/// before (`0`: at once).
#[allow(clippy::expect_used)] // an InputEvent is plain data: serialising it cannot fail
pub fn script_line(after_ms: u64, event: &InputEvent) -> String {
    let event = serde_json::to_value(event).expect("an input event as JSON");
    let line = if after_ms == 0 {
        serde_json::json!({ "event": event })
    } else {
        serde_json::json!({ "after_ms": after_ms, "event": event })
    };
    line.to_string()
}

/// Writes the input script `lines` to `dir/name`; returns its path.
///
/// # Panics
/// If the file cannot be written.
pub fn write_script(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// One SGR mouse report (`ESC [ < button ; col ; row M|m`): (button, column, row, `'M'` for a
/// press or motion, `'m'` for a release).
pub type MouseReport = (u32, u32, u32, char);

/// Splits SGR mouse reports from the typed text a terminal received. A report still being
/// written at the end is left out (it is not complete yet); anything that starts like a report
/// but is not `button;col;row` stays in the text, where a test sees it.
pub fn split_mouse_reports(s: &str) -> (String, Vec<MouseReport>) {
    let mut text = String::new();
    let mut reports = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("\u{1b}[<") {
        text.push_str(&rest[..i]);
        let tail = &rest[i + 3..];
        let Some(end) = tail.find(['M', 'm']) else {
            rest = "";
            break;
        };
        let nums: Vec<u32> = tail[..end]
            .split(';')
            .filter_map(|n| n.parse().ok())
            .collect();
        if nums.len() == 3 {
            reports.push((nums[0], nums[1], nums[2], tail.as_bytes()[end] as char));
        } else {
            text.push_str(&rest[i..i + 3 + end + 1]);
        }
        rest = &tail[end + 1..];
    }
    text.push_str(rest);
    (text, reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines_are_what_lotse_rep_reads() {
        assert_eq!(
            script_line(0, &key(4, true)),
            r#"{"event":{"Key":{"down":true,"usage":4}}}"#
        );
        assert_eq!(
            script_line(40, &button(false)),
            r#"{"after_ms":40,"event":{"Button":{"button":"Left","down":false}}}"#
        );
    }

    #[test]
    fn mouse_reports_are_split_from_text() {
        let (text, reports) =
            split_mouse_reports("ab\u{1b}[<0;3;4Mc\u{1b}[<65;1;2md\u{1b}[<x;yMe\u{1b}[<0;1");
        assert_eq!(text, "abcd\u{1b}[<x;yMe");
        assert_eq!(reports, vec![(0, 3, 4, 'M'), (65, 1, 2, 'm')]);
    }
}
