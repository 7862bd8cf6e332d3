//! The machine and the database versions a run measured, for the record.

use crate::databases::{self, Backend, Servers};
use crate::report::Table;

/// A table of the machine, the toolchain and the database versions.
pub(crate) async fn describe(servers: &Servers) -> Table {
    let mut table = Table::new("Machine", &["what", "value"]);
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = field(&cpuinfo, "model name").unwrap_or("?");
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = field(&meminfo, "MemTotal")
        .and_then(|total| total.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(String::from("?"), |kib| {
            format!("{:.1} GiB", kib / (1 << 20) as f64)
        });
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os = os_release
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map_or("?", |name| name.trim_matches('"'));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .unwrap_or_default();
    for (what, value) in [
        ("cores (available parallelism)", cores.to_string()),
        ("CPU", cpu.to_owned()),
        ("memory", memory),
        ("OS", format!("{os}, Linux {}", kernel.trim())),
        ("rustc", rustc.trim().to_owned()),
    ] {
        table.row(vec![what.to_owned(), value]);
    }
    let sqlite = String::from("sqlite::memory:");
    for (backend, url) in [
        (Backend::Sqlite, &sqlite),
        (Backend::Postgres, &servers.postgres_url),
        (Backend::MariaDb, &servers.mysql_url),
    ] {
        let version = if servers.enabled(backend) {
            match databases::connect(url).await {
                Ok(db) => databases::server_version(&db)
                    .await
                    .unwrap_or_else(|error| format!("? ({error})")),
                Err(error) => format!("unreachable ({error})"),
            }
        } else {
            String::from("skipped")
        };
        table.row(vec![backend.to_string(), version]);
    }
    table
}

/// The value of the first `name : value` line of a `/proc` file.
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim())
}
