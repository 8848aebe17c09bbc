//! Client connections of the tokio lanes: a stream to a `Target` of any kind
//! (`with_stream!`), the TLS client configuration, and reading the next item
//! of a `Framed`.

use futures::Stream;
use ipc_transport::tls::TlsClientConfig;

use super::common::{Res, TlsFiles};

/// Runs `$body` with `$s` bound to a fresh connection to `$target`.
macro_rules! with_stream {
    ($target:expr, $tls:expr, |$s:ident| $body:expr) => {
        match $target {
            $crate::harness::common::Target::Unix(path) => {
                let $s = ::ipc_transport::local::LocalStream::connect(path).await?;
                $body
            }
            $crate::harness::common::Target::Tcp(addr) => {
                let $s = ::ipc_transport::tcp::TcpStream::connect_addr(*addr, &Default::default()).await?;
                $body
            }
            $crate::harness::common::Target::Tls(addr) => {
                let config = $crate::harness::connect::tls_client($tls)?;
                let $s = ::ipc_transport::tls::TlsStream::connect("127.0.0.1", addr.port(), &config).await?;
                $body
            }
            $crate::harness::common::Target::Udp(_) => return Err("not a stream target".into()),
        }
    };
}
pub(crate) use with_stream;

/// The TLS client side of the tokio lanes: trusts the harness's throw-away CA,
/// expects the server certificate's name `localhost`.
pub(crate) fn tls_client(tls: Option<&TlsFiles>) -> Res<TlsClientConfig> {
    let tls = tls.ok_or("no TLS files")?;
    Ok(TlsClientConfig::new().trusted_connections([&tls.ca]).server_name("localhost"))
}

/// The stream half of a `Framed`, for clients: the next item, or an error at end of stream.
pub(crate) async fn next_item<T, E>(stream: &mut (impl Stream<Item = Result<T, E>> + Unpin)) -> Res<T>
where
    E: std::fmt::Display,
{
    use futures::StreamExt;
    match stream.next().await {
        Some(Ok(item)) => Ok(item),
        Some(Err(e)) => Err(e.to_string().into()),
        None => Err("the server closed the connection".into()),
    }
}
