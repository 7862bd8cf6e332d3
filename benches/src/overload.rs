//! Benchmark 5: a stalled sink and a flood of events. Peak memory must stay
//! bounded by the configured queue, and every refused event must be counted.
//!
//! Each measurement runs in a child process (the hidden `overload-child`
//! subcommand), so that what earlier benchmarks allocated does not raise the
//! peak it reads.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;
use tower_activity::{ActivityEvent, ActivitySink, EventPolicy, LogError, Recorder, SinkError};

use crate::databases::Result;
use crate::events;
use crate::process_stats::{peak_rss_kib, rss_kib};
use crate::report::{Section, Table, Target, count, rate};

/// The events whose size is measured to estimate one queued event's memory.
const SIZE_SAMPLE: u64 = 100_000;

/// The most memory one queued sample event may take.
const MAX_EVENT_BYTES: u64 = 600;

/// The recorder's default batch size: the writer holds one batch besides the
/// queue.
const BATCH_SIZE: u64 = 500;

#[derive(Clone, Copy, Debug)]
pub(crate) struct OverloadOptions {
    /// The recorder's queue capacity.
    pub(crate) capacity: u64,
    /// Events flooded into it.
    pub(crate) events: u64,
}

/// What the child measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Measure {
    /// Flood a recorder whose sink never finishes a write.
    Flood,
    /// The resident memory one sample event takes.
    EventSize,
}

/// A sink whose writes never finish.
#[derive(Clone, Copy, Debug)]
struct StalledSink;

impl ActivitySink for StalledSink {
    async fn write_batch(&self, _batch: &[ActivityEvent]) -> Result<(), SinkError> {
        std::future::pending().await
    }
}

/// The child's side: measures and prints `name=value` lines.
pub(crate) async fn child(measure: Measure, options: OverloadOptions) -> Result<()> {
    match measure {
        Measure::EventSize => {
            let before = rss_kib().ok_or("no VmRSS")?;
            // As queued: after the recorder's policy, which keeps the details
            // as JSON text.
            let policy = EventPolicy::default();
            let sample: Vec<ActivityEvent> = (0..SIZE_SAMPLE)
                .map(|n| {
                    let mut event = events::sample(n);
                    policy.apply(&mut event);
                    event
                })
                .collect();
            let after = rss_kib().ok_or("no VmRSS")?;
            println!(
                "event_bytes={}",
                (after.saturating_sub(before) * 1024) / SIZE_SAMPLE
            );
            drop(sample);
        }
        Measure::Flood => {
            let peak_before = peak_rss_kib().ok_or("no VmHWM")?;
            let recorder = Recorder::builder(StalledSink)
                .capacity(options.capacity as usize)
                .batch_size(BATCH_SIZE as usize)
                .write_timeout(Duration::from_secs(3_600))
                .spawn();
            // Let the writer take its first batch and stall on it.
            recorder
                .record(events::sample(0))
                .map_err(|error| error.to_string())?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let tenth = options.events / 10;
            let (mut accepted, mut refused, mut peak_tenth) = (1_u64, 0_u64, peak_before);
            let started = Instant::now();
            for n in 1..options.events {
                match recorder.record(events::sample(n)) {
                    Ok(()) => accepted += 1,
                    Err(LogError::QueueFull) => refused += 1,
                    Err(error) => return Err(error.to_string().into()),
                }
                if n == tenth {
                    peak_tenth = peak_rss_kib().ok_or("no VmHWM")?;
                }
            }
            let seconds = started.elapsed().as_secs_f64();
            let peak_after = peak_rss_kib().ok_or("no VmHWM")?;
            let stats = recorder.stats();
            println!("peak_before_kib={peak_before}");
            println!("peak_tenth_kib={peak_tenth}");
            println!("peak_after_kib={peak_after}");
            println!("accepted={accepted}");
            println!("refused={refused}");
            println!("recorded={}", stats.recorded);
            println!("dropped={}", stats.dropped);
            println!("queued={}", stats.queued);
            println!("flood_per_second={}", (options.events - 1) as f64 / seconds);
        }
    }
    Ok(())
}

async fn run_child(measure: Measure, options: OverloadOptions) -> Result<HashMap<String, f64>> {
    let output = Command::new(std::env::current_exe()?)
        .args(["overload-child", "--measure"])
        .arg(match measure {
            Measure::Flood => "flood",
            Measure::EventSize => "event-size",
        })
        .args(["--capacity", &options.capacity.to_string()])
        .args(["--flood", &options.events.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .await?;
    if !output.status.success() {
        return Err(format!("the overload child exited with {}", output.status).into());
    }
    let mut values = HashMap::new();
    for line in String::from_utf8(output.stdout)?.lines() {
        if let Some((name, value)) = line.split_once('=') {
            values.insert(name.to_owned(), value.parse()?);
        }
    }
    Ok(values)
}

/// The driver's side.
pub(crate) async fn run(options: OverloadOptions) -> Result<Section> {
    eprintln!(
        "overload: {} events into a queue of {} with a stalled sink",
        count(options.events),
        count(options.capacity)
    );
    let size = run_child(Measure::EventSize, options).await?;
    let flood = run_child(Measure::Flood, options).await?;
    let get = |values: &HashMap<String, f64>, name: &str| -> Result<u64> {
        Ok(*values
            .get(name)
            .ok_or_else(|| format!("the overload child did not report {name}"))? as u64)
    };
    let event_bytes = get(&size, "event_bytes")?;
    let (before, tenth, after) = (
        get(&flood, "peak_before_kib")?,
        get(&flood, "peak_tenth_kib")?,
        get(&flood, "peak_after_kib")?,
    );
    let (accepted, recorded, dropped, queued) = (
        get(&flood, "accepted")?,
        get(&flood, "recorded")?,
        get(&flood, "dropped")?,
        get(&flood, "queued")?,
    );
    let flood_rate = flood.get("flood_per_second").copied().unwrap_or_default();
    let growth = after.saturating_sub(before) * 1024;
    let late_growth = after.saturating_sub(tenth) * 1024;
    let bound = (options.capacity + BATCH_SIZE) * event_bytes;
    let exact = dropped == options.events - recorded && recorded == accepted;
    let bounded = growth <= 2 * bound && late_growth <= 1 << 20;
    let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64);

    let mut table = Table::new(
        format!(
            "Memory under overload: {} events into a queue of {}, sink stalled",
            count(options.events),
            count(options.capacity)
        ),
        &["measure", "value"],
    );
    let rows = [
        ("events flooded", count(options.events)),
        ("accepted (queued or taken by the writer)", count(accepted)),
        (
            "recorder stats: recorded / queued",
            format!("{} / {}", count(recorded), count(queued)),
        ),
        ("recorder stats: dropped", count(dropped)),
        (
            "dropped == flooded − accepted",
            format!(
                "{} == {} − {}: {}",
                count(dropped),
                count(options.events),
                count(recorded),
                if exact { "exact" } else { "NOT EXACT" }
            ),
        ),
        (
            "record() rate while full",
            format!("{} events/s", rate(flood_rate)),
        ),
        ("one queued event, measured", format!("{event_bytes} bytes")),
        ("queue bound: (capacity + one batch of 500) × event", mib(bound)),
        ("peak RSS before the recorder", mib(before * 1024)),
        ("peak RSS after 10 % of the flood", mib(tenth * 1024)),
        ("peak RSS after the whole flood", mib(after * 1024)),
        (
            "peak RSS growth",
            format!(
                "{} ({:.2}× the queue bound)",
                mib(growth),
                growth as f64 / bound as f64
            ),
        ),
    ];
    for (name, value) in rows {
        table.row(vec![name.to_owned(), value]);
    }
    table.note(format!(
        "In a fresh child process: a recorder whose sink never finishes a write, fed with `record()` \
         (never waits) in a loop. The event size is the RSS growth of holding {} sample events, in \
         another child.",
        count(SIZE_SAMPLE)
    ));
    Ok(Section {
        tables: vec![table],
        targets: vec![
            Target::new(
                "overload: memory bounded by the queue",
                "peak RSS growth ≤ 2× queue bound, none from 10 % to 100 % of the flood",
                format!("{} growth, {} after 10 %", mib(growth), mib(late_growth)),
                bounded,
            ),
            Target::new(
                "overload: one queued event",
                format!("≤ {MAX_EVENT_BYTES} bytes (the sample event, after the policy)"),
                format!("{event_bytes} bytes"),
                event_bytes <= MAX_EVENT_BYTES,
            ),
            Target::new(
                "overload: drop count exact",
                "dropped == flooded − accepted",
                format!("{} == {}", count(dropped), count(options.events - recorded)),
                exact,
            ),
        ],
    })
}
