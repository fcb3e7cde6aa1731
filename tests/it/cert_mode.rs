//! Certificate mode (公钥证书): an app in that mode, its three certificate files downloaded
//! over HTTP from the running server, and the official Node SDK configured with those files and
//! nothing else (`tests/interop/node/cert_check.mjs`: `appCertPath`, `alipayPublicCertPath`,
//! `alipayRootCertPath`) accepting the app's envelope and refusing it with another app's
//! certificates. The SNs the simulator shows are the ones the SDK computes itself, from its
//! constructor and from its `antcertutil` `getSNFromPath`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::common::{interop_dir, set_up_sdks, Server};

/// The three files' names, as the SDKs' samples give them.
fn file_names(app_id: &str) -> [String; 3] {
    [
        format!("appCertPublicKey_{app_id}.crt"),
        "alipayCertPublicKey_RSA2.crt".to_string(),
        "alipayRootCert.crt".to_string(),
    ]
}

/// Downloads an app's three certificate files into `dir`, checking how each is served.
fn download(server: &Server, app_id: &str, dir: &Path) {
    for name in file_names(app_id) {
        let response = server.get(&format!("/api/v1/apps/{app_id}/certs/{name}"));
        assert_eq!(response.status(), 200, "{name}");
        let header = |h: &str| {
            response
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("content-type"), "application/x-pem-file");
        assert_eq!(
            header("content-disposition"),
            format!("attachment; filename=\"{name}\"")
        );
        let pem = response.text().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        std::fs::write(dir.join(&name), pem).unwrap();
    }
}

/// What the Node SDK, configured with the files in `dir` only, makes of `envelope` (none: only
/// what it read from the files).
fn node_cert_check(dir: &Path, app_id: &str, aes_key: &str, envelope: &str) -> Value {
    set_up_sdks();
    let mut child = Command::new("node")
        .arg(interop_dir().join("node/cert_check.mjs"))
        .arg(dir)
        .arg(app_id)
        .env("AES_KEY", aes_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(envelope.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "cert_check.mjs failed");
    serde_json::from_slice(&output.stdout).expect("cert_check.mjs prints JSON")
}

/// The SNs a view (`keys.certificates`) or a fixture (`certificates`) shows.
fn sns(certificates: &Value) -> Value {
    json!({
        "app_cert_sn": certificates["app_cert_sn"],
        "alipay_cert_sn": certificates["alipay_cert_sn"],
        "alipay_root_cert_sn": certificates["alipay_root_cert_sn"],
    })
}

#[test]
fn the_node_sdk_in_certificate_mode_accepts_an_envelope_with_only_the_downloaded_certificates() {
    let server = Server::ephemeral();
    let mut apps = Vec::new();
    for app_id in ["cert-app", "other-cert-app"] {
        let view = server.json(
            "POST",
            "/api/v1/apps",
            Some(json!({"app_id": app_id, "console": {"signing_key_mode": "certificate"}})),
        );
        assert_eq!(view["console"]["signing_key_mode"], "certificate");
        let dir = tempfile::tempdir().unwrap();
        download(&server, app_id, dir.path());
        apps.push((app_id, view, dir));
    }
    let (app_id, view, dir) = &apps[0];
    let certificates = &view["keys"]["certificates"];
    assert_eq!(
        certificates["app_cert_file"],
        format!("appCertPublicKey_{app_id}.crt")
    );
    let aes_key = view["keys"]["aes_key"].as_str().unwrap();

    let fixture = server.json(
        "POST",
        &format!("/api/v1/apps/{app_id}/getPhoneNumber"),
        Some(json!({"mobile": "13912345678"})),
    );
    assert_eq!(fixture["expect"]["verdict"], "accept");
    assert_eq!(sns(&fixture["certificates"]), sns(certificates));
    let envelope = fixture["payload"]["response"].as_str().unwrap();
    let envelope_object: Value = serde_json::from_str(envelope).unwrap();
    assert!(
        envelope_object.get("alipay_cert_sn").is_none(),
        "no source shows alipay_cert_sn in res.response: {envelope}"
    );

    let node = node_cert_check(dir.path(), app_id, aes_key, envelope);
    assert_eq!(node["verdict"], "accept", "{}", node["detail"]);
    assert_eq!(node["plaintext"]["code"], "10000");
    assert_eq!(node["plaintext"]["mobile"], "13912345678");
    // The SDK's own SNs, from its constructor and from getSNFromPath, are the ones shown.
    assert_eq!(node["config_sns"], sns(certificates));
    assert_eq!(node["get_sns"], sns(certificates));
    let from_cert: String = node["alipay_public_key"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(from_cert, view["keys"]["alipay_public_key"]);

    // With another app's certificates the same envelope does not verify.
    let (other_id, other_view, other_dir) = &apps[1];
    assert_ne!(
        other_view["keys"]["certificates"]["alipay_cert_sn"],
        certificates["alipay_cert_sn"]
    );
    let refused = node_cert_check(other_dir.path(), other_id, aes_key, envelope);
    assert_eq!(
        refused["verdict"], "reject-signature",
        "{}",
        refused["detail"]
    );
}

#[test]
fn an_app_in_public_key_mode_has_no_certificates() {
    let server = Server::ephemeral();
    let app = server.first_app();
    let view = server.json("GET", &format!("/api/v1/apps/{app}"), None);
    assert_eq!(view["console"]["signing_key_mode"], "public-key");
    assert_eq!(view["keys"]["certificates"], Value::Null);
    let response = server.get(&format!("/api/v1/apps/{app}/certs/alipayRootCert.crt"));
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "certificate_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signing_key_mode"),
        "{body}"
    );

    // Switched to certificate mode, the files are there; a name that is none of them is not.
    let view = server.json(
        "PATCH",
        &format!("/api/v1/apps/{app}"),
        Some(json!({"console": {"signing_key_mode": "certificate"}})),
    );
    assert!(view["keys"]["certificates"]["alipay_root_cert_sn"].is_string());
    let response = server.get(&format!("/api/v1/apps/{app}/certs/alipayRootCert.crt"));
    assert_eq!(response.status(), 200);
    let response = server.get(&format!(
        "/api/v1/apps/{app}/certs/appCertPublicKey_other.crt"
    ));
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("appCertPublicKey_{app}.crt")),
        "{body}"
    );
}

/// The SNs and the Alipay public key of several seeds' certificates are what the Node SDK reads
/// from the files (its `getSNFromPath`, its constructor), not a reimplementation's.
#[test]
fn the_sns_are_the_ones_the_node_sdk_computes() {
    for seed in [0, 7, 2026] {
        let fixture = alipay_sim::catalogue()
            .get("cert-mode")
            .unwrap()
            .run(&alipay_sim::AppKeys::for_seed(seed).unwrap(), None)
            .unwrap();
        let delivery = serde_json::to_value(&fixture).unwrap();
        let certificates = &delivery["certificates"];
        let app_id = delivery["app_id"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let [app, alipay, root] = file_names(app_id);
        for (name, field) in [
            (app, "app_cert"),
            (alipay, "alipay_cert"),
            (root, "alipay_root_cert"),
        ] {
            std::fs::write(dir.path().join(name), certificates[field].as_str().unwrap()).unwrap();
        }
        let node = node_cert_check(dir.path(), app_id, "", "");
        assert_eq!(node["get_sns"], sns(certificates), "seed {seed}");
        assert_eq!(node["config_sns"], sns(certificates), "seed {seed}");
        // The root file holds two RSA-signed roots and an ECDSA one: two parts.
        assert_eq!(
            node["get_sns"]["alipay_root_cert_sn"]
                .as_str()
                .unwrap()
                .split('_')
                .count(),
            2
        );
        let from_cert: String = node["alipay_public_key"]
            .as_str()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert_eq!(from_cert, delivery["alipay_public_key"], "seed {seed}");
    }
}
