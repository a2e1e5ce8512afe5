//! Recording fakes for tests.

use crate::{InjectError, Injector};
use lotse_proto::input::InputEvent;
use std::sync::{Arc, Mutex};

/// What a [`FakeInjector`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    Event(InputEvent),
    ReleaseAll,
}

/// Records every call; clone the log handle to inspect it from a test.
#[derive(Debug, Default, Clone)]
pub struct FakeInjector {
    pub log: Arc<Mutex<Vec<Injected>>>,
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
}
