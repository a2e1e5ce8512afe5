//! Remote control from the console's side: while the rep holds `control`, the pointer over the
//! customer's picture and (after a click into it) the keyboard go to the customer as
//! [`InputEvent`]s instead of to egui. Ctrl+Alt+Escape, a click outside the picture or losing
//! the window's focus give the keyboard back; everything still held is released then.

use crate::keys::{LEFT_ALT, LEFT_CTRL, LEFT_SHIFT, hid_usage};
use crate::state::Session;
use egui::{Event, Modifiers, PointerButton, RawInput};
use lotse_proto::input::{InputEvent, MouseButton};
use std::collections::BTreeSet;

/// Keys and buttons the rep holds down on the customer's machine.
#[derive(Debug, Default)]
pub struct Controller {
    keys: BTreeSet<u16>,
    buttons: BTreeSet<MouseButton>,
    mods: Modifiers,
    /// Where the pointer is (points), for the wheel.
    pointer: Option<egui::Pos2>,
}

impl Controller {
    /// Takes the events meant for the customer out of `input` and returns them as input
    /// events; `session` is the session whose tab is open, if it is live.
    pub fn filter(
        &mut self,
        input: &mut RawInput,
        session: Option<&mut Session>,
    ) -> Vec<InputEvent> {
        let mut out = Vec::new();
        let Some(s) = session.filter(|s| s.in_control()) else {
            out.extend(self.release_all());
            return out;
        };
        let (Some(rect), Some([w, h])) = (s.view_rect, s.picture) else {
            // No picture yet: nothing to point at; the keyboard needs a click into it first.
            s.grab = false;
            out.extend(self.release_all());
            return out;
        };
        // Only the part of the picture on screen takes the pointer (1:1 may be scrolled).
        let clip = s.view_clip.unwrap_or(rect);
        let map = |p: egui::Pos2| -> Option<(u32, u32)> {
            clip.contains(p).then(|| {
                let fx = (p.x - rect.min.x) / rect.width().max(1.0);
                let fy = (p.y - rect.min.y) / rect.height().max(1.0);
                (
                    ((fx * w as f32) as u32).min(w as u32 - 1),
                    ((fy * h as f32) as u32).min(h as u32 - 1),
                )
            })
        };
        let mut keep = Vec::with_capacity(input.events.len());
        for ev in input.events.drain(..) {
            match &ev {
                Event::Key {
                    key: egui::Key::Escape,
                    pressed: true,
                    modifiers,
                    ..
                } if modifiers.ctrl && modifiers.alt && s.grab => {
                    s.grab = false;
                    out.extend(self.release_all());
                }
                Event::Key {
                    key,
                    physical_key,
                    pressed,
                    repeat,
                    ..
                } if s.grab => {
                    let Some(usage) = hid_usage(physical_key.unwrap_or(*key)) else {
                        continue;
                    };
                    if *pressed && !*repeat && self.keys.insert(usage) {
                        out.push(InputEvent::Key { usage, down: true });
                    } else if !*pressed && self.keys.remove(&usage) {
                        out.push(InputEvent::Key { usage, down: false });
                    }
                }
                Event::ModifiersChanged(m) if s.grab => {
                    for (was, now, usage) in [
                        (self.mods.ctrl, m.ctrl, LEFT_CTRL),
                        (self.mods.shift, m.shift, LEFT_SHIFT),
                        (self.mods.alt, m.alt, LEFT_ALT),
                    ] {
                        if now && !was && self.keys.insert(usage) {
                            out.push(InputEvent::Key { usage, down: true });
                        } else if !now && was && self.keys.remove(&usage) {
                            out.push(InputEvent::Key { usage, down: false });
                        }
                    }
                    self.mods = *m;
                }
                // The keys carry the text to the customer's own layout.
                Event::Text(_) | Event::Paste(_) | Event::Copy | Event::Cut if s.grab => {}
                Event::PointerMoved(p) => {
                    self.pointer = Some(*p);
                    if let Some((x, y)) = map(*p) {
                        out.push(InputEvent::PointerMove { x, y });
                    }
                    keep.push(ev);
                }
                Event::PointerButton {
                    pos,
                    button,
                    pressed,
                    ..
                } => {
                    let Some(b) = button_of(*button) else {
                        keep.push(ev);
                        continue;
                    };
                    match (map(*pos), *pressed) {
                        (Some((x, y)), true) => {
                            s.grab = true;
                            out.push(InputEvent::PointerMove { x, y });
                            if self.buttons.insert(b) {
                                out.push(InputEvent::Button {
                                    button: b,
                                    down: true,
                                });
                            }
                        }
                        (None, true) => {
                            if s.grab {
                                s.grab = false;
                                out.extend(self.release_keys());
                            }
                            keep.push(ev);
                        }
                        (_, false) => {
                            if self.buttons.remove(&b) {
                                out.push(InputEvent::Button {
                                    button: b,
                                    down: false,
                                });
                            } else {
                                keep.push(ev);
                            }
                        }
                    }
                }
                Event::MouseWheel { unit, delta, .. } if self.pointer.and_then(map).is_some() => {
                    let per_notch = match unit {
                        egui::MouseWheelUnit::Line => 1.0,
                        egui::MouseWheelUnit::Page => 0.1,
                        egui::MouseWheelUnit::Point => 40.0,
                    };
                    let notches = |v: f32| (-(v / per_notch)).round().clamp(-100.0, 100.0) as i16;
                    let (dx, dy) = (-notches(delta.x), notches(delta.y));
                    if dx != 0 || dy != 0 {
                        out.push(InputEvent::Wheel { dx, dy });
                    }
                }
                Event::PointerGone => {
                    self.pointer = None;
                    keep.push(ev);
                }
                Event::WindowFocused(false) => {
                    s.grab = false;
                    out.extend(self.release_all());
                    keep.push(ev);
                }
                _ => keep.push(ev),
            }
        }
        input.events = keep;
        if !s.grab {
            out.extend(self.release_keys());
        }
        out
    }

    /// Lets go of everything held.
    pub fn release_all(&mut self) -> Vec<InputEvent> {
        let mut out = self.release_keys();
        out.extend(std::mem::take(&mut self.buttons).into_iter().map(|button| {
            InputEvent::Button {
                button,
                down: false,
            }
        }));
        out
    }

    fn release_keys(&mut self) -> Vec<InputEvent> {
        self.mods = Modifiers::default();
        std::mem::take(&mut self.keys)
            .into_iter()
            .map(|usage| InputEvent::Key { usage, down: false })
            .collect()
    }
}

fn button_of(b: PointerButton) -> Option<MouseButton> {
    Some(match b {
        PointerButton::Primary => MouseButton::Left,
        PointerButton::Secondary => MouseButton::Right,
        PointerButton::Middle => MouseButton::Middle,
        PointerButton::Extra1 => MouseButton::Back,
        PointerButton::Extra2 => MouseButton::Forward,
    })
}
