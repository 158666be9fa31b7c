//! One keep-alive HTTP/1.1 connection, used by one task at a time.
//!
//! Plain hyper rather than a pooled client: each worker owns exactly one
//! connection per endpoint and sends its next request only after the last
//! one answered, which is what a connection pool of one would do, with
//! less of the client's CPU spent on a machine the server shares.

use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where requests go: `http://host:port`, loopback only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    authority: String,
}

impl Endpoint {
    /// Parses a base URL. Only plain HTTP to a loopback address is
    /// accepted: the harness sends load, and load stays on this machine.
    pub fn parse(url: &str) -> anyhow::Result<Endpoint> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("{url:?} is not a URL"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "{url:?}: only http:// is supported"
        );
        let authority = uri
            .authority()
            .with_context(|| format!("{url:?} has no host"))?;
        let host = authority.host();
        let loopback = host == "localhost"
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        anyhow::ensure!(
            loopback,
            "{url:?}: the harness only sends load to loopback addresses"
        );
        anyhow::ensure!(
            uri.path() == "/" || uri.path().is_empty(),
            "{url:?}: give the base URL only, without a path"
        );
        let authority = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{}:80", authority.as_str()),
        };
        Ok(Endpoint { authority })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// An answer: the status and the whole body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No answer within the request timeout.
    Timeout,
    /// Connecting, sending or reading failed.
    Io(String),
}

impl TransportError {
    pub fn reason(&self) -> String {
        match self {
            TransportError::Timeout => "transport: timeout".into(),
            TransportError::Io(what) => format!("transport: {what}"),
        }
    }
}

/// A lazily opened connection to one endpoint. A failed request drops it;
/// the next request opens a new one.
pub struct Conn {
    endpoint: Endpoint,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Conn {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> anyhow::Result<Conn> {
        let host = HeaderValue::from_str(endpoint.authority())
            .context("the endpoint is not a valid Host header")?;
        Ok(Conn {
            endpoint,
            host,
            sender: None,
            timeout,
        })
    }

    /// Sends one request and reads the whole answer, within the timeout
    /// (connecting included).
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Response, TransportError> {
        let timeout = self.timeout;
        let attempt = self.send_inner(method, path, idempotency_key, body);
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                self.sender = None;
                Err(error)
            }
            Err(_elapsed) => {
                // The answer may still come on this connection; it must not
                // be read as the answer to the next request.
                self.sender = None;
                Err(TransportError::Timeout)
            }
        }
    }

    async fn send_inner(
        &mut self,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<Bytes>,
    ) -> Result<Response, TransportError> {
        let io = |what: &str, e: &dyn std::fmt::Display| TransportError::Io(format!("{what}: {e}"));
        let host = self.host.clone();
        let sender = self.ready_sender().await?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, host);
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| io("building the request", &e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| io("sending", &e))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| io("reading the body", &e))?
            .to_bytes();
        Ok(Response { status, body })
    }

    /// The connection, opened if needed and ready for a request. A kept
    /// connection that the server closed while idle is replaced once:
    /// nothing was sent on it, so this is not a failed request.
    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, TransportError> {
        if let Some(sender) = self.sender.as_mut() {
            if sender.ready().await.is_err() {
                self.sender = None;
            }
        }
        if self.sender.is_none() {
            self.sender = Some(self.connect().await?);
        }
        match self.sender.as_mut() {
            Some(sender) => Ok(sender),
            None => Err(TransportError::Io("no connection".into())),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let stream = TcpStream::connect(self.endpoint.authority())
            .await
            .map_err(|e| TransportError::Io(format!("connecting: {e}")))?;
        // Requests are small and answered one at a time: Nagle would only
        // add delay.
        stream
            .set_nodelay(true)
            .map_err(|e| TransportError::Io(format!("setting TCP_NODELAY: {e}")))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Io(format!("handshake: {e}")))?;
        // The connection's task ends when the sender is dropped or the
        // server closes the connection.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        sender
            .ready()
            .await
            .map_err(|e| TransportError::Io(format!("connection not ready: {e}")))?;
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_loopback_http_base_urls() {
        let parsed = |url: &str| Endpoint::parse(url).map(|e| e.authority().to_owned()).ok();
        assert_eq!(
            parsed("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080".into())
        );
        assert_eq!(parsed("http://localhost"), Some("localhost:80".into()));
        assert_eq!(parsed("http://[::1]:9999/"), Some("[::1]:9999".into()));
        for bad in [
            "https://127.0.0.1:8080",
            "http://10.0.0.1:8080",
            "http://example.com",
            "http://127.0.0.1:8080/v1",
            "not a url",
        ] {
            assert_eq!(parsed(bad), None, "{bad:?} accepted");
        }
    }
}
