//! Work-done progress (`window/workDoneProgress`): a token created with the client when it supports progress, then begin, reports and end; with no token nothing is sent, so callers need not check.

use tower_lsp::lsp_types::notification::Progress;
use tower_lsp::lsp_types::request::WorkDoneProgressCreate;
use tower_lsp::lsp_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressCreateParams, WorkDoneProgressEnd, WorkDoneProgressReport,
};

use super::session::{client_request, Session};

/// One piece of work shown as progress (loading the model, a reasoning chain).
pub struct WorkDone {
    token: Option<NumberOrString>,
    cancellable: bool,
}

impl WorkDone {
    /// Creates `token` with the client and sends the begin notification; a client without
    /// progress support, or one that refused the token, gets nothing now or later.
    pub async fn begin(
        session: &Session,
        token: &str,
        title: &str,
        cancellable: bool,
        message: &str,
        percentage: Option<u32>,
    ) -> Self {
        let token = NumberOrString::String(token.to_string());
        let created = session.features().work_done_progress
            && client_request::<WorkDoneProgressCreate>(
                session,
                WorkDoneProgressCreateParams {
                    token: token.clone(),
                },
            )
            .await
            .is_ok();
        let work = Self {
            token: created.then_some(token),
            cancellable,
        };
        work.send(
            session,
            WorkDoneProgress::Begin(WorkDoneProgressBegin {
                title: title.to_string(),
                cancellable: Some(cancellable),
                message: Some(message.to_string()),
                percentage,
            }),
        )
        .await;
        work
    }

    pub async fn report(&self, session: &Session, message: String, percentage: Option<u32>) {
        self.send(
            session,
            WorkDoneProgress::Report(WorkDoneProgressReport {
                cancellable: Some(self.cancellable),
                message: Some(message),
                percentage,
            }),
        )
        .await;
    }

    pub async fn end(&self, session: &Session, message: &str) {
        self.send(
            session,
            WorkDoneProgress::End(WorkDoneProgressEnd {
                message: Some(message.to_string()),
            }),
        )
        .await;
    }

    async fn send(&self, session: &Session, value: WorkDoneProgress) {
        if let Some(token) = &self.token {
            session
                .client
                .send_notification::<Progress>(ProgressParams {
                    token: token.clone(),
                    value: ProgressParamsValue::WorkDone(value),
                })
                .await;
        }
    }
}
