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
