//! Windows injection through `SendInput`: the pointer by absolute coordinates over the virtual
//! desktop, keys by scan code (so the customer's layout interprets them, AltGr included: Right
//! Alt's `E0 38` is what an AltGr key sends), text without a key as Unicode key events.
//!
//! What cannot be reached: windows of elevated programs and the secure desktop (UAC prompts,
//! Ctrl+Alt+Del) ignore input from a normal process (User Interface Privilege Isolation).

use super::absolute::normalise;
use super::keys::hid_to_scancode;
use super::{Area, AreaHandle};
use crate::{InjectError, Injector};
use lotse_proto::input::{InputEvent, MouseButton};
use std::collections::BTreeSet;
use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
    INPUT, INPUT_0, INPUT_KEYBOARD, INPUT_MOUSE, KEYBDINPUT, KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP, KEYEVENTF_SCANCODE, KEYEVENTF_UNICODE, MOUSEEVENTF_ABSOLUTE,
    MOUSEEVENTF_HWHEEL, MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, MOUSEEVENTF_MIDDLEDOWN,
    MOUSEEVENTF_MIDDLEUP, MOUSEEVENTF_MOVE, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP,
    MOUSEEVENTF_VIRTUALDESK, MOUSEEVENTF_WHEEL, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, MOUSEINPUT,
    SendInput, VK_PAUSE,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    GetSystemMetrics, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN, SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN,
    WHEEL_DELTA, XBUTTON1, XBUTTON2,
};

/// Injects into the interactive desktop of this session.
#[derive(Debug)]
pub struct WindowsInjector {
    area: AreaHandle,
    /// Usages this injector pressed and has not released.
    keys: BTreeSet<u16>,
    buttons: BTreeSet<MouseButton>,
}

impl WindowsInjector {
    /// Pointer positions are relative to the area in `area` (the shared monitor), or to the
    /// primary monitor's origin while it is `None`.
    pub fn new(area: AreaHandle) -> WindowsInjector {
        WindowsInjector {
            area,
            keys: BTreeSet::new(),
            buttons: BTreeSet::new(),
        }
    }

    /// The desktop pixel for a position in the shared monitor's pixels.
    fn position(&self, x: u32, y: u32) -> (i32, i32) {
        match self.area.lock().ok().and_then(|a| *a) {
            Some(Area {
                x: ox,
                y: oy,
                width,
                height,
            }) => (
                ox + x.min(width.saturating_sub(1)) as i32,
                oy + y.min(height.saturating_sub(1)) as i32,
            ),
            None => (
                i32::try_from(x).unwrap_or(i32::MAX),
                i32::try_from(y).unwrap_or(i32::MAX),
            ),
        }
    }
}

fn mouse(flags: u32, dx: i32, dy: i32, data: i32) -> INPUT {
    INPUT {
        r#type: INPUT_MOUSE,
        Anonymous: INPUT_0 {
            mi: MOUSEINPUT {
                dx,
                dy,
                mouseData: data as u32,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

fn key(vk: u16, scan: u16, flags: u32) -> INPUT {
    INPUT {
        r#type: INPUT_KEYBOARD,
        Anonymous: INPUT_0 {
            ki: KEYBDINPUT {
                wVk: vk,
                wScan: scan,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

fn send(inputs: &[INPUT]) -> Result<(), InjectError> {
    if inputs.is_empty() {
        return Ok(());
    }
    // SAFETY: `inputs` is a valid slice of initialised INPUT structures of the size passed.
    let sent = unsafe {
        SendInput(
            inputs.len() as u32,
            inputs.as_ptr(),
            std::mem::size_of::<INPUT>() as i32,
        )
    };
    if sent as usize == inputs.len() {
        Ok(())
    } else {
        Err(InjectError(format!(
            "the system took {sent} of {} input events (another program's window may be \
             elevated, or the secure desktop is up)",
            inputs.len()
        )))
    }
}

fn button_flags(b: MouseButton, down: bool) -> (u32, i32) {
    let (d, u, data) = match b {
        MouseButton::Left => (MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, 0),
        MouseButton::Right => (MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP, 0),
        MouseButton::Middle => (MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP, 0),
        MouseButton::Back => (MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, i32::from(XBUTTON1)),
        MouseButton::Forward => (MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, i32::from(XBUTTON2)),
    };
    (if down { d } else { u }, data)
}

fn key_input(usage: u16, down: bool) -> Result<INPUT, InjectError> {
    let up = if down { 0 } else { KEYEVENTF_KEYUP };
    if usage == 0x48 {
        return Ok(key(VK_PAUSE, 0, up));
    }
    let sc = hid_to_scancode(usage)
        .ok_or_else(|| InjectError(format!("no key for HID usage {usage:#x}")))?;
    let ext = if sc.extended {
        KEYEVENTF_EXTENDEDKEY
    } else {
        0
    };
    Ok(key(0, sc.code, KEYEVENTF_SCANCODE | ext | up))
}

impl Injector for WindowsInjector {
    fn obstruction(&mut self) -> Option<lotse_proto::msg::Obstruction> {
        crate::obstruction::now()
    }

    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        match event {
            InputEvent::PointerMove { x, y } => {
                let (x, y) = self.position(*x, *y);
                // SAFETY: GetSystemMetrics has no preconditions.
                let [vx, vy, vw, vh] = [
                    SM_XVIRTUALSCREEN,
                    SM_YVIRTUALSCREEN,
                    SM_CXVIRTUALSCREEN,
                    SM_CYVIRTUALSCREEN,
                ]
                .map(|m| unsafe { GetSystemMetrics(m) });
                let nx = normalise(x, vx, vw.max(1) as u32);
                let ny = normalise(y, vy, vh.max(1) as u32);
                send(&[mouse(
                    MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK,
                    nx,
                    ny,
                    0,
                )])
            }
            InputEvent::Button { button, down } => {
                let (flags, data) = button_flags(*button, *down);
                send(&[mouse(flags, 0, 0, data)])?;
                if *down {
                    self.buttons.insert(*button);
                } else {
                    self.buttons.remove(button);
                }
                Ok(())
            }
            InputEvent::Wheel { dx, dy } => {
                let delta = WHEEL_DELTA as i32;
                let mut inputs = Vec::new();
                // Positive dy scrolls down; Windows' positive wheel turns away from the person.
                if *dy != 0 {
                    inputs.push(mouse(MOUSEEVENTF_WHEEL, 0, 0, -i32::from(*dy) * delta));
                }
                if *dx != 0 {
                    inputs.push(mouse(MOUSEEVENTF_HWHEEL, 0, 0, i32::from(*dx) * delta));
                }
                send(&inputs)
            }
            InputEvent::Key { usage, down } => {
                send(&[key_input(*usage, *down)?])?;
                if *down {
                    self.keys.insert(*usage);
                } else {
                    self.keys.remove(usage);
                }
                Ok(())
            }
            InputEvent::Text { text } => {
                let mut inputs = Vec::new();
                for unit in text.encode_utf16() {
                    inputs.push(key(0, unit, KEYEVENTF_UNICODE));
                    inputs.push(key(0, unit, KEYEVENTF_UNICODE | KEYEVENTF_KEYUP));
                }
                send(&inputs)
            }
        }
    }

    fn release_all(&mut self) {
        for usage in std::mem::take(&mut self.keys) {
            if let Ok(i) = key_input(usage, false) {
                let _ = send(&[i]);
            }
        }
        for b in std::mem::take(&mut self.buttons) {
            let (flags, data) = button_flags(b, false);
            let _ = send(&[mouse(flags, 0, 0, data)]);
        }
    }
}

impl Drop for WindowsInjector {
    fn drop(&mut self) {
        // Every stop path, including a panic unwinding through the session, lets go.
        self.release_all();
    }
}
