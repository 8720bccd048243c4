//! Which backend the `engine.backend` setting starts: the local engine thread or the remote engine (the only place that knows both).

use std::sync::Arc;

use crate::config::Backend as BackendKind;
use crate::engine::fake::{FakeBackend, Script, SCRIPT_VARIABLE};
use crate::engine::{LocalEngine, Starter};
use crate::remote::RemoteBackend;

/// The starter the server uses: `engine.backend` decides, each time the settings change it;
/// with [`SCRIPT_VARIABLE`] set, the scripted fake serves instead (editor tests).
pub fn from_settings() -> Starter {
    if let Some(fake) = scripted_fake() {
        let fake: Arc<dyn crate::engine::Backend> = Arc::new(fake);
        return Arc::new(move |_, _| fake.clone());
    }
    Arc::new(|config, notices| match config.engine_backend {
        BackendKind::Local => Arc::new(LocalEngine::start_for(config)),
        BackendKind::Openai => Arc::new(RemoteBackend::start(config, notices)),
    })
}

/// The fake [`SCRIPT_VARIABLE`] asks for, if it is set and its script reads.
fn scripted_fake() -> Option<FakeBackend> {
    let path = std::env::var_os(SCRIPT_VARIABLE).filter(|path| !path.is_empty())?;
    let script = std::fs::read_to_string(&path)
        .map_err(|err| err.to_string())
        .and_then(|text| Script::from_json(&text));
    match script {
        Ok(script) => {
            tracing::warn!(
                "{SCRIPT_VARIABLE} is set: completions come from the scripted fake backend in {}, not from a model",
                std::path::Path::new(&path).display()
            );
            Some(FakeBackend::new(script))
        }
        Err(err) => {
            tracing::error!(
                "{SCRIPT_VARIABLE}: cannot use {}: {err}; serving with the configured backend",
                std::path::Path::new(&path).display()
            );
            None
        }
    }
}
