//! Helpers shared by the integration tests.
#![allow(dead_code)] // not every helper is used by every topic

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};

use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_alipay-sim");

/// The fields of a fixture (`envelope`, `fixtures`, `getPhoneNumber`), in their documented order.
pub const FIXTURE_FIELDS: [&str; 8] = [
    "scenario",
    "app_id",
    "alipay_public_key",
    "aes_key",
    "sign_type",
    "callback",
    "payload",
    "expect",
];

pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Installs the pinned official SDKs into ignored folders (quick when already done).
pub fn set_up_sdks() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let status = Command::new("bash")
            .arg(interop_dir().join("setup.sh"))
            .status()
            .expect("bash runs");
        assert!(
            status.success(),
            "tests/interop/setup.sh failed: it needs node, npm, python3 with venv, a JDK and mvn"
        );
    });
}

/// Runs a command that prints JSON, and parses it.
pub fn run_json(command: &mut Command) -> Value {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{command:?} printed no JSON: {e}"))
}

/// The verdicts an official SDK reaches on a directory of fixture files, by scenario.
/// `sdk` is `node` (npm alipay-sdk) or `python` (PyPI alipay-sdk-python).
/// `go` is the Go library github.com/smartwalle/alipay/v3 (`tests/interop/go`, built by setup.sh).
pub fn sdk_verdicts(sdk: &str, dir: &Path) -> BTreeMap<String, Value> {
    set_up_sdks();
    let mut command = match sdk {
        "node" => {
            let mut c = Command::new("node");
            c.arg(interop_dir().join("node/check.mjs"));
            c
        }
        "python" => {
            let mut c = Command::new(interop_dir().join("python/.venv/bin/python"));
            c.arg(interop_dir().join("python/check.py"));
            c
        }
        "java" => {
            // The classes and the copied jars setup.sh built; java expands the `lib/*` itself.
            let java = interop_dir().join("java/target");
            let classpath = format!(
                "{}:{}/lib/*",
                java.join("classes").display(),
                java.display()
            );
            let mut c = Command::new("java");
            c.args(["-cp", &classpath, "Check"]);
            c
        }
        "go" => Command::new(interop_dir().join("go/bin/check")),
        other => panic!("no SDK checker {other}"),
    };
    let rows = run_json(command.arg(dir));
    rows.as_array()
        .expect("an array")
        .iter()
        .map(|row| (row["scenario"].as_str().unwrap().to_string(), row.clone()))
        .collect()
}

/// A running `alipay-sim` process, killed when dropped: the one launcher of the tests.
pub struct Server {
    pub child: Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// What it printed at start, up to the throwaway-keys line.
    pub banner: String,
    pub http: Client,
}

impl Server {
    /// Starts the binary on a free port and waits for its banner.
    pub fn start(args: &[&str]) -> Server {
        Server::start_exactly(&[args, &["--addr", "127.0.0.1:0"]].concat())
    }

    /// Starts the binary with exactly these arguments and waits for its banner.
    pub fn start_exactly(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("the server exited before printing its banner: {banner}");
            }
            banner.push_str(&line);
            if line.starts_with("Throwaway keys only") {
                break;
            }
        }
        let url = banner
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("alipay-sim listening on "))
            .expect("the banner starts with the URL")
            .to_string();
        Server {
            child,
            url,
            banner,
            http: Client::new(),
        }
    }

    pub fn persistent(dir: &Path) -> Server {
        Server::start(&["serve", "--data-dir", dir.to_str().unwrap(), "--seed", "11"])
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None)
    }

    /// Sends a request; the answer, checked against the OpenAPI document ([`checked`]).
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        self.send_with_headers(method, path, body, &[])
    }

    /// [`Server::send`], with these headers besides.
    pub fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Response {
        let verb = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(verb, self.url(path));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        checked(method, path, request.send().unwrap())
    }

    pub fn json(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let response = self.send(method, path, body.map(|b| b.to_string()).as_deref());
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    /// Sends SIGTERM and waits, at most `limit`, for the exit: its status and how long it took.
    pub fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "still running {limit:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn first_app(&self) -> String {
        self.json("GET", "/api/v1/apps", None)[0]["app_id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `alipay-sim serve --ephemeral` on a free port.
    pub fn ephemeral() -> Server {
        Server::start(&["serve", "--ephemeral"])
    }
}

/// Starts a server that prints `PREFIX<url>` as its first line, and gives the URL.
pub fn start_listening(mut command: Command, prefix: &str) -> (Child, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{command:?} printed no address: {first_line:?}"))
        .to_string();
    (child, url)
}

/// A backend from `tests/backend/` (the reference, or `broken/NAME.mjs`) on a free port,
/// configured with the keys of `alipay-sim keys --seed SEED` (RSA2); killed when dropped.
pub struct NodeBackend {
    child: Child,
    /// Its phone-number endpoint, `http://127.0.0.1:PORT/api/phone`.
    pub url: String,
}

impl NodeBackend {
    pub fn start(script: &str, seed: u64) -> NodeBackend {
        let keys =
            run_json(Command::new(BIN).args(["keys", "--json", "--seed", &seed.to_string()]));
        NodeBackend::start_with_keys(
            script,
            keys["alipay_public_key"].as_str().unwrap(),
            keys["aes_key"].as_str().unwrap(),
        )
    }

    /// The same, configured with the given Alipay public key and AES key (base64).
    pub fn start_with_keys(script: &str, alipay_public_key: &str, aes_key: &str) -> NodeBackend {
        set_up_sdks();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backend");
        let mut command = Command::new("node");
        command
            .arg(dir.join(script))
            .env("ALIPAY_PUBLIC_KEY", alipay_public_key)
            .env("AES_KEY", aes_key)
            .env("PORT", "0")
            .env_remove("KEYS_FILE");
        let (child, base) = start_listening(command, "listening on ");
        NodeBackend {
            child,
            url: format!("{base}/api/phone"),
        }
    }
}

impl Drop for NodeBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What junitparser (the Python library CI report tools read JUnit XML with) finds in a file.
pub fn read_junit(path: &Path) -> Value {
    set_up_sdks();
    run_json(
        Command::new(interop_dir().join("python/.venv/bin/python"))
            .arg(interop_dir().join("python/junit.py"))
            .arg(path),
    )
}

/// The committed OpenAPI document (`src/http/openapi.json`, which the server serves), with every
/// object schema that lists its properties closed (`additionalProperties: false`), so that a
/// field the server sends and the document omits fails the check.
fn closed_document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut document: Value =
            serde_json::from_str(alipay_sim::server::api::OPENAPI).expect("the document is JSON");
        close(&mut document["components"]);
        close(&mut document["paths"]);
        document
    })
}

fn close(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.contains_key("properties") && !object.contains_key("additionalProperties") {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

/// The document's path template that `path` (query and all) is an instance of.
fn template_of(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    closed_document()["paths"]
        .as_object()
        .unwrap()
        .keys()
        .find(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    part == segment || (part.starts_with('{') && !segment.is_empty())
                })
        })
        .map(String::as_str)
}

/// Checks an answer of the API against the OpenAPI document: a documented route answers a
/// documented status, with a JSON body valid against that response's schema (its `$ref`s
/// resolved in `#/components/schemas`, every object closed: see [`closed_document`]) or, where
/// the document gives none, no body; an undocumented route is a 404 `route_not_found` and an
/// undocumented method a 405 `method_not_allowed`, with the `Error` body. Answers that are not
/// JSON, outside the API (the web UI's pages), are left alone. Panics on any mismatch.
pub fn check_response(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) {
    let document = closed_document();
    let json = content_type.is_some_and(|c| c.starts_with("application/json"));
    let what = format!("{method} {path}: {status}");
    let operation = template_of(path)
        .map(|template| {
            (
                template,
                &document["paths"][template][method.to_lowercase()],
            )
        })
        .filter(|(_, operation)| operation.is_object());
    let schema = match operation {
        Some((template, operation)) => {
            let Some(response) = operation["responses"].get(status.to_string()) else {
                panic!(
                    "{what}: the OpenAPI document gives no {status} for {method} {template}: {}",
                    String::from_utf8_lossy(body)
                );
            };
            let other_type = response["content"].as_object().and_then(|content| {
                content
                    .keys()
                    .find(|t| *t != "application/json")
                    .filter(|_| !content.contains_key("application/json"))
            });
            if let Some(documented) = other_type {
                // A file to download (a certificate): its documented content type.
                assert_eq!(
                    content_type.map(|c| c.split(';').next().unwrap_or(c).trim()),
                    Some(documented.as_str()),
                    "{what}: the document gives {documented}"
                );
                return;
            }
            match response["content"].get("application/json") {
                Some(content) => content["schema"].clone(),
                None => {
                    assert!(
                        body.is_empty(),
                        "{what}: the document gives no body, the server sent {:?}",
                        String::from_utf8_lossy(body)
                    );
                    return;
                }
            }
        }
        None if !json => return, // a page of the web UI, or its 404
        None => {
            let expected = match template_of(path) {
                Some(_) => (405, "method_not_allowed"),
                None => (404, "route_not_found"),
            };
            let code =
                serde_json::from_slice::<Value>(body).unwrap_or_default()["error"]["code"].clone();
            assert_eq!(
                (status, code.as_str().unwrap_or("")),
                expected,
                "{what}: an undocumented route or method"
            );
            json!({"$ref": "#/components/schemas/Error"})
        }
    };
    assert!(json, "{what}: answered {content_type:?}, not JSON");
    let instance: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(body)));
    let validator = validator_for(&schema);
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the answer does not match the OpenAPI document:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(&instance).unwrap()
    );
}

/// A validator of `schema` (a response's), whose `$ref`s point into the closed document's
/// components; made once per schema.
fn validator_for(schema: &Value) -> std::sync::Arc<jsonschema::Validator> {
    static VALIDATORS: OnceLock<
        std::sync::Mutex<BTreeMap<String, std::sync::Arc<jsonschema::Validator>>>,
    > = OnceLock::new();
    let mut validators = VALIDATORS.get_or_init(Default::default).lock().unwrap();
    validators
        .entry(schema.to_string())
        .or_insert_with(|| {
            let root = json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$ref": "#/$defs/response",
                "$defs": {"response": schema},
                "components": closed_document()["components"],
            });
            // Formats are checked too (`date-time`); OpenAPI's own (`int64`) are not JSON
            // Schema's, and are left alone.
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("the document's schema {schema} does not compile: {e}"));
            std::sync::Arc::new(validator)
        })
        .clone()
}

/// A blocking answer, checked with [`check_response`] and given back whole.
pub fn checked(method: &str, path: &str, response: Response) -> Response {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().unwrap();
    check_response(
        method,
        path,
        status.as_u16(),
        headers.get("content-type").and_then(|c| c.to_str().ok()),
        &body,
    );
    let mut rebuilt = axum::http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    Response::from(rebuilt)
}

/// An in-memory state whose first app has the keys of `alipay-sim keys --seed SEED`, and that
/// app's id.
pub fn in_memory_state(seed: u64) -> (alipay_sim::state::SimState, String) {
    let state = alipay_sim::state::SimState::open(alipay_sim::state::StateConfig {
        seed: Some(seed),
        data_dir: None,
    })
    .unwrap();
    let app_id = state.list_apps()[0].app_id.clone();
    (state, app_id)
}

/// `GET uri` from an in-process router over `state`, read and checked as [`read_checked`] does.
pub async fn get_checked(
    state: &alipay_sim::state::SimState,
    uri: &str,
) -> (axum::http::StatusCode, Option<String>, axum::body::Bytes) {
    use tower::ServiceExt;
    let request = axum::http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = alipay_sim::server::app(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    read_checked("GET", uri, response).await
}

/// An in-process answer (axum's `oneshot`), read whole and checked with [`check_response`]:
/// its status, content type and body.
pub async fn read_checked(
    method: &str,
    uri: &str,
    response: axum::response::Response,
) -> (axum::http::StatusCode, Option<String>, axum::body::Bytes) {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    check_response(method, uri, status.as_u16(), content_type.as_deref(), &body);
    (status, content_type, body)
}
