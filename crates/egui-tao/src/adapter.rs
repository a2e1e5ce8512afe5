//! Translates tao window events into egui input, shaped like `egui_winit::State` (there is no
//! maintained tao bridge; see PLATFORM-NOTES). Physical keys travel along (the console's remote
//! control sends key positions); the paste shortcut is recognised for the shell to fetch the
//! clipboard; each frame's input says when its first and last press arrived (the customer
//! window arms prompts and tells the rep's injected input from the person's by that).

use egui::{Event, Key, Modifiers, PointerButton, Pos2, RawInput, Vec2};
use std::time::Instant;
use tao::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use tao::keyboard::{Key as TaoKey, KeyCode, ModifiersState};

/// Collects egui input between frames.
#[derive(Debug)]
pub struct Adapter {
    start: Instant,
    pixels_per_point: f32,
    pointer: Option<Pos2>,
    modifiers: Modifiers,
    input: RawInput,
    /// When the earliest click or key press of the pending input arrived.
    first_press: Option<Instant>,
    /// When the latest one arrived.
    last_press: Option<Instant>,
}

impl Adapter {
    pub fn new(pixels_per_point: f32) -> Adapter {
        Adapter {
            start: Instant::now(),
            pixels_per_point,
            pointer: None,
            modifiers: Modifiers::default(),
            input: RawInput {
                focused: true,
                ..RawInput::default()
            },
            first_press: None,
            last_press: None,
        }
    }

    /// Takes one window event; returns whether egui should draw a new frame because of it.
    pub fn on_event(&mut self, event: &WindowEvent<'_>) -> bool {
        match event {
            WindowEvent::ScaleFactorChanged { scale_factor, .. } => {
                self.pixels_per_point = *scale_factor as f32;
                true
            }
            WindowEvent::Focused(focused) => {
                self.input.focused = *focused;
                self.input.events.push(Event::WindowFocused(*focused));
                if !focused {
                    self.modifiers = Modifiers::default();
                }
                true
            }
            WindowEvent::CursorMoved { position, .. } => {
                let pos = Pos2::new(
                    position.x as f32 / self.pixels_per_point,
                    position.y as f32 / self.pixels_per_point,
                );
                self.pointer = Some(pos);
                self.input.events.push(Event::PointerMoved(pos));
                true
            }
            WindowEvent::CursorLeft { .. } => {
                self.pointer = None;
                self.input.events.push(Event::PointerGone);
                true
            }
            WindowEvent::MouseInput { state, button, .. } => {
                let (Some(pos), Some(button)) = (self.pointer, pointer_button(*button)) else {
                    return false;
                };
                let pressed = *state == ElementState::Pressed;
                self.note_press();
                self.input.events.push(Event::PointerButton {
                    pos,
                    button,
                    pressed,
                    modifiers: self.modifiers,
                });
                true
            }
            WindowEvent::MouseWheel { delta, phase, .. } => {
                let (unit, delta) = match delta {
                    MouseScrollDelta::LineDelta(x, y) => {
                        (egui::MouseWheelUnit::Line, Vec2::new(*x, *y))
                    }
                    MouseScrollDelta::PixelDelta(p) => (
                        egui::MouseWheelUnit::Point,
                        Vec2::new(p.x as f32, p.y as f32) / self.pixels_per_point,
                    ),
                    _ => return false,
                };
                let phase = match phase {
                    tao::event::TouchPhase::Started => egui::TouchPhase::Start,
                    tao::event::TouchPhase::Ended => egui::TouchPhase::End,
                    tao::event::TouchPhase::Cancelled => egui::TouchPhase::Cancel,
                    _ => egui::TouchPhase::Move,
                };
                self.input.events.push(Event::MouseWheel {
                    unit,
                    delta,
                    phase,
                    source: egui::MouseWheelSource::Unknown,
                    modifiers: self.modifiers,
                });
                true
            }
            WindowEvent::ModifiersChanged(m) => {
                tracing::trace!(?m, "modifiers");
                // tao 0.37.2 on X11 reports only the modifier just pressed (Ctrl then Alt
                // arrive as CONTROL, then ALT) and an empty set on any release: add presses
                // up, and let a release clear them all (the safe side for remote control).
                let new = modifiers(*m);
                self.modifiers = if new.is_none() {
                    new
                } else {
                    Modifiers {
                        alt: self.modifiers.alt || new.alt,
                        ctrl: self.modifiers.ctrl || new.ctrl,
                        shift: self.modifiers.shift || new.shift,
                        mac_cmd: false,
                        command: self.modifiers.command || new.command,
                    }
                };
                self.input
                    .events
                    .push(Event::ModifiersChanged(self.modifiers));
                true
            }
            WindowEvent::KeyboardInput { event, .. } => {
                tracing::trace!(?event.logical_key, ?event.physical_key, ?event.state, "key");
                // Modifier keys update the state at once: tao's ModifiersChanged can arrive
                // after the next key (Ctrl+Alt+Esc must see Ctrl and Alt).
                if let Some(changed) = self.modifier_key(event.physical_key, event.state) {
                    return changed;
                }
                // The physical key travels along: remote control sends key positions, not
                // characters, so that the customer's own layout applies.
                let physical = physical(event.physical_key);
                let Some(key) = key(&event.logical_key).or(physical) else {
                    return false;
                };
                let pressed = event.state == ElementState::Pressed;
                if pressed {
                    self.note_press();
                }
                self.input.events.push(Event::Key {
                    key,
                    physical_key: physical,
                    pressed,
                    repeat: event.repeat,
                    modifiers: self.modifiers,
                });
                // On Windows (and macOS) tao gives typed text with the key, and
                // `ReceivedImeText` only for an input method's composition.
                #[cfg(not(target_os = "linux"))]
                if pressed
                    && !self.modifiers.ctrl
                    && !self.modifiers.mac_cmd
                    && let Some(text) = event.text
                {
                    let printable: String = text.chars().filter(|c| !c.is_control()).collect();
                    if !printable.is_empty() {
                        self.input.events.push(Event::Text(printable));
                    }
                }
                true
            }
            // On Linux text arrives here, composed by GTK's input method (dead keys, compose),
            // not from the key events, so that nothing is typed twice.
            WindowEvent::ReceivedImeText(text) => {
                let printable: String = text.chars().filter(|c| !c.is_control()).collect();
                if printable.is_empty() || self.modifiers.ctrl || self.modifiers.mac_cmd {
                    return false;
                }
                self.note_press();
                self.input.events.push(Event::Text(printable));
                true
            }
            _ => false,
        }
    }

    /// The input for the next frame, for a window of `size` physical pixels, and when its
    /// earliest click or key press arrived.
    /// Whether `event` presses the paste shortcut (Ctrl+V, Shift+Insert). The shell then asks
    /// the clipboard and hands the text to [`Adapter::paste`].
    pub fn is_paste(&self, event: &WindowEvent<'_>) -> bool {
        let WindowEvent::KeyboardInput { event, .. } = event else {
            return false;
        };
        if event.state != ElementState::Pressed {
            return false;
        }
        let m = self.modifiers;
        match &event.logical_key {
            TaoKey::Character(c) => m.ctrl && !m.alt && c.eq_ignore_ascii_case("v"),
            TaoKey::Insert => m.shift && !m.ctrl && !m.alt,
            _ => false,
        }
    }

    /// Text from the clipboard, for the widget with the keyboard focus.
    pub fn paste(&mut self, text: String) {
        self.input.events.push(Event::Paste(text));
    }

    /// The input of one frame, and when its first and last press (click, key) reached the
    /// program, if any.
    pub fn take(
        &mut self,
        size: [u32; 2],
        max_texture_side: usize,
    ) -> (RawInput, Option<(Instant, Instant)>) {
        let ppp = self.pixels_per_point;
        let mut input = self.input.take();
        input.focused = self.input.focused;
        input.time = Some(self.start.elapsed().as_secs_f64());
        input.max_texture_side = Some(max_texture_side);
        input.screen_rect = Some(egui::Rect::from_min_size(
            Pos2::ZERO,
            Vec2::new(size[0] as f32, size[1] as f32) / ppp,
        ));
        input
            .viewports
            .entry(egui::ViewportId::ROOT)
            .or_default()
            .native_pixels_per_point = Some(ppp);
        let last = self.last_press.take();
        (input, self.first_press.take().zip(last))
    }

    /// Follows a modifier key; `None` when `code` is no modifier.
    fn modifier_key(&mut self, code: KeyCode, state: ElementState) -> Option<bool> {
        let down = state == ElementState::Pressed;
        let mut m = self.modifiers;
        match code {
            KeyCode::ControlLeft | KeyCode::ControlRight => {
                m.ctrl = down;
                m.command = down;
            }
            KeyCode::ShiftLeft | KeyCode::ShiftRight => m.shift = down,
            KeyCode::AltLeft | KeyCode::AltRight => m.alt = down,
            _ => return None,
        }
        if m == self.modifiers {
            return Some(false);
        }
        self.modifiers = m;
        self.input.events.push(Event::ModifiersChanged(m));
        Some(true)
    }

    fn note_press(&mut self) {
        let now = Instant::now();
        self.first_press.get_or_insert(now);
        self.last_press = Some(now);
    }
}

fn pointer_button(b: MouseButton) -> Option<PointerButton> {
    match b {
        MouseButton::Left => Some(PointerButton::Primary),
        MouseButton::Right => Some(PointerButton::Secondary),
        MouseButton::Middle => Some(PointerButton::Middle),
        _ => None,
    }
}

fn modifiers(m: ModifiersState) -> Modifiers {
    Modifiers {
        alt: m.alt_key(),
        ctrl: m.control_key(),
        shift: m.shift_key(),
        mac_cmd: false,
        command: m.control_key(),
    }
}

/// The keys egui acts on: focus movement, activation, editing, shortcuts.
fn key(k: &TaoKey<'_>) -> Option<Key> {
    Some(match k {
        TaoKey::Enter => Key::Enter,
        TaoKey::Tab => Key::Tab,
        TaoKey::Space => Key::Space,
        TaoKey::Escape => Key::Escape,
        TaoKey::Backspace => Key::Backspace,
        TaoKey::Delete => Key::Delete,
        TaoKey::Insert => Key::Insert,
        TaoKey::ArrowDown => Key::ArrowDown,
        TaoKey::ArrowLeft => Key::ArrowLeft,
        TaoKey::ArrowRight => Key::ArrowRight,
        TaoKey::ArrowUp => Key::ArrowUp,
        TaoKey::Home => Key::Home,
        TaoKey::End => Key::End,
        TaoKey::PageUp => Key::PageUp,
        TaoKey::PageDown => Key::PageDown,
        TaoKey::Character(" ") => Key::Space,
        TaoKey::Character(c) => {
            return Key::from_name(c).or_else(|| Key::from_name(&c.to_uppercase()));
        }
        _ => return None,
    })
}

/// The key at this position on a US layout.
#[rustfmt::skip]
fn physical(code: KeyCode) -> Option<Key> {
    use KeyCode as C;
    Some(match code {
        C::KeyA => Key::A, C::KeyB => Key::B, C::KeyC => Key::C, C::KeyD => Key::D,
        C::KeyE => Key::E, C::KeyF => Key::F, C::KeyG => Key::G, C::KeyH => Key::H,
        C::KeyI => Key::I, C::KeyJ => Key::J, C::KeyK => Key::K, C::KeyL => Key::L,
        C::KeyM => Key::M, C::KeyN => Key::N, C::KeyO => Key::O, C::KeyP => Key::P,
        C::KeyQ => Key::Q, C::KeyR => Key::R, C::KeyS => Key::S, C::KeyT => Key::T,
        C::KeyU => Key::U, C::KeyV => Key::V, C::KeyW => Key::W, C::KeyX => Key::X,
        C::KeyY => Key::Y, C::KeyZ => Key::Z,
        C::Digit0 => Key::Num0, C::Digit1 => Key::Num1, C::Digit2 => Key::Num2,
        C::Digit3 => Key::Num3, C::Digit4 => Key::Num4, C::Digit5 => Key::Num5,
        C::Digit6 => Key::Num6, C::Digit7 => Key::Num7, C::Digit8 => Key::Num8,
        C::Digit9 => Key::Num9,
        C::F1 => Key::F1, C::F2 => Key::F2, C::F3 => Key::F3, C::F4 => Key::F4,
        C::F5 => Key::F5, C::F6 => Key::F6, C::F7 => Key::F7, C::F8 => Key::F8,
        C::F9 => Key::F9, C::F10 => Key::F10, C::F11 => Key::F11, C::F12 => Key::F12,
        C::Enter | C::NumpadEnter => Key::Enter,
        C::Escape => Key::Escape,
        C::Backspace => Key::Backspace,
        C::Tab => Key::Tab,
        C::Space => Key::Space,
        C::Minus => Key::Minus,
        C::Equal => Key::Equals,
        C::BracketLeft => Key::OpenBracket,
        C::BracketRight => Key::CloseBracket,
        C::Backslash => Key::Backslash,
        C::Semicolon => Key::Semicolon,
        C::Quote => Key::Quote,
        C::Backquote => Key::Backtick,
        C::Comma => Key::Comma,
        C::Period => Key::Period,
        C::Slash => Key::Slash,
        C::Insert => Key::Insert,
        C::Home => Key::Home,
        C::PageUp => Key::PageUp,
        C::Delete => Key::Delete,
        C::End => Key::End,
        C::PageDown => Key::PageDown,
        C::ArrowRight => Key::ArrowRight,
        C::ArrowLeft => Key::ArrowLeft,
        C::ArrowDown => Key::ArrowDown,
        C::ArrowUp => Key::ArrowUp,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_drive_the_window_are_mapped() {
        assert_eq!(key(&TaoKey::Tab), Some(Key::Tab));
        assert_eq!(key(&TaoKey::Escape), Some(Key::Escape));
        assert_eq!(key(&TaoKey::Enter), Some(Key::Enter));
        assert_eq!(key(&TaoKey::Character(" ")), Some(Key::Space));
        assert_eq!(key(&TaoKey::Character("a")), Some(Key::A));
        assert_eq!(key(&TaoKey::Shift), None);
    }

    #[test]
    fn input_carries_size_time_and_first_press() {
        let mut a = Adapter::new(2.0);
        assert!(a.on_event(&WindowEvent::Focused(true)));
        let (input, first) = a.take([800, 600], 2048);
        assert_eq!(
            input.screen_rect.map(|r| r.size()),
            Some(Vec2::new(400.0, 300.0))
        );
        assert!(first.is_none());
        assert!(input.time.is_some());
    }
}
