//! Recording fakes for tests.

use crate::{InjectError, Injector};
use lotse_proto::input::InputEvent;
use lotse_proto::msg::Obstruction;
use std::sync::{Arc, Mutex};

/// What a [`FakeInjector`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    Event(InputEvent),
    ReleaseAll,
    /// Not injected: the fake's obstruction was up when it came.
    Blocked(InputEvent),
}

/// Records every call; clone the log handle to inspect it from a test.
#[derive(Debug, Default, Clone)]
pub struct FakeInjector {
    pub log: Arc<Mutex<Vec<Injected>>>,
    /// What [`Injector::obstruction`] answers; a test sets it to play a UAC prompt.
    pub obstruction: Arc<Mutex<Option<Obstruction>>>,
}

impl Injector for FakeInjector {
    fn inject(&mut self, event: &InputEvent) -> Result<(), InjectError> {
        self.log
            .lock()
            .map_err(|_| InjectError("log poisoned".into()))?
            .push(Injected::Event(event.clone()));
        Ok(())
    }

    fn release_all(&mut self) {
        if let Ok(mut log) = self.log.lock() {
            log.push(Injected::ReleaseAll);
        }
    }

    fn obstruction(&mut self) -> Option<Obstruction> {
        self.obstruction.lock().ok().and_then(|o| *o)
    }

    fn blocks(&mut self, event: &InputEvent) -> Option<Obstruction> {
        let o = self.obstruction()?;
        if let Ok(mut log) = self.log.lock() {
            log.push(Injected::Blocked(event.clone()));
        }
        Some(o)
    }
}
