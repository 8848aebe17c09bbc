//! Certificates made at run time with rcgen, written as PEM files into a temp
//! dir: a CA, a server certificate (localhost, 127.0.0.1, ::1) and a client
//! certificate it signed, and a second, unrelated CA with a client of its own.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The PEM files of a test PKI; deleted with `dir`.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_key: PathBuf,
    pub server_cert: PathBuf,
    pub client_key: PathBuf,
    pub client_cert: PathBuf,
    pub other_ca: PathBuf,
    pub other_client_key: PathBuf,
    pub other_client_cert: PathBuf,
}

fn ca(name: &str) -> (Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    (params.self_signed(&key).unwrap(), key)
}

fn leaf(name: &str, server: bool, issuer: &(Certificate, KeyPair)) -> (Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    params.subject_alt_names.push(SanType::IpAddress("::1".parse().unwrap()));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages =
        vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
    (params.signed_by(&key, &issuer.0, &issuer.1).unwrap(), key)
}

fn write(dir: &Path, name: &str, pem: String) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// Makes a fresh PKI.
pub fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = ca("ipc-transport test CA");
    let other = ca("some other CA");
    let server = leaf("server", true, &root);
    let client = leaf("client", false, &root);
    let stranger = leaf("stranger", false, &other);
    Pki {
        ca: write(d, "ca.pem", root.0.pem()),
        server_key: write(d, "server.key", server.1.serialize_pem()),
        server_cert: write(d, "server.pem", server.0.pem()),
        client_key: write(d, "client.key", client.1.serialize_pem()),
        client_cert: write(d, "client.pem", client.0.pem()),
        other_ca: write(d, "other-ca.pem", other.0.pem()),
        other_client_key: write(d, "other-client.key", stranger.1.serialize_pem()),
        other_client_cert: write(d, "other-client.pem", stranger.0.pem()),
        dir,
    }
}
