//! Which backend the `engine.backend` setting starts: the local engine thread or the remote engine (the only place that knows both).

use std::sync::Arc;

use crate::config::Backend as BackendKind;
use crate::engine::{LocalEngine, Starter};
use crate::remote::RemoteBackend;

/// The starter the server uses: `engine.backend` decides, each time the settings change it.
pub fn from_settings() -> Starter {
    Arc::new(|config, notices| match config.engine_backend {
        BackendKind::Local => Arc::new(LocalEngine::start_for(config)),
        BackendKind::Openai => Arc::new(RemoteBackend::start(config, notices)),
    })
}
