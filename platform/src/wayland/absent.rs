//! Systems without Wayland (Windows): the portal types exist so that callers compile unchanged,
//! but none can be made. [`Portal::connect`] always fails, and the capturer and injector need a
//! portal, so their methods can never run (each holds an uninhabited value).

use super::{Access, PortalError};
use crate::capture::{CaptureError, Capturer, Frame, Monitor};
use crate::{InjectError, Injector};
use lotse_proto::input::InputEvent;
use std::convert::Infallible;

/// No portal on this system: none can exist.
#[derive(Debug, Clone)]
pub struct Portal(Infallible);

impl Portal {
    /// Always fails: this system has no desktop portal.
    pub fn connect(_parent: Option<u64>) -> Result<Portal, PortalError> {
        Err(PortalError::Failed(
            "this system has no Wayland desktop portal".into(),
        ))
    }

    pub fn request(
        &self,
        _access: Access,
        _done: impl FnOnce(Result<(), PortalError>) + Send + 'static,
    ) {
        match self.0 {}
    }
}

/// Never made: it needs a [`Portal`].
#[derive(Debug)]
pub struct WaylandCapturer(Infallible);

impl WaylandCapturer {
    pub fn new(portal: Portal) -> WaylandCapturer {
        match portal.0 {}
    }
}

impl Capturer for WaylandCapturer {
    fn monitors(&self) -> Vec<Monitor> {
        match self.0 {}
    }
    fn selected(&self) -> usize {
        match self.0 {}
    }
    fn select(&mut self, _index: usize) -> Result<(), CaptureError> {
        match self.0 {}
    }
    fn capture(&mut self) -> Result<Frame<'_>, CaptureError> {
        match self.0 {}
    }
}

/// Never made: it needs a [`Portal`].
#[derive(Debug)]
pub struct WaylandInjector(Infallible);

impl WaylandInjector {
    pub fn new(portal: Portal) -> WaylandInjector {
        match portal.0 {}
    }
}

impl Injector for WaylandInjector {
    /// Nothing keeps input from the session's windows (the portal's remote desktop reaches
    /// every one of them).
    fn obstruction(&mut self) -> Option<lotse_proto::msg::Obstruction> {
        None
    }

    fn inject(&mut self, _event: &InputEvent) -> Result<(), InjectError> {
        match self.0 {}
    }
    fn release_all(&mut self) {
        match self.0 {}
    }
}
