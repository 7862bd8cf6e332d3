//! A server variant in a child process: the hidden `serve` subcommand on the
//! child's side, [`ServerProcess`] on the driver's.
//!
//! The child prints `listening <addr>` once it accepts connections, serves
//! until its standard input closes, then shuts down gracefully (axum first,
//! then the recorder, which writes everything still queued) and prints
//! `shutdown recorded=<n> written=<n> dropped=<n> lost=<n>`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::app::{self, Variant};
use crate::databases::Result;

/// The child's side: serves `variant` until standard input closes.
pub(crate) async fn serve(variant: Variant, database_url: Option<&str>) -> Result<()> {
    let (app, recorder) = app::build(variant, database_url).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        // Requests and responses are small: send them at once.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stdin_closed())
        .await?;
    let (recorded, report) = match recorder {
        Some(recorder) => {
            let report = recorder.shutdown().await;
            (recorder.stats().recorded, report)
        }
        None => (0, Default::default()),
    };
    println!(
        "shutdown recorded={recorded} written={} dropped={} lost={}",
        report.written, report.dropped, report.lost
    );
    Ok(())
}

async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0; 64];
    while let Ok(1..) = stdin.read(&mut buffer).await {}
}

/// What the child's recorder did, read from its last line.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ServerShutdown {
    pub(crate) recorded: u64,
    pub(crate) written: u64,
    pub(crate) dropped: u64,
    pub(crate) lost: u64,
}

/// A server variant running in a child process.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `variant` in a child process and waits until it listens.
    pub(crate) async fn spawn(variant: Variant, database_url: Option<&str>) -> Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["serve", "--variant", variant.name()]);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .map_err(|_| format!("the {} server did not start within 60 s", variant.name()))??
            .ok_or_else(|| format!("the {} server exited before listening", variant.name()))?;
        let addr = line
            .strip_prefix("listening ")
            .ok_or_else(|| format!("unexpected first line from the server: {line:?}"))?
            .parse()?;
        Ok(ServerProcess {
            child,
            stdin,
            stdout,
            addr,
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Closes the child's standard input, waits for its graceful shutdown and
    /// returns what its recorder reported.
    pub(crate) async fn finish(mut self) -> Result<ServerShutdown> {
        drop(self.stdin.take());
        let mut shutdown = None;
        while let Some(line) = self.stdout.next_line().await? {
            if let Some(fields) = line.strip_prefix("shutdown ") {
                shutdown = Some(parse_shutdown(fields)?);
            }
        }
        let status = self.child.wait().await?;
        if !status.success() {
            return Err(format!("the server exited with {status}").into());
        }
        Ok(shutdown.ok_or("the server printed no shutdown report")?)
    }
}

fn parse_shutdown(fields: &str) -> Result<ServerShutdown> {
    let mut report = ServerShutdown::default();
    for field in fields.split_whitespace() {
        let (name, value) = field.split_once('=').ok_or("malformed shutdown report")?;
        let value = value.parse()?;
        match name {
            "recorded" => report.recorded = value,
            "written" => report.written = value,
            "dropped" => report.dropped = value,
            "lost" => report.lost = value,
            _ => {}
        }
    }
    Ok(report)
}
