//! A coalition's certificates, made for the test: a CA, and certificates signed by it for the
//! router and each site, written as PEM files into a directory of the test's own.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// One site's certificate and key files.
#[derive(Debug, Clone)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A certificate authority and the directory its files go to.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A new CA named `name`, its certificate written to `dir/<name>.pem`.
    pub fn new(dir: &Path, name: &str) -> Self {
        std::fs::create_dir_all(dir).expect("certificate directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA");
        let ca = dir.join(format!("{name}.pem"));
        std::fs::write(&ca, issuer.pem()).expect("write CA");
        Self {
            dir: dir.to_path_buf(),
            ca,
            issuer,
        }
    }

    /// A certificate with common name `cn`, valid for 127.0.0.1 and localhost (so it may serve
    /// as a router's), for server and client authentication.
    pub fn issue(&self, cn: &str) -> Identity {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .expect("params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::NoCa;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        let id = Identity {
            cert: self.dir.join(format!("{cn}.pem")),
            key: self.dir.join(format!("{cn}-key.pem")),
        };
        std::fs::write(&id.cert, cert.pem()).expect("write cert");
        std::fs::write(&id.key, key.serialize_pem()).expect("write key");
        id
    }
}
