//! The response future of [`ActivityService`](crate::ActivityService).

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderName, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use super::ActivityContext;
use super::panic::{internal_error, record_panic};

pin_project! {
    /// Runs the inner service's future with the request's context current,
    /// turns a panic into a recorded event and a `500`, and echoes the request
    /// id on the response.
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        context: ActivityContext,
        header: HeaderName,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Running { #[pin] future: TaskLocalFuture<ActivityContext, F> },
        Panicked { payload: Option<Box<dyn Any + Send>> },
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(crate) fn running(context: ActivityContext, header: HeaderName, future: F) -> Self {
        ResponseFuture {
            state: State::Running {
                future: context.clone().scope(future),
            },
            context,
            header,
        }
    }

    pub(crate) fn panicked(
        context: ActivityContext,
        header: HeaderName,
        payload: Box<dyn Any + Send>,
    ) -> Self {
        ResponseFuture {
            state: State::Panicked {
                payload: Some(payload),
            },
            context,
            header,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let payload = match this.state.project() {
            StateProj::Running { future } => match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(mut response))) => {
                    let id = this.context.request_id_value().clone();
                    response.headers_mut().insert(this.header.clone(), id);
                    return Poll::Ready(Ok(response));
                }
                Ok(Poll::Ready(Err(error))) => return Poll::Ready(Err(error)),
                Err(payload) => payload,
            },
            StateProj::Panicked { payload } => payload
                .take()
                .unwrap_or_else(|| Box::new("polled after completion")),
        };
        record_panic(this.context, payload.as_ref());
        Poll::Ready(Ok(internal_error(this.context, this.header)))
    }
}
