//! The response future of an [`Audited`](crate::Audited) handler.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::response::Parts;
use axum::response::Response;
use futures_util::stream;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use crate::audited_event::{CURRENT_SLOT, SlotCell};
use crate::pending_event::PendingEvent;
use crate::response_body::ResponseBody;

pin_project! {
    /// Runs the wrapped handler, reads the response body when the resource id
    /// must come from it, and records the event.
    ///
    /// Dropped before it has recorded its event (the client closed the
    /// connection, a timeout fired), it records one as it is dropped: see
    /// [`Audited`](crate::Audited#cancelled-requests).
    pub struct AuditedFuture<F> {
        #[pin]
        state: State<F>,
        pending: PendingEvent,
    }

    impl<F> PinnedDrop for AuditedFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let pending = this.pending;
            match this.state.project() {
                // The handler was still running: whether its change happened
                // is unknown.
                StateProj::Handling { future } => {
                    pending.handler_finished(future.take_value());
                    pending.record_cancelled();
                }
                // The handler answered; only the id in its body is missing.
                StateProj::ReadingBody { head, .. } => {
                    if let Some(head) = head.take() {
                        pending.record_response(head.status, None);
                    }
                }
                // `call` panicked and the future was never polled.
                StateProj::Panicked { payload } => {
                    if let Some(payload) = payload.take() {
                        pending.handler_finished(None);
                        pending.record_panic(payload.as_ref());
                    }
                }
                StateProj::Done => {}
            }
        }
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Handling { #[pin] future: TaskLocalFuture<SlotCell, F> },
        ReadingBody { body: ResponseBody, head: Option<Parts> },
        Panicked { payload: Option<Box<dyn Any + Send>> },
        Done,
    }
}

impl<F: Future> AuditedFuture<F> {
    pub(crate) fn handling(future: F, pending: PendingEvent) -> Self {
        AuditedFuture {
            state: State::Handling {
                future: CURRENT_SLOT.scope(SlotCell::new(), future),
            },
            pending,
        }
    }

    pub(crate) fn panicked(payload: Box<dyn Any + Send>, pending: PendingEvent) -> Self {
        AuditedFuture {
            state: State::Panicked {
                payload: Some(payload),
            },
            pending,
        }
    }
}

impl<F> fmt::Debug for AuditedFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Handling { .. } => "handling",
            State::ReadingBody { .. } => "reading body",
            State::Panicked { .. } => "panicked",
            State::Done => "done",
        };
        f.debug_struct("AuditedFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<F> Future for AuditedFuture<F>
where
    F: Future<Output = Response>,
{
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Handling { mut future } => {
                    this.pending.publish_route();
                    let polled = catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
                    let response = match polled {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(response)) => {
                            this.pending.handler_finished(future.take_value());
                            response
                        }
                        Err(payload) => {
                            this.pending.handler_finished(future.take_value());
                            this.state.set(State::Panicked {
                                payload: Some(payload),
                            });
                            continue;
                        }
                    };
                    if this.pending.wants_body(&response) {
                        let (head, body) = response.into_parts();
                        this.state.set(State::ReadingBody {
                            body: ResponseBody::new(body),
                            head: Some(head),
                        });
                        continue;
                    }
                    // Done before recording, so that the event is never
                    // recorded twice, even by a drop after a panic here.
                    this.state.set(State::Done);
                    this.pending.record_response(response.status(), None);
                    return Poll::Ready(response);
                }
                StateProj::ReadingBody { body, head } => {
                    let read = match body.poll_read(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(read) => read,
                    };
                    let head = head
                        .take()
                        .expect("the response head is kept until its body is read");
                    let body = std::mem::replace(body, ResponseBody::new(Body::empty()));
                    this.state.set(State::Done);
                    let status = head.status;
                    let (body, id) = match read {
                        Ok(()) => {
                            let id = this.pending.id_from_body(body.bytes());
                            (body.into_body(), id)
                        }
                        // The body failed while being read: the client gets the
                        // failure (an aborted transfer), as it would have without
                        // the wrapper, though not the bytes read before it.
                        Err(error) => (Body::from_stream(stream::iter([Err::<Bytes, _>(error)])), None),
                    };
                    this.pending.record_response(status, id);
                    return Poll::Ready(Response::from_parts(head, body));
                }
                StateProj::Panicked { payload } => {
                    let payload = payload.take().expect("a panic is resumed once");
                    this.state.set(State::Done);
                    // A panic in `call` itself: the handler had no slot.
                    this.pending.handler_finished(None);
                    this.pending.record_panic(payload.as_ref());
                    resume_unwind(payload);
                }
                StateProj::Done => panic!("`AuditedFuture` polled after completion"),
            }
        }
    }
}
