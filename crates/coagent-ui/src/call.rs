//! How a request reaches the hub: opened per request on a blocking thread, as a CLI
//! command opens it, and its errors as the page shows them.

use std::sync::Arc;

use coagent::hub::Hub;

use crate::state::State as St;

/// An error as the page shows it: the message and the library's hint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl From<coagent::Error> for Failure {
    fn from(e: coagent::Error) -> Self {
        Failure {
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

/// Opens the hub as every CLI command does (interrupted runs recorded, the monitor's
/// check), runs `f` on a blocking thread, and closes it.
pub async fn with_hub<T: Send + 'static>(
    st: &Arc<St>,
    f: impl FnOnce(&mut Hub) -> coagent::Result<T> + Send + 'static,
) -> Result<T, Failure> {
    let dir = st.hub.clone();
    tokio::task::spawn_blocking(move || {
        let mut hub = Hub::open(&dir)?;
        let _ = coagent::dos::interrupted::recover(&mut hub);
        coagent::status::check(&mut hub)?;
        f(&mut hub)
    })
    .await
    .unwrap_or_else(|e| {
        Err(coagent::Error::invalid(
            format!("the request failed: {e}"),
            None,
        ))
    })
    .map_err(Failure::from)
}
