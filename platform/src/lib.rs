//! The platform layer: what the customer client needs from the operating system, behind traits.
//!
//! The client's logic never names an OS; it talks to an [`Injector`] (and, with the screen work,
//! a capturer). Each OS has its module, chosen once here; [`fake`] holds recording fakes for tests.

use lotse_proto::msg::Obstruction;

pub mod capture;
pub mod clipboard;
pub mod desktop;
pub mod dib;
pub mod fake;
pub mod input;
pub mod obstruction;
pub mod sysreport;
pub mod wayland;

use lotse_proto::input::InputEvent;

/// Puts input events into the customer's session.
///
/// Implementations inject exactly what they are given; the decision whether an event may be
/// injected at all is made before, by `lotse_proto::customer::Consent`.
pub trait Injector: Send {
    /// Injects one event.
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError>;
    /// Lets go of every key and button this injector may have pressed. Called on every stop path;
    /// must be safe to call any number of times.
    fn release_all(&mut self);
    /// What the system puts between the rep and the desktop right now: a secure desktop or an
    /// elevated window in front, where input cannot reach (Windows). The session tells the reps
    /// and the person, and injects nothing while it lasts. It must be cheap: it is asked before
    /// every injected event. No default: a wrapper must pass it on, not forget it.
    fn obstruction(&mut self) -> Option<Obstruction>;
    /// Whether `event` must not be injected now, and why: asked right before each one.
    fn blocks(&mut self, event: &InputEvent) -> Option<Obstruction> {
        let _ = event;
        self.obstruction()
    }
}

/// An event could not be injected.
#[derive(Debug, thiserror::Error)]
#[error("input could not be injected: {0}")]
pub struct InjectError(pub String);

/// An injector that drops everything: for a session where no injection backend is available.
#[derive(Debug, Default)]
pub struct NoInjector;

impl Injector for NoInjector {
    fn obstruction(&mut self) -> Option<Obstruction> {
        None
    }

    fn inject(&mut self, _event: &InputEvent) -> Result<(), InjectError> {
        Err(InjectError("no input backend on this system".into()))
    }

    fn release_all(&mut self) {}
}
