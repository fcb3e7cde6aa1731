//! Certificate mode (公钥证书): the three files an app in this mode downloads from the console,
//! and their serial numbers (SNs) computed as the official SDKs compute them.
//!
//! - `alipayRootCert.crt`, the root file: the simulator's roots, the same for every app and
//!   seed, as Alipay's root file is the same for every app. Like Alipay's, it holds several
//!   certificates of several algorithms: `R1` (RSA 2048, sha256WithRSAEncryption, the issuer of
//!   every app's certificates), `E1` (ECDSA P-256, ecdsa-with-SHA256: it stands in for the
//!   ECC and SM2 roots of the real file, which the root SN leaves out) and `R2` (R1's key
//!   renewed under another name and serial, so that the root SN has two parts, as the real
//!   one does).
//! - `alipayCertPublicKey_RSA2.crt`: the Alipay public-key certificate. It carries the app's
//!   existing Alipay public key, byte for byte, so an envelope verifies alike in key mode and
//!   in certificate mode (spec §5.1: signing and content are unchanged).
//! - `appCertPublicKey_<app_id>.crt`: the app certificate, of the app's own key pair (应用公钥,
//!   `AppKeys::app_key`), whose private key signs the app's gateway requests; the phone flow's
//!   SDKs take its SN only.
//!
//! Everything is deterministic: keys come from [`seeded_rng`], validity dates from the seed,
//! serial numbers from the seed and the app id, and both signatures are deterministic (RSA
//! PKCS#1 v1.5, and ECDSA with RFC 6979 nonces), so the same seed and app id give the same files
//! byte for byte on any machine.
//!
//! SN rules (shared spec, gateway login §5; Node `antcertutil.ts` `getCertSN`, `getRootCertSN`):
//! a certificate's SN is the lowercase hex MD5 of its issuer's attributes in reverse order,
//! written `shortName=value` and joined with `,`, followed by its serial number in decimal; the
//! root SN joins with `_` the SNs of the root file's certificates whose signature algorithm OID
//! starts with `1.2.840.113549.1.1` (RSA).

use std::sync::OnceLock;

use md5::{Digest, Md5};
use rcgen::string::PrintableString;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, IsCa, Issuer,
    KeyIdMethod, KeyUsagePurpose, PublicKeyData, SerialNumber, SignatureAlgorithm,
};
use rsa::pkcs8::SubjectPublicKeyInfoRef;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime};

use crate::crypto::{b64, unb64, CryptoError, PublicKey, SignatureHash, SigningKey};
use crate::seed::seeded_rng;

/// The root file's name, as in the SDKs' configuration samples.
pub const ROOT_CERT_FILE: &str = "alipayRootCert.crt";
/// The Alipay public-key certificate's file name, as in the SDKs' configuration samples.
pub const ALIPAY_CERT_FILE: &str = "alipayCertPublicKey_RSA2.crt";

/// The app certificate's file name, as in the SDKs' configuration samples.
pub fn app_cert_file(app_id: &str) -> String {
    format!("appCertPublicKey_{app_id}.crt")
}

/// The certificate mode's files and SNs, as an app downloads them and configures an SDK with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Certificates {
    /// `appCertPublicKey_<app_id>.crt` (PEM): the app certificate (`appCertContent` in Node).
    pub app_cert: String,
    /// `alipayCertPublicKey_RSA2.crt` (PEM): the Alipay public key, in a certificate
    /// (`alipayPublicCertContent` in Node).
    pub alipay_cert: String,
    /// `alipayRootCert.crt` (PEM, several certificates): the root file
    /// (`alipayRootCertContent` in Node).
    pub alipay_root_cert: String,
    /// The app certificate's SN (`app_cert_sn` of gateway requests).
    pub app_cert_sn: String,
    /// The Alipay certificate's SN (`alipay_cert_sn` of gateway responses).
    pub alipay_cert_sn: String,
    /// The root file's SN: the SNs of its RSA-signed certificates, joined with `_`
    /// (`alipay_root_cert_sn` of gateway requests).
    pub alipay_root_cert_sn: String,
}

/// Issues the certificate files of app `app_id` whose Alipay public key is `alipay_public_key`;
/// `seed` fixes the app key pair and the validity dates, `seed` and `app_id` the serial numbers.
/// Generates an RSA key
/// (a fraction of a second), and the roots' keys on the first call of the process.
pub fn issue(
    app_id: &str,
    alipay_public_key: &PublicKey,
    app_public_key: &PublicKey,
    seed: u64,
) -> Result<Certificates, CryptoError> {
    let roots = roots()?;
    let issuer_signer = RsaSigner::new(&roots.rsa_key)?;
    let issuer = Issuer::from_params(&roots.r1, &issuer_signer);

    // Serial numbers follow the app id too: two apps of one seed get certificates of their own.
    let alipay_serial = serial(seed, &format!("certs/alipay-serial/{app_id}"));
    let alipay_public = RsaPublic::new(alipay_public_key)?;
    let alipay_cert = leaf(
        &[
            (Attr::C, "CN"),
            (Attr::O, ORGANISATION),
            (Attr::Ou, "Alipay"),
            (Attr::Cn, &format!("Alipay public key of {app_id}")),
        ],
        &alipay_serial,
        validity(seed, "certs/alipay-validity")?,
        &alipay_public,
    )?
    .signed_by(&alipay_public, &issuer)
    .map_err(cert_error)?;

    let app_serial = serial(seed, &format!("certs/app-serial/{app_id}"));
    let app_public = RsaPublic::new(app_public_key)?;
    let app_cert = leaf(
        &[
            (Attr::C, "CN"),
            (Attr::O, ORGANISATION),
            (Attr::Ou, "Alipay"),
            (Attr::Cn, app_id),
        ],
        &app_serial,
        validity(seed, "certs/app-validity")?,
        &app_public,
    )?
    .signed_by(&app_public, &issuer)
    .map_err(cert_error)?;

    Ok(Certificates {
        app_cert: pem(app_cert.der()),
        alipay_cert: pem(alipay_cert.der()),
        alipay_root_cert: roots.file.clone(),
        app_cert_sn: cert_sn(R1_NAME, &app_serial),
        alipay_cert_sn: cert_sn(R1_NAME, &alipay_serial),
        alipay_root_cert_sn: roots.sn.clone(),
    })
}

/// The attributes of a name this module writes, with the short names the SDKs print.
#[derive(Debug, Clone, Copy)]
enum Attr {
    C,
    O,
    Ou,
    Cn,
}

impl Attr {
    fn short_name(self) -> &'static str {
        match self {
            Attr::C => "C",
            Attr::O => "O",
            Attr::Ou => "OU",
            Attr::Cn => "CN",
        }
    }

    fn dn_type(self) -> DnType {
        match self {
            Attr::C => DnType::CountryName,
            Attr::O => DnType::OrganizationName,
            Attr::Ou => DnType::OrganizationalUnitName,
            Attr::Cn => DnType::CommonName,
        }
    }
}

/// A name, its attributes in the order they are written (`C`, `O`, `OU`, `CN`).
type Name<'a> = [(Attr, &'a str)];

const ORGANISATION: &str = "alipay-sim";
const R1_NAME: &Name<'static> = &[
    (Attr::C, "CN"),
    (Attr::O, ORGANISATION),
    (Attr::Ou, "Certification Authority"),
    (Attr::Cn, "alipay-sim Root CA R1"),
];
const E1_NAME: &Name<'static> = &[
    (Attr::C, "CN"),
    (Attr::O, ORGANISATION),
    (Attr::Ou, "Certification Authority"),
    (Attr::Cn, "alipay-sim Root CA E1"),
];
const R2_NAME: &Name<'static> = &[
    (Attr::C, "CN"),
    (Attr::O, ORGANISATION),
    (Attr::Ou, "Certification Authority"),
    (Attr::Cn, "alipay-sim Root CA R2"),
];

/// The roots' keys and serials are the simulator's, not a seed's: this seed and these purposes.
const ROOT_SEED: u64 = 0;

fn distinguished_name(name: &Name<'_>) -> Result<DistinguishedName, CryptoError> {
    let mut dn = DistinguishedName::new();
    for &(attr, value) in name {
        let value = match attr {
            // Country codes are PrintableString (RFC 5280 appendix A).
            Attr::C => DnValue::PrintableString(
                PrintableString::try_from(value).map_err(|e| cert_error_text(e.to_string()))?,
            ),
            _ => DnValue::Utf8String(value.to_string()),
        };
        dn.push(attr.dn_type(), value);
    }
    Ok(dn)
}

/// A certificate's SN as the SDKs compute it from its issuer's name and its serial number.
fn cert_sn(issuer: &Name<'_>, serial: &[u8]) -> String {
    let principal: Vec<String> = issuer
        .iter()
        .rev()
        .map(|(attr, value)| format!("{}={value}", attr.short_name()))
        .collect();
    let mut padded = [0u8; 16];
    padded[16 - serial.len()..].copy_from_slice(serial);
    let decimal = u128::from_be_bytes(padded);
    format!(
        "{:x}",
        Md5::digest(format!("{}{decimal}", principal.join(",")).as_bytes())
    )
}

/// A positive serial number of 16 bytes, drawn for one purpose of a seed: the first byte is
/// 1 to 127, so the DER integer is exactly these bytes.
fn serial(seed: u64, purpose: &str) -> [u8; 16] {
    use rand_chacha::rand_core::RngCore;
    let mut bytes = [0u8; 16];
    seeded_rng(seed, purpose).fill_bytes(&mut bytes);
    bytes[0] = bytes[0] % 127 + 1;
    bytes
}

/// Ten years from a day of 2025 drawn from the seed, from midnight UTC.
fn validity(seed: u64, purpose: &str) -> Result<(OffsetDateTime, OffsetDateTime), CryptoError> {
    use rand_chacha::rand_core::RngCore;
    let day = seeded_rng(seed, purpose).next_u32() % 365;
    let start = midnight(2025, Month::January, 1)? + Duration::days(day.into());
    // 2025 and 2035 have no 29 February, so the same day exists ten years on.
    let end = start
        .replace_year(start.year() + 10)
        .map_err(|e| cert_error_text(e.to_string()))?;
    Ok((start, end))
}

fn midnight(year: i32, month: Month, day: u8) -> Result<OffsetDateTime, CryptoError> {
    Date::from_calendar_date(year, month, day)
        .map(|date| date.midnight().assume_utc())
        .map_err(|e| cert_error_text(e.to_string()))
}

/// An end-entity certificate's parameters, for signatures, with its and its issuer's key ids.
fn leaf(
    name: &Name<'_>,
    serial: &[u8],
    (not_before, not_after): (OffsetDateTime, OffsetDateTime),
    subject: &RsaPublic,
) -> Result<CertificateParams, CryptoError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name)?;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_id(subject.der_bytes()));
    Ok(params)
}

/// RFC 5280's key identifier, method 1: the SHA-1 of the subject public key's bits.
fn key_id(public_key_bits: &[u8]) -> Vec<u8> {
    use sha1::Digest as _;
    sha1::Sha1::digest(public_key_bits).to_vec()
}

/// A self-signed root's parameters.
fn root_params(
    name: &Name<'_>,
    serial: &[u8],
    public_key_bits: &[u8],
    not_before: OffsetDateTime,
) -> Result<CertificateParams, CryptoError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(name)?;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = not_before;
    params.not_after = midnight(2049, Month::December, 31)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_id(public_key_bits));
    Ok(params)
}

/// The simulator's roots: R1's key and parameters (the issuer of every app's certificates),
/// and the root file with its SN.
struct Roots {
    rsa_key: SigningKey,
    r1: CertificateParams,
    file: String,
    sn: String,
}

fn roots() -> Result<&'static Roots, CryptoError> {
    static ROOTS: OnceLock<Result<Roots, CryptoError>> = OnceLock::new();
    ROOTS.get_or_init(make_roots).as_ref().map_err(Clone::clone)
}

fn make_roots() -> Result<Roots, CryptoError> {
    let rsa_key = SigningKey::generate(&mut seeded_rng(ROOT_SEED, "certs/root-rsa-key"))?;
    let rsa = RsaSigner::new(&rsa_key)?;
    let ecdsa = EcdsaSigner::new(p256::ecdsa::SigningKey::random(&mut seeded_rng(
        ROOT_SEED,
        "certs/root-ecdsa-key",
    )));

    let r1_serial = serial(ROOT_SEED, "certs/root-r1-serial");
    let e1_serial = serial(ROOT_SEED, "certs/root-e1-serial");
    let r2_serial = serial(ROOT_SEED, "certs/root-r2-serial");
    let r1 = root_params(
        R1_NAME,
        &r1_serial,
        rsa.der_bytes(),
        midnight(2020, Month::January, 1)?,
    )?;
    let e1 = root_params(
        E1_NAME,
        &e1_serial,
        ecdsa.der_bytes(),
        midnight(2020, Month::January, 1)?,
    )?;
    let r2 = root_params(
        R2_NAME,
        &r2_serial,
        rsa.der_bytes(),
        midnight(2025, Month::January, 1)?,
    )?;
    let file = [
        pem(r1.self_signed(&rsa).map_err(cert_error)?.der()),
        pem(e1.self_signed(&ecdsa).map_err(cert_error)?.der()),
        pem(r2.self_signed(&rsa).map_err(cert_error)?.der()),
    ]
    .concat();
    // R1 and R2 are signed with RSA; E1, with ECDSA, is not counted.
    let sn = [cert_sn(R1_NAME, &r1_serial), cert_sn(R2_NAME, &r2_serial)].join("_");
    Ok(Roots {
        rsa_key,
        r1,
        file,
        sn,
    })
}

/// An RSA public key as rcgen writes it: the PKCS #1 `RSAPublicKey` inside the
/// SubjectPublicKeyInfo, under rsaEncryption.
struct RsaPublic {
    bits: Vec<u8>,
}

impl RsaPublic {
    fn new(key: &PublicKey) -> Result<Self, CryptoError> {
        let spki = unb64("public key", &key.to_base64())?;
        let info =
            SubjectPublicKeyInfoRef::try_from(spki.as_slice()).map_err(|e| CryptoError::Key {
                what: "public key",
                detail: e.to_string(),
            })?;
        Ok(RsaPublic {
            bits: info.subject_public_key.raw_bytes().to_vec(),
        })
    }
}

impl PublicKeyData for RsaPublic {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// The crate's RSA key, signing certificates with sha256WithRSAEncryption.
struct RsaSigner<'a> {
    key: &'a SigningKey,
    public: RsaPublic,
}

impl<'a> RsaSigner<'a> {
    fn new(key: &'a SigningKey) -> Result<Self, CryptoError> {
        Ok(RsaSigner {
            key,
            public: RsaPublic::new(key.public_key())?,
        })
    }
}

impl PublicKeyData for RsaSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        self.public.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for RsaSigner<'_> {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let signature = self
            .key
            .sign(SignatureHash::Sha256, message)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        unb64("signature", &signature).map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// A P-256 key signing with ecdsa-with-SHA256 and RFC 6979's deterministic nonces.
struct EcdsaSigner {
    key: p256::ecdsa::SigningKey,
    point: Vec<u8>,
}

impl EcdsaSigner {
    fn new(key: p256::ecdsa::SigningKey) -> Self {
        let point = key
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        EcdsaSigner { key, point }
    }
}

impl PublicKeyData for EcdsaSigner {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for EcdsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature = self.key.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

/// A certificate as PEM: 64-character lines and `\n` line ends on every platform.
fn pem(der: &[u8]) -> String {
    let body = b64(der);
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    text
}

fn cert_error(e: rcgen::Error) -> CryptoError {
    cert_error_text(e.to_string())
}

fn cert_error_text(detail: String) -> CryptoError {
    CryptoError::Key {
        what: "certificate",
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
        text.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body = block.split("-----END CERTIFICATE-----").next().unwrap();
                let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
                unb64("certificate", &body).unwrap()
            })
            .collect()
    }

    fn key() -> SigningKey {
        SigningKey::generate(&mut seeded_rng(3, "certs-test")).unwrap()
    }

    #[test]
    fn the_alipay_certificate_carries_the_alipay_public_key_itself() {
        let key = key();
        let certs = issue("2021000000000003", key.public_key(), key.public_key(), 3).unwrap();
        let der = &pem_blocks(&certs.alipay_cert)[0];
        let spki = unb64("public key", &key.public_key().to_base64()).unwrap();
        assert!(
            der.windows(spki.len()).any(|w| w == spki.as_slice()),
            "the SubjectPublicKeyInfo {} is not in the certificate",
            b64(&spki)
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_files_and_another_seed_others() {
        let key = key();
        let a = issue("app", key.public_key(), key.public_key(), 3).unwrap();
        assert_eq!(
            a,
            issue("app", key.public_key(), key.public_key(), 3).unwrap()
        );
        let b = issue("app", key.public_key(), key.public_key(), 4).unwrap();
        assert_ne!(a.app_cert, b.app_cert);
        assert_ne!(a.alipay_cert_sn, b.alipay_cert_sn);
        assert_eq!(a.alipay_root_cert, b.alipay_root_cert);
        // Another app of the same seed: serial numbers of its own.
        let c = issue("other", key.public_key(), key.public_key(), 3).unwrap();
        assert_ne!(a.alipay_cert_sn, c.alipay_cert_sn);
        assert_ne!(a.app_cert_sn, c.app_cert_sn);
    }

    #[test]
    fn the_root_file_holds_three_roots_and_its_sn_counts_the_rsa_ones() {
        let certs = issue("app", key().public_key(), key().public_key(), 3).unwrap();
        assert_eq!(pem_blocks(&certs.alipay_root_cert).len(), 3);
        let parts: Vec<&str> = certs.alipay_root_cert_sn.split('_').collect();
        assert_eq!(parts.len(), 2);
        for sn in parts.iter().chain([&certs.app_cert_sn.as_str()]) {
            assert_eq!(sn.len(), 32);
            assert!(sn
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
    }

    #[test]
    fn an_sn_is_the_md5_of_the_reversed_issuer_and_the_decimal_serial() {
        // MD5("CN=alipay-sim Root CA R1,OU=Certification Authority,O=alipay-sim,C=CN" + "258")
        let expected = format!(
            "{:x}",
            Md5::digest(
                b"CN=alipay-sim Root CA R1,OU=Certification Authority,O=alipay-sim,C=CN258"
            )
        );
        assert_eq!(cert_sn(R1_NAME, &[1, 2]), expected);
    }
}
