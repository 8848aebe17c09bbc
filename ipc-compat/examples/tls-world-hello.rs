//! node-ipc's TLS example (`example/TLSSocket/basic`), both sides in one
//! process: certificates are made at run time (a CA and a server certificate
//! for localhost and 127.0.0.1, written as PEM files to a temp dir, as
//! node-ipc's `tls.private` / `tls.public` / `tls.trustedConnections` name them);
//! `world` serves TLS on 127.0.0.1:8000, `hello` connects and verifies it.
//!
//! ```sh
//! cargo run -p ipc-compat --example tls-world-hello
//! ```

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipc_compat::{Ipc, TlsConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use tokio::sync::Notify;

/// Writes `ca.pub`, `server.key` and `server.pub` into `dir`.
fn certificates(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "node-ipc example CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
    server.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    let server = server.signed_by(&key, &ca, &ca_key)?;
    let write = |name: &str, pem: String| {
        let path = dir.join(name);
        std::fs::write(&path, pem).map(|()| path)
    };
    let io = |e: std::io::Error| rcgen::Error::PemError(e.to_string());
    Ok((
        write("ca.pub", ca.pem()).map_err(io)?,
        write("server.key", key.serialize_pem()).map_err(io)?,
        write("server.pub", server.pem()).map_err(io)?,
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let (ca, key, cert) = certificates(dir.path())?;

    // ipc.config.tls = {public, private}; ipc.serveNet(...)
    let mut config = common::config("world");
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.private = Some(key);
        tls.public = Some(cert);
        tls
    });
    let ipc = Ipc::new(config);
    let server = ipc.serve_net(None, None, None)?;
    common::world(&ipc, &server);
    server.start().await?;

    // ipc.config.tls = {trustedConnections: [ca], rejectUnauthorized: true}; ipc.connectToNet('world', ...)
    let mut config = common::config("hello");
    config.tls = Some({
        let mut tls = TlsConfig::default();
        tls.trusted_connections = vec![ca];
        tls.reject_unauthorized = Some(true);
        tls
    });
    let hello = Ipc::new(config);
    let done = Arc::new(Notify::new());
    hello.connect_to_net_with("world", None, None, |world| common::hello(&hello, world, done.clone()))?;
    common::wait(&done, 10).await?;
    hello.disconnect("world");
    server.stop().await;
    Ok(())
}
