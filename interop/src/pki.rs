//! A throwaway PKI for TLS tests: certificates made now with rcgen and written
//! as PEM files (node-ipc's `tls.private`, `tls.public`, `tls.trustedConnections`)
//! into a temp dir.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// The PEM files of a test PKI, deleted with [`dir`](Pki::dir).
///
/// A CA signed a server and a client certificate, and the same two again
/// already expired (valid during 2020 only); an unrelated CA signed a client
/// certificate of its own. Every leaf is for `localhost`, `127.0.0.1` and
/// `::1`, with the server or client usage its name says.
///
/// ```
/// let pki = interop::pki();
/// let ca = std::fs::read_to_string(&pki.ca).unwrap();
/// assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
/// ```
#[derive(Debug)]
pub struct Pki {
    /// The CA that signed the server and client certificates.
    pub ca: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
    /// The server's certificate.
    pub server_cert: PathBuf,
    /// The client's private key.
    pub client_key: PathBuf,
    /// The client's certificate.
    pub client_cert: PathBuf,
    /// The private key of an expired server certificate.
    pub expired_server_key: PathBuf,
    /// A server certificate from [`ca`](Pki::ca) that expired in 2021.
    pub expired_server_cert: PathBuf,
    /// The private key of an expired client certificate.
    pub expired_client_key: PathBuf,
    /// A client certificate from [`ca`](Pki::ca) that expired in 2021.
    pub expired_client_cert: PathBuf,
    /// A CA that has nothing to do with [`ca`](Pki::ca).
    pub other_ca: PathBuf,
    /// The private key of a client certificate from [`other_ca`](Pki::other_ca).
    pub other_client_key: PathBuf,
    /// A client certificate from [`other_ca`](Pki::other_ca).
    pub other_client_cert: PathBuf,
    /// The directory holding the files; dropping it deletes them.
    pub dir: tempfile::TempDir,
}

/// Makes a fresh [`Pki`].
///
/// # Panics
///
/// When a key cannot be made or a file cannot be written.
pub fn pki() -> Pki {
    Pki::generate().unwrap_or_else(|e| panic!("cannot make the test PKI: {e}"))
}

type Issuer = (Certificate, KeyPair);

impl Pki {
    /// Makes a fresh PKI in a new temp dir.
    pub fn generate() -> io::Result<Pki> {
        let dir = tempfile::Builder::new().prefix("interop-pki-").tempdir()?;
        let d = dir.path();
        let root = ca("interop test CA")?;
        let other = ca("some other CA")?;
        let (server, server_key) = leaf(&root, "server", true, false)?;
        let (client, client_key) = leaf(&root, "client", false, false)?;
        let (old_server, old_server_key) = leaf(&root, "expired server", true, true)?;
        let (old_client, old_client_key) = leaf(&root, "expired client", false, true)?;
        let (stranger, stranger_key) = leaf(&other, "stranger", false, false)?;
        Ok(Pki {
            ca: write(d, "ca.pem", root.0.pem())?,
            server_key: write(d, "server.key", server_key.serialize_pem())?,
            server_cert: write(d, "server.pem", server.pem())?,
            client_key: write(d, "client.key", client_key.serialize_pem())?,
            client_cert: write(d, "client.pem", client.pem())?,
            expired_server_key: write(d, "expired-server.key", old_server_key.serialize_pem())?,
            expired_server_cert: write(d, "expired-server.pem", old_server.pem())?,
            expired_client_key: write(d, "expired-client.key", old_client_key.serialize_pem())?,
            expired_client_cert: write(d, "expired-client.pem", old_client.pem())?,
            other_ca: write(d, "other-ca.pem", other.0.pem())?,
            other_client_key: write(d, "other-client.key", stranger_key.serialize_pem())?,
            other_client_cert: write(d, "other-client.pem", stranger.pem())?,
            dir,
        })
    }
}

fn rcgen_error(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("rcgen: {e}"))
}

fn ca(name: &str) -> io::Result<Issuer> {
    let key = KeyPair::generate().map_err(rcgen_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok((params.self_signed(&key).map_err(rcgen_error)?, key))
}

fn leaf(issuer: &Issuer, name: &str, server: bool, expired: bool) -> io::Result<(Certificate, KeyPair)> {
    let key = KeyPair::generate().map_err(rcgen_error)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(rcgen_error)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    Ok((params.signed_by(&key, &issuer.0, &issuer.1).map_err(rcgen_error)?, key))
}

fn write(dir: &Path, name: &str, pem: String) -> io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, pem)?;
    Ok(path)
}
