//! The writer's reports on itself: `activity.dropped` with the number of
//! events dropped, `activity.rejected` with the number of events the sink
//! refused for good and why.

use std::sync::atomic::Ordering;

use super::writer::{Job, Writer};
use super::{ActivitySink, Counts, DROPPED_ACTION, REJECTED_ACTION};
use crate::event::{Action, ActivityEvent, Actor, Outcome};

impl Counts {
    /// Notes `n` rejected events for the next `activity.rejected` report,
    /// which gives the latest reason.
    pub(super) fn note_rejections(&self, n: u64, reason: &str) {
        let mut latest = self
            .rejection_reason
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        reason.clone_into(&mut latest);
        self.unreported_rejections.fetch_add(n, Ordering::AcqRel);
    }

    fn rejection_reason(&self) -> String {
        self.rejection_reason
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl<S: ActivitySink> Writer<S> {
    /// The reports of drops and rejections since the last ones, unless a
    /// report is being written or there is nothing to report.
    pub(super) fn report(&mut self) -> Option<(Vec<ActivityEvent>, Job)> {
        if self.reporting {
            return None;
        }
        let dropped = self.counts.unreported_drops.swap(0, Ordering::AcqRel);
        let rejected = self.counts.unreported_rejections.swap(0, Ordering::AcqRel);
        let mut reports = Vec::new();
        if dropped > 0 {
            reports.push(report(DROPPED_ACTION, dropped, None));
        }
        if rejected > 0 {
            let reason = self.counts.rejection_reason();
            reports.push(report(REJECTED_ACTION, rejected, Some(reason)));
        }
        if reports.is_empty() {
            return None;
        }
        self.reporting = true;
        Some((reports, Job::Report { dropped, rejected }))
    }
}

/// A report of `count` events under `action`.
fn report(action: &'static str, count: u64, reason: Option<String>) -> ActivityEvent {
    let mut report = ActivityEvent::builder(Action::system(action))
        .actor(Actor::system("activity-recorder"))
        .outcome(Outcome::Warning)
        .detail("count", count);
    if let Some(reason) = reason {
        report = report.detail("reason", reason);
    }
    report.build().unwrap_or_else(|invalid| unreachable!("{invalid}"))
}
