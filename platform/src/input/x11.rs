//! X11 injection through XTest, with enigo's pure-Rust x11rb backend.

use super::{Area, AreaHandle, hid_to_evdev};
use crate::{InjectError, Injector};
use enigo::{Axis, Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use lotse_proto::input::{InputEvent, MouseButton};
use std::collections::BTreeSet;

/// Injects into an X display.
pub struct X11Injector {
    enigo: Enigo,
    area: AreaHandle,
    /// X key codes this injector pressed and has not released.
    keys: BTreeSet<u16>,
    buttons: BTreeSet<MouseButton>,
}

impl std::fmt::Debug for X11Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Injector")
            .field("keys", &self.keys)
            .field("buttons", &self.buttons)
            .finish_non_exhaustive()
    }
}

/// X key codes are evdev codes plus this.
const X_KEYCODE_OFFSET: u16 = 8;

impl X11Injector {
    /// Connects to `display` (or `$DISPLAY`). Pointer positions are relative to the area in
    /// `area`, or to the whole screen while it is `None`.
    pub fn new(display: Option<&str>, area: AreaHandle) -> Result<Self, InjectError> {
        let settings = Settings {
            // enigo's default sleeps 12 ms around clicks; XTest needs no pause between events.
            linux_delay: 0,
            x11_display: display.map(str::to_owned),
            release_keys_when_dropped: true,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings)
            .map_err(|e| InjectError(format!("cannot connect to the X display: {e}")))?;
        Ok(X11Injector {
            enigo,
            area,
            keys: BTreeSet::new(),
            buttons: BTreeSet::new(),
        })
    }

    fn position(&self, x: u32, y: u32) -> (i32, i32) {
        let area = self.area.lock().ok().and_then(|a| *a);
        match area {
            Some(Area {
                x: ox,
                y: oy,
                width,
                height,
            }) => {
                let x = x.min(width.saturating_sub(1));
                let y = y.min(height.saturating_sub(1));
                (ox + x as i32, oy + y as i32)
            }
            None => (
                i32::try_from(x).unwrap_or(i32::MAX),
                i32::try_from(y).unwrap_or(i32::MAX),
            ),
        }
    }
}

fn button(b: MouseButton) -> Button {
    match b {
        MouseButton::Left => Button::Left,
        MouseButton::Middle => Button::Middle,
        MouseButton::Right => Button::Right,
        MouseButton::Back => Button::Back,
        MouseButton::Forward => Button::Forward,
    }
}

fn dir(down: bool) -> Direction {
    if down {
        Direction::Press
    } else {
        Direction::Release
    }
}

fn err(e: enigo::InputError) -> InjectError {
    InjectError(e.to_string())
}

impl Injector for X11Injector {
    /// Nothing on this desktop keeps input from its windows (X has no privilege isolation
    /// between a user's programs).
    fn obstruction(&mut self) -> Option<lotse_proto::msg::Obstruction> {
        None
    }

    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        match event {
            InputEvent::PointerMove { x, y } => {
                let (x, y) = self.position(*x, *y);
                self.enigo.move_mouse(x, y, Coordinate::Abs).map_err(err)
            }
            InputEvent::Button { button: b, down } => {
                self.enigo.button(button(*b), dir(*down)).map_err(err)?;
                if *down {
                    self.buttons.insert(*b);
                } else {
                    self.buttons.remove(b);
                }
                Ok(())
            }
            InputEvent::Wheel { dx, dy } => {
                if *dy != 0 {
                    self.enigo
                        .scroll(i32::from(*dy), Axis::Vertical)
                        .map_err(err)?;
                }
                if *dx != 0 {
                    self.enigo
                        .scroll(i32::from(*dx), Axis::Horizontal)
                        .map_err(err)?;
                }
                Ok(())
            }
            InputEvent::Key { usage, down } => {
                let code = hid_to_evdev(*usage)
                    .ok_or_else(|| InjectError(format!("no key for HID usage {usage:#x}")))?
                    + X_KEYCODE_OFFSET;
                self.enigo.raw(code, dir(*down)).map_err(err)?;
                if *down {
                    self.keys.insert(code);
                } else {
                    self.keys.remove(&code);
                }
                Ok(())
            }
            // Only for characters without a key: enigo maps a spare key code per character,
            // which is slow if used for everything (PLATFORM-NOTES).
            InputEvent::Text { text } => self.enigo.text(text).map_err(err),
        }
    }

    fn release_all(&mut self) {
        for code in std::mem::take(&mut self.keys) {
            let _ = self.enigo.raw(code, Direction::Release);
        }
        for b in std::mem::take(&mut self.buttons) {
            let _ = self.enigo.button(button(b), Direction::Release);
        }
    }
}

impl Drop for X11Injector {
    fn drop(&mut self) {
        // Every stop path, including a panic unwinding through the session, lets go.
        self.release_all();
    }
}
