//! What the integration tests share: running a test under a metrics recorder
//! of its own and reading what it reported.

use std::future::Future;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// One metric as reported: its name, its labels and its value.
pub(crate) struct Reported {
    pub(crate) name: String,
    /// Read by the tests that look at labels; not every test crate does.
    #[allow(dead_code)]
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: DebugValue,
}

/// Runs `test` on a runtime of its own, with a metrics recorder local to
/// it, and returns every metric it reported.
pub(crate) fn with_metrics<F: Future<Output = ()>>(test: impl FnOnce() -> F) -> Vec<Reported> {
    let debugging = DebuggingRecorder::new();
    let snapshotter = debugging.snapshotter();
    metrics::with_local_recorder(&debugging, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(test());
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| Reported {
            name: key.key().name().to_owned(),
            labels: (key.key().labels())
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect(),
            value,
        })
        .collect()
}

/// The counter `name`, summed over its labels; panics when it is not one.
pub(crate) fn counter(reported: &[Reported], name: &str) -> u64 {
    reported
        .iter()
        .filter(|metric| metric.name == name)
        .map(|metric| match metric.value {
            DebugValue::Counter(n) => n,
            ref other => panic!("{name}: {other:?}"),
        })
        .sum()
}
