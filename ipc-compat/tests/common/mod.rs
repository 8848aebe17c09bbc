//! Helpers shared by ipc-compat's behaviour and interop tests.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc_compat::{Config, Lifecycle, Subscription};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

/// How long any single await of a test may take.
pub const STEP: Duration = Duration::from_secs(15);

/// Awaits `fut`, failing the test after [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {STEP:?} waiting for {what}"),
    }
}

/// A silent 9.x config whose socket root is `dir`.
pub fn v9(dir: &Path) -> Config {
    let mut c = Config::v9();
    c.silent = true;
    c.socket_root = format!("{}/", dir.display());
    c.retry = Duration::from_millis(50);
    c
}

/// A silent 14.x config whose socket root is `dir/root/`.
pub fn v14(dir: &Path) -> Config {
    let mut c = Config::v14();
    c.silent = true;
    c.socket_root = format!("{}/root/", dir.display());
    c.retry = Duration::from_millis(50);
    c
}

/// The name of the next lifecycle event that is not `error` (errors are returned too when `errors`).
pub async fn next_lifecycle<P: Clone + Send + Sync + 'static>(
    sub: &mut Subscription<Lifecycle<P>>,
) -> Lifecycle<P> {
    within("a lifecycle event", sub.recv()).await.expect("lifecycle stream ended")
}

/// Waits for the lifecycle event called `name`, returning it and the names seen before it.
pub async fn wait_lifecycle<P: Clone + Send + Sync + 'static>(
    sub: &mut Subscription<Lifecycle<P>>,
    name: &str,
) -> (Lifecycle<P>, Vec<&'static str>) {
    let mut seen = Vec::new();
    loop {
        let event = next_lifecycle(sub).await;
        if event.name() == name {
            return (event, seen);
        }
        seen.push(event.name());
    }
}

/// A test PKI as PEM files: a CA, a server certificate for localhost,
/// 127.0.0.1 and ::1, and a client certificate, all signed by the CA.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_key: PathBuf,
    pub server_cert: PathBuf,
    pub client_key: PathBuf,
    pub client_cert: PathBuf,
}

pub fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "ipc-compat test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca.self_signed(&ca_key).unwrap();
    let leaf = |server: bool| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.subject_alt_names.push(SanType::IpAddress("::1".parse().unwrap()));
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        (params.signed_by(&key, &ca, &ca_key).unwrap(), key)
    };
    let (server, server_key) = leaf(true);
    let (client, client_key) = leaf(false);
    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        server_key: write("server.key", server_key.serialize_pem()),
        server_cert: write("server.pub", server.pem()),
        client_key: write("client.key", client_key.serialize_pem()),
        client_cert: write("client.pub", client.pem()),
        dir,
    }
}

/// `connect_to` with a lifecycle subscription made before the client starts.
pub fn watched(
    ipc: &ipc_compat::Ipc,
    id: &str,
    path: Option<&Path>,
) -> (ipc_compat::Client, Subscription<Lifecycle<ipc_compat::Client>>) {
    let mut life = None;
    let client = ipc.connect_to_with(id, path, |c| life = Some(c.lifecycle(256))).unwrap();
    (client, life.unwrap())
}
