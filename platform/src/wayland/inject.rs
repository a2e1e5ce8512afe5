//! The Wayland [`Injector`]: pointer and keys through the portal's RemoteDesktop session.

use super::portal::{Input, Portal};
use crate::input::hid_to_evdev;
use crate::{InjectError, Injector};
use lotse_proto::input::{InputEvent, MouseButton};
use std::collections::BTreeSet;

/// Injects into the desktop through the portal. Events go, in order, to the portal thread;
/// they have effect only while the portal session has [`super::Access::Control`], that is after
/// the person switched on "Allow remote interaction" in the system's dialog.
///
/// Pointer positions are in the shared screen's pixels, which is what the portal's absolute
/// motion takes: no monitor offset is needed here (unlike X11's [`crate::input::Area`]).
#[derive(Debug)]
pub struct WaylandInjector {
    portal: Portal,
    /// evdev key codes pressed and not released.
    keys: BTreeSet<i32>,
    buttons: BTreeSet<MouseButton>,
}

impl WaylandInjector {
    pub fn new(portal: Portal) -> WaylandInjector {
        WaylandInjector {
            portal,
            keys: BTreeSet::new(),
            buttons: BTreeSet::new(),
        }
    }
}

/// Linux evdev button codes (`BTN_LEFT` …).
fn button_code(b: MouseButton) -> i32 {
    match b {
        MouseButton::Left => 0x110,
        MouseButton::Right => 0x111,
        MouseButton::Middle => 0x112,
        MouseButton::Back => 0x113,
        MouseButton::Forward => 0x114,
    }
}

/// The X keysym of a character: Latin-1 as itself, everything else as Unicode keysym.
pub(crate) fn keysym(c: char) -> Option<i32> {
    let u = u32::from(c);
    let sym = match u {
        0x20..=0x7e | 0xa0..=0xff => u,
        0x0a | 0x0d => 0xff0d, // Return
        0x09 => 0xff09,        // Tab
        0x00..=0x1f | 0x7f..=0x9f => return None,
        _ => 0x0100_0000 + u,
    };
    i32::try_from(sym).ok()
}

impl Injector for WaylandInjector {
    /// Nothing keeps input from the session's windows (the portal's remote desktop reaches
    /// every one of them).
    fn obstruction(&mut self) -> Option<lotse_proto::msg::Obstruction> {
        None
    }

    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        match event {
            InputEvent::PointerMove { x, y } => self.portal.send(Input::Motion(*x, *y)),
            InputEvent::Button { button, down } => {
                self.portal.send(Input::Button(button_code(*button), *down));
                if *down {
                    self.buttons.insert(*button);
                } else {
                    self.buttons.remove(button);
                }
            }
            InputEvent::Wheel { dx, dy } => {
                self.portal
                    .send(Input::Wheel(i32::from(*dx), i32::from(*dy)));
            }
            InputEvent::Key { usage, down } => {
                let code = hid_to_evdev(*usage)
                    .ok_or_else(|| InjectError(format!("no key for HID usage {usage:#x}")))?;
                let code = i32::from(code);
                self.portal.send(Input::Key(code, *down));
                if *down {
                    self.keys.insert(code);
                } else {
                    self.keys.remove(&code);
                }
            }
            InputEvent::Text { text } => {
                for c in text.chars() {
                    let Some(sym) = keysym(c) else { continue };
                    self.portal.send(Input::Keysym(sym, true));
                    self.portal.send(Input::Keysym(sym, false));
                }
            }
        }
        Ok(())
    }

    fn release_all(&mut self) {
        for code in std::mem::take(&mut self.keys) {
            self.portal.send(Input::Key(code, false));
        }
        for b in std::mem::take(&mut self.buttons) {
            self.portal.send(Input::Button(button_code(b), false));
        }
    }
}

impl Drop for WaylandInjector {
    fn drop(&mut self) {
        self.release_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_map_to_keysyms() {
        assert_eq!(keysym('a'), Some(0x61));
        assert_eq!(keysym('ä'), Some(0xe4));
        assert_eq!(keysym('€'), Some(0x0100_20ac));
        assert_eq!(keysym('\n'), Some(0xff0d));
        assert_eq!(keysym('\u{7}'), None);
    }
}
