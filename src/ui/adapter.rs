//! Translates tao window events into egui input, shaped like `egui_winit::State` (there is no
//! maintained tao bridge; see PLATFORM-NOTES).

use egui::{Event, Key, Modifiers, PointerButton, Pos2, RawInput, Vec2};
use std::time::Instant;
use tao::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use tao::keyboard::{Key as TaoKey, ModifiersState};

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
                self.modifiers = modifiers(*m);
                self.input
                    .events
                    .push(Event::ModifiersChanged(self.modifiers));
                true
            }
            WindowEvent::KeyboardInput { event, .. } => {
                tracing::trace!(?event.logical_key, ?event.state, "key");
                let Some(key) = key(&event.logical_key) else {
                    return false;
                };
                let pressed = event.state == ElementState::Pressed;
                if pressed {
                    self.note_press();
                }
                self.input.events.push(Event::Key {
                    key,
                    physical_key: None,
                    pressed,
                    repeat: event.repeat,
                    modifiers: self.modifiers,
                });
                true
            }
            // Text arrives here, composed by GTK's input method (dead keys, compose), not from
            // the key events, so that nothing is typed twice.
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

    /// The input for the next frame, for a window of `size` physical pixels, and when its
    /// earliest click or key press arrived.
    pub fn take(&mut self, size: [u32; 2], max_texture_side: usize) -> (RawInput, Option<Instant>) {
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
        (input, self.first_press.take())
    }

    fn note_press(&mut self) {
        self.first_press.get_or_insert_with(Instant::now);
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
