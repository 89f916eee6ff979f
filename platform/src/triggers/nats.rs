//! NATS triggers (consumer not built yet: creating one is refused).

use model::{Trigger, TriggerSpec};
use tokio::task::JoinHandle;

use super::TriggerSource;
use crate::{Platform, PlatformError};

pub(crate) struct NatsSource;

impl TriggerSource for NatsSource {
    fn validate(&self, _spec: &TriggerSpec) -> Result<(), PlatformError> {
        Err(PlatformError::invalid(
            "NATS triggers are not available in this build yet",
        ))
    }

    fn start(&self, _platform: &Platform, _trigger: &Trigger) -> Option<JoinHandle<()>> {
        None
    }
}
