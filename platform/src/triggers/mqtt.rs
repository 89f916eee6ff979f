//! MQTT triggers (consumer not built yet: creating one is refused).

use model::{Trigger, TriggerSpec};
use tokio::task::JoinHandle;

use super::TriggerSource;
use crate::{Platform, PlatformError};

pub(crate) struct MqttSource;

impl TriggerSource for MqttSource {
    fn validate(&self, _spec: &TriggerSpec) -> Result<(), PlatformError> {
        Err(PlatformError::invalid(
            "MQTT triggers are not available in this build yet",
        ))
    }

    fn start(&self, _platform: &Platform, _trigger: &Trigger) -> Option<JoinHandle<()>> {
        None
    }
}
