//! The services' listeners: each binds a loopback port, counts the connections it accepts and
//! holds the first answer on each back by [`crate::Scenario::connect_latency`] (the TCP and TLS
//! handshakes a new connection to a real host costs).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use crate::state::{Service, Shared};

pub(crate) async fn bind() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// A service's listener: counts the connections it accepts, and holds the first answer on each
/// back by [`crate::Scenario::connect_latency`] (the handshakes a new connection costs).
pub(crate) struct Counting {
    pub(crate) listener: tokio::net::TcpListener,
    pub(crate) shared: Arc<Shared>,
    pub(crate) service: Service,
}

impl axum::serve::Listener for Counting {
    type Io = Handshaking;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Handshaking, SocketAddr) {
        let (stream, address) = axum::serve::Listener::accept(&mut self.listener).await;
        *self.shared.recorded().connections.entry(self.service).or_default() += 1;
        let delay = self.shared.scenario().connect_latency;
        let handshake = (!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay)));
        (Handshaking { stream, handshake }, address)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection that reads nothing until its simulated handshake is over.
pub(crate) struct Handshaking {
    stream: tokio::net::TcpStream,
    handshake: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl tokio::io::AsyncRead for Handshaking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(handshake) = &mut self.handshake {
            ready!(handshake.as_mut().poll(cx));
            self.handshake = None;
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Handshaking {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Instant;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use crate::{Scenario, Service, Simulator};

    /// One HTTP/1.1 exchange on `stream` (kept alive): the SSO's answer to an empty form.
    async fn exchange(stream: &mut tokio::net::TcpStream) -> std::time::Duration {
        let started = Instant::now();
        stream.write_all(b"POST /sso/oauth2/token HTTP/1.1\r\nhost: sim\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        loop {
            let mut chunk = [0; 4096];
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "the connection closed");
            answer.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&answer).to_lowercase();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap();
                if body.len() >= length.trim().parse::<usize>().unwrap() {
                    assert!(head.starts_with("http/1.1 400"), "{head}");
                    return started.elapsed();
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn latency_delays_every_answer_and_a_new_connection_more_and_connections_are_counted() {
        let mut scenario = Scenario::generate(&crate::Generate { accounts: 1, days: 1, ..crate::Generate::default() });
        scenario.latency = std::time::Duration::from_millis(40);
        scenario.connect_latency = std::time::Duration::from_millis(120);
        let sim = Simulator::start(scenario).await.unwrap();
        let address = sim.sso_url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
        let mut first = tokio::net::TcpStream::connect(&address).await.unwrap();
        let (opening, again) = (exchange(&mut first).await, exchange(&mut first).await);
        assert!(opening >= std::time::Duration::from_millis(160), "{opening:?}");
        assert!(again >= std::time::Duration::from_millis(40), "{again:?}");
        assert!(again < std::time::Duration::from_millis(160), "{again:?}: the handshake is paid once");
        assert_eq!(sim.connection_count(), 1);
        let mut second = tokio::net::TcpStream::connect(&address).await.unwrap();
        assert!(exchange(&mut second).await >= std::time::Duration::from_millis(160));
        assert_eq!(sim.connections(), HashMap::from([(Service::Sso, 2)]));
        assert_eq!(sim.request_count(), 3);
    }
}
