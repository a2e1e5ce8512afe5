//! Remote input events, as the rep sends them and the customer's injector receives them.

use serde::{Deserialize, Serialize};

/// A mouse button.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
    Back,
    Forward,
}

/// One input event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputEvent {
    /// Absolute pointer position in pixels of the shared monitor.
    PointerMove { x: u32, y: u32 },
    /// A button goes down or up.
    Button { button: MouseButton, down: bool },
    /// Wheel notches; positive `dy` scrolls down, positive `dx` scrolls right.
    Wheel { dx: i16, dy: i16 },
    /// A physical key by USB HID usage (keyboard page 0x07), independent of layout.
    Key { usage: u16, down: bool },
    /// Text for characters that have no key on the customer's layout (IME, emoji, dead keys).
    Text { text: String },
}

/// Most wheel notches one event may carry (each axis). A rep's real wheel sends a few notches per
/// event; a huge delta would keep the injector busy for seconds while Revoke waits.
pub const MAX_WHEEL_NOTCHES: i16 = 10;

/// Most characters one [`InputEvent::Text`] may carry (an IME commit or a pasted emoji). Longer
/// text is refused whole, not cut: half a word typed in the person's name is worse than none.
pub const MAX_TEXT_CHARS: usize = 64;

/// Something the rep may be holding down on the customer's machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Held {
    Key(u16),
    Button(MouseButton),
}

impl Held {
    /// The event that lets go of it.
    pub fn release(self) -> InputEvent {
        match self {
            Held::Key(usage) => InputEvent::Key { usage, down: false },
            Held::Button(button) => InputEvent::Button {
                button,
                down: false,
            },
        }
    }
}

impl InputEvent {
    /// The event as it may be injected: wheel notches clamped to [`MAX_WHEEL_NOTCHES`], `None`
    /// for text longer than [`MAX_TEXT_CHARS`] or empty, or with control characters (a newline
    /// typed as text would press Enter in the person's name without a key event).
    pub fn bounded(self) -> Option<InputEvent> {
        match self {
            InputEvent::Wheel { dx, dy } => Some(InputEvent::Wheel {
                dx: dx.clamp(-MAX_WHEEL_NOTCHES, MAX_WHEEL_NOTCHES),
                dy: dy.clamp(-MAX_WHEEL_NOTCHES, MAX_WHEEL_NOTCHES),
            }),
            InputEvent::Text { text } => {
                let ok = !text.is_empty()
                    && text.chars().count() <= MAX_TEXT_CHARS
                    && !text.chars().any(char::is_control);
                ok.then_some(InputEvent::Text { text })
            }
            other => Some(other),
        }
    }

    /// Splits an event into the smallest pieces that can be injected one at a time, so that the
    /// consent gate is checked between them: text character by character, a wheel event notch
    /// by notch. Other events stay whole.
    pub fn pieces(self) -> Vec<InputEvent> {
        match self {
            InputEvent::Text { text } => text
                .chars()
                .map(|c| InputEvent::Text {
                    text: c.to_string(),
                })
                .collect(),
            InputEvent::Wheel { dx, dy } => {
                let steps = dx.unsigned_abs().max(dy.unsigned_abs());
                (0..steps)
                    .map(|i| InputEvent::Wheel {
                        dx: if i < dx.unsigned_abs() {
                            dx.signum()
                        } else {
                            0
                        },
                        dy: if i < dy.unsigned_abs() {
                            dy.signum()
                        } else {
                            0
                        },
                    })
                    .collect()
            }
            other => vec![other],
        }
    }

    /// What this event presses (`Some((held, true))`) or releases (`Some((held, false))`).
    pub fn held_change(&self) -> Option<(Held, bool)> {
        match *self {
            InputEvent::Key { usage, down } => Some((Held::Key(usage), down)),
            InputEvent::Button { button, down } => Some((Held::Button(button), down)),
            _ => None,
        }
    }
}

/// Drops pointer moves that a later move in the same run makes pointless: when the customer side
/// is behind, only the newest position of each run of moves is injected. Nothing else is ever
/// dropped or reordered.
pub fn coalesce_moves(events: Vec<InputEvent>) -> Vec<InputEvent> {
    let mut out: Vec<InputEvent> = Vec::with_capacity(events.len());
    for ev in events {
        if matches!(ev, InputEvent::PointerMove { .. })
            && matches!(out.last(), Some(InputEvent::PointerMove { .. }))
        {
            out.pop();
        }
        out.push(ev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(x: u32) -> InputEvent {
        InputEvent::PointerMove { x, y: 0 }
    }

    #[test]
    fn every_event_is_bounded_before_injection() {
        assert_eq!(
            InputEvent::Wheel {
                dx: i16::MIN,
                dy: i16::MAX
            }
            .bounded(),
            Some(InputEvent::Wheel {
                dx: -MAX_WHEEL_NOTCHES,
                dy: MAX_WHEEL_NOTCHES
            })
        );
        let long = InputEvent::Text {
            text: "x".repeat(4096),
        };
        assert_eq!(long.bounded(), None, "4 KiB of text is refused whole");
        let ok = InputEvent::Text {
            text: "é€😀".into(),
        };
        assert_eq!(ok.clone().bounded(), Some(ok));
        for bad in ["", "a\nb", "\r", "\u{7f}"] {
            let ev = InputEvent::Text { text: bad.into() };
            assert_eq!(ev.bounded(), None, "{bad:?}");
        }
        let at_limit = InputEvent::Text {
            text: "ß".repeat(MAX_TEXT_CHARS),
        };
        assert!(at_limit.bounded().is_some());
    }

    #[test]
    fn text_and_wheel_split_into_single_pieces() {
        let parts = InputEvent::Text {
            text: "aé😀".into(),
        }
        .pieces();
        assert_eq!(
            parts,
            ["a", "é", "😀"]
                .iter()
                .map(|t| InputEvent::Text { text: (*t).into() })
                .collect::<Vec<_>>()
        );
        let parts = InputEvent::Wheel { dx: -1, dy: 3 }.pieces();
        assert_eq!(
            parts,
            vec![
                InputEvent::Wheel { dx: -1, dy: 1 },
                InputEvent::Wheel { dx: 0, dy: 1 },
                InputEvent::Wheel { dx: 0, dy: 1 },
            ]
        );
        assert!(InputEvent::Wheel { dx: 0, dy: 0 }.pieces().is_empty());
        let key = InputEvent::Key {
            usage: 4,
            down: true,
        };
        assert_eq!(key.clone().pieces(), vec![key]);
    }

    #[test]
    fn runs_of_moves_keep_their_last_position_and_everything_else_stays() {
        let down = InputEvent::Button {
            button: MouseButton::Left,
            down: true,
        };
        let key = InputEvent::Key {
            usage: 4,
            down: true,
        };
        let got = coalesce_moves(vec![
            mv(1),
            mv(2),
            mv(3),
            down.clone(),
            mv(4),
            mv(5),
            key.clone(),
            mv(6),
        ]);
        assert_eq!(got, vec![mv(3), down, mv(5), key, mv(6)]);
        assert_eq!(coalesce_moves(vec![]), vec![]);
    }
}
