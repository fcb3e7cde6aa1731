//! The known-answer vectors (made independently of this project, accepted by both official
//! SDKs) must come out of our crypto and envelope code byte for byte.

use alipay_sim::crypto::{self, AesKey, PublicKey, SigningKey};
use alipay_sim::engine::{produce, ALIPAY_IV};
use alipay_sim::engine::{EnvelopePlan, KeyChoice, Plaintext};
use alipay_sim::oracle::{verify, BackendKeys};
use alipay_sim::{engine as rules, AppKeys, SignType, Verdict};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    alipay_private_key_pkcs8_pem: String,
    alipay_public_key: String,
    aes_key: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    sign_type: SignType,
    encrypted: bool,
    plaintext: String,
    signed_content: String,
    envelope: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../vectors.json")).expect("tests/vectors.json parses")
}

fn vector_keys(v: &Vectors) -> AppKeys {
    AppKeys::from_parts(
        "2021000000000000".into(),
        SigningKey::from_pem_or_base64(&v.alipay_private_key_pkcs8_pem).unwrap(),
        AesKey::from_base64(&v.aes_key).unwrap(),
        0,
    )
}

#[test]
fn public_key_is_shown_as_the_console_shows_it() {
    let v = vectors();
    let keys = vector_keys(&v);
    assert_eq!(
        keys.alipay_key().public_key().to_base64(),
        v.alipay_public_key
    );
    // The PEM form and the one-line form are the same key.
    let pem = keys.alipay_key().public_key().to_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert_eq!(
        PublicKey::parse(&pem).unwrap().to_base64(),
        v.alipay_public_key
    );
    // The private key round-trips through both PEM forms.
    for pem in [
        keys.alipay_key().to_pkcs8_pem(),
        keys.alipay_key().to_pkcs1_pem(),
    ] {
        let again = SigningKey::from_pem_or_base64(&pem).unwrap();
        assert_eq!(again.public_key().to_base64(), v.alipay_public_key);
    }
    assert_eq!(
        keys.alipay_key().to_pkcs8_pem(),
        v.alipay_private_key_pkcs8_pem
    );
}

#[test]
fn every_vector_envelope_is_reproduced_byte_for_byte() {
    let v = vectors();
    let keys = vector_keys(&v);
    assert_eq!(v.cases.len(), 4);
    for case in &v.cases {
        let plaintext: Plaintext = serde_json::from_str(&case.plaintext).unwrap();
        assert_eq!(
            plaintext.to_json(),
            case.plaintext,
            "{}: plaintext text",
            case.name
        );
        let plan = EnvelopePlan {
            plaintext,
            encrypted: case.encrypted,
            signing: Some(case.sign_type),
            rule: &rules::SUCCESS,
            unsigned_by: None,
            object_form: false,
            keys: KeyChoice::default(),
            // As the platform writes: none of the vectors' plaintexts holds a `/`.
            escape_slashes: true,
        };
        let produced = produce(&plan, &keys, None).unwrap();
        assert_eq!(produced.text, case.envelope, "{}: envelope", case.name);
        assert_eq!(produced.expect.verdict, Verdict::Accept);

        // And the strict verifier accepts the vector with the published key.
        let backend = BackendKeys {
            alipay_public_key: PublicKey::parse(&v.alipay_public_key).unwrap(),
            aes_key: Some(AesKey::from_base64(&v.aes_key).unwrap()),
            sign_type: case.sign_type,
        };
        let conclusion = verify(&case.envelope, &backend);
        assert_eq!(
            conclusion.verdict,
            Verdict::Accept,
            "{}: {}",
            case.name,
            conclusion.reason
        );
        let expected: serde_json::Value = serde_json::from_str(&case.plaintext).unwrap();
        assert_eq!(conclusion.plaintext.unwrap(), expected);
    }
}

#[test]
fn signed_content_and_ciphertext_match_the_vectors() {
    let v = vectors();
    let keys = vector_keys(&v);
    for case in &v.cases {
        if case.encrypted {
            let ciphertext =
                crypto::aes_encrypt(keys.aes_key(), &ALIPAY_IV, case.plaintext.as_bytes());
            assert_eq!(
                format!("\"{ciphertext}\""),
                case.signed_content,
                "{}",
                case.name
            );
            let back = crypto::aes_decrypt(keys.aes_key(), &ALIPAY_IV, &ciphertext).unwrap();
            assert_eq!(back, case.plaintext.as_bytes());
        } else {
            assert_eq!(case.plaintext, case.signed_content);
        }
        let sign = keys
            .alipay_key()
            .sign(case.sign_type.into(), case.signed_content.as_bytes())
            .unwrap();
        assert!(
            case.envelope.contains(&format!("\"sign\":\"{sign}\"")),
            "{}",
            case.name
        );
    }
}

#[test]
fn pkcs1_public_keys_are_refused_as_the_sdks_refuse_them() {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    let v = vectors();
    let spki = crypto::unb64("key", &v.alipay_public_key).unwrap();
    let key = rsa::RsaPublicKey::from_public_key_der(&spki).unwrap();
    let pkcs1_b64 = crypto::b64(key.to_pkcs1_der().unwrap().as_bytes());
    let pkcs1_pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    for text in [pkcs1_b64, pkcs1_pem] {
        let err = PublicKey::parse(&text).unwrap_err().to_string();
        assert!(err.contains("PKCS#1"), "{err}");
    }
}

/// Backends are configured once with `alipay-sim keys --seed N`: the keys of a seed must never
/// change between machines or releases. These were recorded when seeds were introduced.
#[test]
fn seeded_keys_are_stable_across_machines_and_releases() {
    let keys = AppKeys::for_seed(0).unwrap().published();
    assert_eq!(keys.app_id, "2021186075770127");
    assert_eq!(keys.aes_key, "XfS13WIhXQyjU5b74BpFUw==");
    assert!(keys
        .alipay_public_key
        .starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0zHrs46Ewq6CSiYMp/aiRnFfp3S+aNvD1oe0kyi/yBDZeHidmekFpepPBUx6Cs+Xq9PS63AxlPQU"));
}
