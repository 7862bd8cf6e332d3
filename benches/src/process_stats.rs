//! What the kernel says about a process: CPU time and resident memory.

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on
/// every Linux architecture that matters here).
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds `pid` (all its threads) has used so far.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields are counted after its `)`.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// A `kB` line of this process's `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// This process's peak resident set size, in KiB.
pub(crate) fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

/// This process's resident set size now, in KiB.
pub(crate) fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// The CPU time the whole machine and the benchmark's own processes have
/// used so far, to tell how much other work competed with a measurement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MachineCpu {
    /// User + system seconds of every CPU (from `/proc/stat`).
    busy: f64,
    /// Seconds of this benchmark's processes and the database servers'.
    ours: f64,
}

impl MachineCpu {
    /// Names of the processes that are part of a measurement.
    const OURS: [&str; 4] = ["activity-bench", "postgres", "mariadbd", "mysqld"];

    pub(crate) fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<f64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(3)
            .map(|field| field.parse().unwrap_or(0.0))
            .collect();
        let busy = fields.iter().sum::<f64>() / TICKS_PER_SECOND;
        let ours = std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                Self::OURS.contains(&comm.trim())
            })
            .filter_map(cpu_seconds)
            .sum();
        Some(MachineCpu { busy, ours })
    }

    /// CPU seconds that other processes used between `self` and `later`.
    pub(crate) fn foreign_since(self, later: MachineCpu) -> f64 {
        ((later.busy - self.busy) - (later.ours - self.ours)).max(0.0)
    }
}
