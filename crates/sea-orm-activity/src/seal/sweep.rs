//! Where a sealing pass starts reading. A pass reads the entries not yet
//! sealed in id order, from its start to the newest; finding them costs a
//! walk over the ids from there, so a pass starts as late as it safely can:
//!
//! - the whole table at the first pass and once per [`FULL_SWEEP`];
//! - the last [`lookback`](super::Sealer::lookback) (by the time in the ids)
//!   once per [`LOOKBACK_SWEEP`] in the background, at every explicit pass,
//!   and at the last pass of a stopping sealer;
//! - otherwise from [`RECENT`] before the previous pass started: the entries
//!   committed since, including those committed in another order than their
//!   ids (the recorder writes several batches at once; a transaction may
//!   take a moment), without reading again what earlier passes sealed.
//!
//! A pass that fails changes nothing here: the next one starts where it
//! would have.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use super::id_floor::lowest_id_at;
use super::pending::Start;

/// How often a pass reads the whole table.
pub(super) const FULL_SWEEP: Duration = Duration::from_secs(3_600);

/// How often a background pass reads the last `lookback`.
pub(super) const LOOKBACK_SWEEP: Duration = Duration::from_secs(60);

/// How long before the previous pass's start an ordinary pass starts.
pub(super) const RECENT: Duration = Duration::from_secs(2);

/// How far a pass reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    Whole,
    Lookback,
    Recent,
}

/// A pass about to run: where it starts, and when it was planned.
#[derive(Clone, Copy, Debug)]
pub(super) struct Pass {
    /// Where its first round reads from.
    pub(super) start: Start,
    reach: Reach,
    planned: Instant,
    wall: DateTime<Utc>,
}

/// What the passes so far have read, by the time each started.
#[derive(Debug, Default)]
pub(super) struct Sweep {
    whole: Option<Instant>,
    lookback: Option<Instant>,
    previous: Option<DateTime<Utc>>,
}

impl Sweep {
    /// The next pass, planned at `now` (`wall` on the clock the ids are made
    /// on), for a sealer looking back `lookback`; `look_back` asks for at
    /// least the last `lookback` whenever it is due or not.
    pub(super) fn plan(
        &self,
        now: Instant,
        wall: DateTime<Utc>,
        lookback: Duration,
        look_back: bool,
    ) -> Pass {
        let due = |at: Option<Instant>, every: Duration| {
            at.is_none_or(|at| now.saturating_duration_since(at) >= every)
        };
        let before = |time: DateTime<Utc>, by: Duration| {
            let from = TimeDelta::from_std(by)
                .ok()
                .and_then(|by| time.checked_sub_signed(by))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            Start::At(lowest_id_at(from.timestamp_millis()))
        };
        let (reach, start) = match self.previous {
            _ if due(self.whole, FULL_SWEEP) => (Reach::Whole, Start::First),
            Some(previous) if !look_back && !due(self.lookback, LOOKBACK_SWEEP) => {
                (Reach::Recent, before(previous, RECENT))
            }
            _ => (Reach::Lookback, before(wall, lookback)),
        };
        Pass {
            start,
            reach,
            planned: now,
            wall,
        }
    }

    /// Records that `pass` read all it was to read.
    pub(super) fn done(&mut self, pass: &Pass) {
        match pass.reach {
            Reach::Whole => {
                self.whole = Some(pass.planned);
                self.lookback = Some(pass.planned);
            }
            Reach::Lookback => self.lookback = Some(pass.planned),
            Reach::Recent => {}
        }
        self.previous = Some(pass.wall);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOKBACK: Duration = Duration::from_secs(600);

    fn id_at(time: DateTime<Utc>) -> Start {
        Start::At(lowest_id_at(time.timestamp_millis()))
    }

    #[test]
    fn passes_read_the_whole_table_first_then_recent_ids_and_the_lookback_now_and_then() {
        let mut sweep = Sweep::default();
        let (now, wall) = (Instant::now(), Utc::now());
        let first = sweep.plan(now, wall, LOOKBACK, false);
        assert_eq!(first.start, Start::First);
        sweep.done(&first);

        let later = (now + Duration::from_secs(2), wall + TimeDelta::seconds(2));
        let recent = sweep.plan(later.0, later.1, LOOKBACK, false);
        assert_eq!(recent.start, id_at(wall - TimeDelta::from_std(RECENT).unwrap()));
        sweep.done(&recent);

        let asked = sweep.plan(later.0, later.1, LOOKBACK, true);
        assert_eq!(asked.start, id_at(later.1 - TimeDelta::minutes(10)));

        let minute = (
            now + LOOKBACK_SWEEP,
            wall + TimeDelta::from_std(LOOKBACK_SWEEP).unwrap(),
        );
        let lookback = sweep.plan(minute.0, minute.1, LOOKBACK, false);
        assert_eq!(lookback.start, id_at(minute.1 - TimeDelta::minutes(10)));
        sweep.done(&lookback);
        let next = sweep.plan(minute.0, minute.1, LOOKBACK, false);
        assert_eq!(next.start, id_at(minute.1 - TimeDelta::from_std(RECENT).unwrap()));

        let hour = sweep.plan(now + FULL_SWEEP, wall + TimeDelta::hours(1), LOOKBACK, false);
        assert_eq!(hour.start, Start::First);
    }

    #[test]
    fn a_pass_not_done_is_planned_again_from_the_same_point() {
        let mut sweep = Sweep::default();
        let (now, wall) = (Instant::now(), Utc::now());
        let first = sweep.plan(now, wall, LOOKBACK, false);
        assert_eq!(sweep.plan(now, wall, LOOKBACK, false).start, Start::First);
        sweep.done(&first);
        let failed = sweep.plan(
            now + Duration::from_secs(2),
            wall + TimeDelta::seconds(2),
            LOOKBACK,
            false,
        );
        let retried = sweep.plan(
            now + Duration::from_secs(4),
            wall + TimeDelta::seconds(4),
            LOOKBACK,
            false,
        );
        assert_eq!(failed.start, retried.start);
    }
}
