//! Carrying the context into spawned tasks.

use std::future::Future;

use tokio::task::JoinHandle;

use super::ActivityContext;

/// Spawns `future` on the Tokio runtime with the current activity context (if
/// any) carried into it, so events it logs keep the request's id, actor and
/// tenant. Task-locals do not cross `tokio::spawn` by themselves.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_activity::ActivityContext;
///
/// let context = ActivityContext::system("import");
/// let id = context.request_id().to_owned();
/// let seen = context
///     .scope(async {
///         tower_activity::spawn(async {
///             ActivityContext::current().map(|c| c.request_id().to_owned())
///         })
///         .await
///         .unwrap()
///     })
///     .await;
/// assert_eq!(seen, Some(id));
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match ActivityContext::current() {
        Some(context) => tokio::spawn(context.scope(future)),
        None => tokio::spawn(future),
    }
}
