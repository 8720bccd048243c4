//! The remote backend's settings, taken from the validated configuration, with a `Debug` that never shows the API key.

use std::fmt;
use std::time::Duration;

use crate::config::{Config, FimTemplate};

/// What the remote engine needs to reach its server.
#[derive(Clone, PartialEq)]
pub struct RemoteSettings {
    /// The server's base URL without `/v1` (`http://127.0.0.1:8000`).
    pub base_url: String,
    /// The model name to send; `None` lets the server use its default.
    pub model: Option<String>,
    /// The environment variable holding the API key, read at each request.
    pub api_key_env: Option<String>,
    /// Longest wait for the answer, for the first chunk and between chunks.
    pub timeout: Duration,
    /// The template as configured (`auto` is resolved by [`RemoteSettings::fim`]).
    pub fim_template: FimTemplate,
}

impl RemoteSettings {
    /// The remote settings of `config`, or why there are none (no `engine.baseUrl`).
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let base_url = config.engine_base_url.clone().ok_or_else(|| {
            "engine.backend is \"openai\" but engine.baseUrl is not set (for example \"http://127.0.0.1:8000\")"
                .to_string()
        })?;
        Ok(Self {
            base_url,
            model: config.engine_model.clone(),
            api_key_env: config.engine_api_key_env.clone(),
            timeout: Duration::from_millis(config.engine_timeout_ms),
            fim_template: config.engine_fim_template,
        })
    }

    /// The completions endpoint.
    pub fn completions_url(&self) -> String {
        format!("{}/v1/completions", self.base_url)
    }

    /// The template prompts use: the configured one, or the one `auto` guesses from the model name.
    pub fn fim(&self) -> FimTemplate {
        super::fim::resolve(self.fim_template, self.model.as_deref())
    }

    /// The API key from the environment, if a variable is named and set to something non-empty.
    pub fn api_key(&self) -> Option<String> {
        let name = self.api_key_env.as_deref()?;
        std::env::var(name)
            .ok()
            .map(|key| key.trim().to_string())
            .filter(|key| !key.is_empty())
    }
}

impl fmt::Debug for RemoteSettings {
    /// Names the key's variable but never reads it, so logging the settings cannot leak the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key_env", &self.api_key_env)
            .field("timeout", &self.timeout)
            .field("fim_template", &self.fim_template)
            .finish()
    }
}
