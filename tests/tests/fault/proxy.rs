//! A loopback TCP proxy in front of a database server that can refuse new
//! connections, cut the open ones, and stall them (keep them open, pass
//! nothing): the faults a database outage, a failover or a half-dead NAT
//! entry put a client through.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Forwards both ways.
    Pass,
    /// Closes new connections as soon as they are made, and cuts the open
    /// ones: the server is down.
    Refuse,
    /// Keeps the open connections open but forwards nothing on them; new
    /// connections pass.
    Stall,
}

/// A running proxy; stops when dropped.
pub(crate) struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<(Mode, u64)>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watcher) = watch::channel((Mode::Pass, 0));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watcher = watcher.clone();
                let (now, generation) = *watcher.borrow();
                if now == Mode::Refuse {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, watcher.clone(), generation),
                        pump(server_read, client_write, watcher, generation),
                    );
                });
            }
        });
        FaultProxy { addr, mode, accept }
    }

    /// The address to connect to instead of the server's.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `mode`: to new connections, and to the open ones (refusing
    /// cuts them; stalling holds those open now, not later ones; passing
    /// releases them).
    pub(crate) fn set(&self, mode: Mode) {
        self.mode.send_modify(|(now, generation)| {
            *now = mode;
            *generation += 1;
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.set(Mode::Refuse);
    }
}

/// Forwards `from` to `to` until either closes or the proxy cuts them.
/// A connection made at `born` is stalled by a stall set after it.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut mode: watch::Receiver<(Mode, u64)>,
    born: u64,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        // Wait out a stall set after this connection was made.
        loop {
            let (now, generation) = *mode.borrow_and_update();
            match now {
                Mode::Refuse => return,
                Mode::Stall if generation > born => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
                _ => break,
            }
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let Ok(n) = read else { return };
        if n == 0 || to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
