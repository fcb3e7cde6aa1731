//! Running state operations that take a while off the async workers, for the API and the UI.

use crate::sim::state::StateError;

/// Runs a state operation that may take a while (key generation, a synced write) off the
/// async workers. Shared with the UI, whose error type converts the same way.
pub(crate) async fn blocking<T, E>(
    operation: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StateError> + From<tokio::task::JoinError>,
{
    tokio::task::spawn_blocking(operation)
        .await?
        .map_err(E::from)
}
