//! An HTTP/1.1 load generator: a fixed number of keep-alive connections, each
//! sending requests back to back for a fixed time, with latencies in an HDR
//! histogram and every response status counted.
//!
//! The client shares the machine's cores with the server, so it should take
//! as little of them as it can, as wrk does: each connection is one task that
//! writes prepared request bytes and parses the response head in place
//! (`httparse`), reading the body by its `Content-Length`. That is all the
//! HTTP the benchmarked servers speak (no chunked bodies, no pipelining).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What to send, how hard and for how long.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LoadConfig {
    /// The server.
    pub(crate) addr: SocketAddr,
    /// Concurrent keep-alive connections.
    pub(crate) connections: usize,
    /// Requests completed before this long are sent but not measured.
    pub(crate) warmup: Duration,
    /// How long the measured part lasts.
    pub(crate) duration: Duration,
}

/// What a load run saw.
#[derive(Debug)]
pub(crate) struct LoadReport {
    /// Requests completed in the measured window, per second.
    pub(crate) requests_per_second: f64,
    /// Latency of the requests completed in the measured window, in
    /// microseconds.
    pub(crate) latency_us: Histogram<u64>,
    /// Requests completed in the measured window.
    pub(crate) measured: u64,
    /// 2xx responses over the whole run, warmup included.
    pub(crate) ok: u64,
    /// Responses with another status, warmup included.
    pub(crate) not_ok: u64,
    /// Requests that failed at the connection level (their outcome on the
    /// server is unknown).
    pub(crate) errors: u64,
}

impl LoadReport {
    /// A latency percentile in milliseconds.
    pub(crate) fn latency_ms(&self, percentile: f64) -> f64 {
        self.latency_us.value_at_quantile(percentile / 100.0) as f64 / 1_000.0
    }
}

struct ConnectionReport {
    measured: u64,
    latency_us: Histogram<u64>,
    ok: u64,
    not_ok: u64,
    errors: u64,
}

/// Runs the load and returns what it saw. Every connection alternates a JSON
/// `POST /items` with a `GET /items/{id}` of the item it created last.
///
/// A request is measured when it completes inside the measured window, so the
/// rate is completions per second of that window; the requests still in flight
/// when it closes are answered (and counted as 2xx or not) but not measured.
pub(crate) async fn run(config: LoadConfig) -> LoadReport {
    let start = Instant::now();
    let window = Window {
        from: start + config.warmup,
        to: start + config.warmup + config.duration,
    };
    let tasks: Vec<_> = (0..config.connections)
        .map(|n| tokio::spawn(connection(config.addr, n, window)))
        .collect();
    let mut report = LoadReport {
        requests_per_second: 0.0,
        latency_us: new_histogram(),
        measured: 0,
        ok: 0,
        not_ok: 0,
        errors: 0,
    };
    for task in tasks {
        let connection = task.await.expect("a load connection task panicked");
        report.measured += connection.measured;
        report.ok += connection.ok;
        report.not_ok += connection.not_ok;
        report.errors += connection.errors;
        report
            .latency_us
            .add(&connection.latency_us)
            .expect("histograms of the same bounds");
    }
    report.requests_per_second = report.measured as f64 / config.duration.as_secs_f64();
    report
}

/// A latency histogram from 1 µs to 60 s, three significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

/// The body of every create request.
const NEW_ITEM: &str = r#"{"name":"widget","price":12}"#;

async fn connection(addr: SocketAddr, n: usize, window: Window) -> ConnectionReport {
    let mut report = ConnectionReport {
        measured: 0,
        latency_us: new_histogram(),
        ok: 0,
        not_ok: 0,
        errors: 0,
    };
    let create_request = format!(
        "POST /items HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: activity-bench/1\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{NEW_ITEM}",
        NEW_ITEM.len()
    );
    let mut read_request = Vec::with_capacity(128);
    let mut client: Option<Client> = None;
    let mut last_id = String::from("1");
    let mut create = n.is_multiple_of(2);
    while Instant::now() < window.to {
        let Some(connected) = client.as_mut() else {
            match TcpStream::connect(addr).await.and_then(|stream| {
                stream.set_nodelay(true)?;
                Ok(stream)
            }) {
                Ok(stream) => client = Some(Client::new(stream)),
                Err(_) => {
                    report.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            continue;
        };
        let request = if create {
            create_request.as_bytes()
        } else {
            read_request.clear();
            let _ = std::io::Write::write_fmt(
                &mut read_request,
                format_args!(
                    "GET /items/{last_id} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: activity-bench/1\r\n\r\n"
                ),
            );
            read_request.as_slice()
        };
        let sent = Instant::now();
        let outcome = connected.exchange(request).await;
        let done = Instant::now();
        match outcome {
            Ok((status, body)) => {
                if (200..300).contains(&status) {
                    report.ok += 1;
                    if create && let Some(id) = created_id(connected.body(body)) {
                        last_id = id;
                    }
                } else {
                    report.not_ok += 1;
                }
                if done >= window.from && done < window.to {
                    report.measured += 1;
                    let micros = u64::try_from((done - sent).as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    let _ = report.latency_us.record(micros);
                }
            }
            Err(_) => {
                report.errors += 1;
                client = None;
            }
        }
        create = !create;
    }
    report
}

/// One keep-alive connection and its read buffer.
struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    fn new(stream: TcpStream) -> Self {
        Client {
            stream,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Sends `request` and reads the whole response: its status, and where
    /// its body sits in the buffer.
    async fn exchange(&mut self, request: &[u8]) -> io::Result<(u16, std::ops::Range<usize>)> {
        self.stream.write_all(request).await?;
        self.buffer.clear();
        loop {
            if let Some((status, head, length)) = parse_head(&self.buffer)? {
                let end = head + length;
                while self.buffer.len() < end {
                    self.read_more().await?;
                }
                if self.buffer.len() > end {
                    return Err(io::Error::other(
                        "bytes after the response: the server pipelined?",
                    ));
                }
                return Ok((status, head..end));
            }
            self.read_more().await?;
        }
    }

    fn body(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.buffer[range]
    }

    async fn read_more(&mut self) -> io::Result<()> {
        if self.buffer.capacity() - self.buffer.len() < 1024 {
            self.buffer.reserve(4096);
        }
        if self.stream.read_buf(&mut self.buffer).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// The status, head length and body length of the response at the start of
/// `buffer`, once its head is complete.
fn parse_head(buffer: &[u8]) -> io::Result<Option<(u16, usize, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buffer).map_err(io::Error::other)? {
        httparse::Status::Complete(head) => head,
        httparse::Status::Partial => return Ok(None),
    };
    let mut length = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).map_err(io::Error::other)?;
            length = Some(text.trim().parse::<usize>().map_err(io::Error::other)?);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(io::Error::other("chunked responses are not supported"));
        }
    }
    let status = response.code.ok_or_else(|| io::Error::other("no status"))?;
    Ok(Some((status, head, length.unwrap_or(0))))
}

/// The `id` of a created item's JSON, without a JSON parser on the hot path.
fn created_id(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let rest = &text[text.find("\"id\":")? + 5..];
    let end = rest.find([',', '}'])?;
    Some(rest[..end].trim().trim_matches('"').to_owned())
}
