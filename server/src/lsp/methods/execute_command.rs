//! `workspace/executeCommand`: runs a reasoning chain (`rill.reason`); any other command is an invalid-params error.

use std::sync::Arc;

use serde_json::Value;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::ExecuteCommandParams;

use crate::lsp::errors::invalid_params;
use crate::lsp::reasoning::{self, ReasonArguments, REASON_COMMAND};
use crate::lsp::session::Session;

pub async fn handle(session: &Arc<Session>, params: ExecuteCommandParams) -> Result<Option<Value>> {
    if params.command != REASON_COMMAND {
        return Err(invalid_params(format!(
            "unknown command \"{}\" (rill offers {REASON_COMMAND})",
            params.command
        )));
    }
    let argument = params.arguments.into_iter().next().unwrap_or(Value::Null);
    let arguments: ReasonArguments = serde_json::from_value(argument).map_err(|err| {
        invalid_params(format!(
            "{REASON_COMMAND} expects {{uri, range, task, problem?}}: {err}"
        ))
    })?;
    let result = reasoning::execute(session, arguments).await?;
    serde_json::to_value(result)
        .map(Some)
        .map_err(|err| crate::lsp::errors::internal(err.to_string()))
}
