//! A developer's backend, reached as the mini program's `my.request` would reach it: the envelope
//! placed in a request body, sent, and the [`Exchange`] kept. Used by the device page's "send to
//! my backend" and by suite playback.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::sim::exchange::Exchange;
pub use crate::sim::store::check_url;
use crate::sim::store::BodyShape;

/// How a request to a backend is made: the parts a suite's `backend` section can set.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestShape {
    pub method: reqwest::Method,
    pub headers: Vec<(String, String)>,
    pub body: BodyShape,
    /// The JSON key or form field that holds the envelope.
    pub field: String,
    /// Other fields sent with the envelope in a JSON or form body, e.g. a user token.
    pub values: Map<String, Value>,
    pub timeout: Duration,
}

impl Default for RequestShape {
    fn default() -> Self {
        RequestShape {
            method: reqwest::Method::POST,
            headers: Vec::new(),
            body: BodyShape::Json,
            field: "response".into(),
            values: Map::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RequestShape {
    /// The request body and its content type for `envelope`.
    pub fn body_for(&self, envelope: &str) -> (&'static str, String) {
        match self.body {
            BodyShape::Json => {
                let mut object = Map::new();
                object.insert(self.field.clone(), Value::String(envelope.to_string()));
                for (key, value) in &self.values {
                    object.insert(key.clone(), value.clone());
                }
                (self.body.content_type(), Value::Object(object).to_string())
            }
            BodyShape::Form => {
                let mut body = format!("{}={}", form_encode(&self.field), form_encode(envelope));
                for (key, value) in &self.values {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    body.push_str(&format!("&{}={}", form_encode(key), form_encode(&text)));
                }
                (self.body.content_type(), body)
            }
            BodyShape::Raw => (self.body.content_type(), envelope.to_string()),
        }
    }
}

/// How much of a backend's answer body is kept; the rest is not read.
pub const ANSWER_LIMIT: usize = 64 * 1024;

/// What a reader of an answer should know about it: a cut body, a redirect not followed.
fn note(answer: &Exchange) -> Option<String> {
    let mut notes = Vec::new();
    if answer.truncated {
        notes.push(format!(
            "the body is longer than {} KiB: only its first {} KiB were read and kept",
            ANSWER_LIMIT / 1024,
            ANSWER_LIMIT / 1024
        ));
    }
    if answer
        .status
        .is_some_and(|status| (300..400).contains(&status))
    {
        let location = answer
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("location"))
            .map_or("nowhere", |(_, value)| value.as_str());
        notes.push(format!(
            "the backend redirected to {location}; alipay-sim does not follow redirects"
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Nothing listens there, or the name does not resolve: no step can succeed.
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("no answer from {url} within {} ms", timeout.as_millis())]
    Timeout { url: String, timeout: Duration },
    #[error("request to {url} failed: {message}")]
    Failed { url: String, message: String },
}

fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        // A redirect from a developer's backend could point the simulator at any local URL:
        // it is shown as the answer, never followed.
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client without TLS always builds")
    })
}

/// Sends `envelope` to `url`, placed in the body as `shape` says (`RequestShape::body_for`).
/// The exchange is kept whatever happens: with the answer, or with why there was none, which
/// comes typed too, for playback to tell a backend it cannot reach from one that fails.
pub async fn send(
    url: &str,
    shape: &RequestShape,
    envelope: &str,
) -> (Exchange, Option<SendError>) {
    let (content_type, request_body) = shape.body_for(envelope);
    let mut exchange = Exchange {
        method: shape.method.to_string(),
        url: url.to_string(),
        body_shape: shape.body,
        request_body: request_body.clone(),
        status: None,
        headers: Vec::new(),
        body: String::new(),
        truncated: false,
        error: None,
        note: None,
        elapsed_ms: 0,
    };
    let started = Instant::now();
    let result = receive(url, shape, content_type, request_body, &mut exchange).await;
    exchange.elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => {
            exchange.note = note(&exchange);
            (exchange, None)
        }
        Err(error) => {
            exchange.error = Some(error.to_string());
            (exchange, Some(error))
        }
    }
}

/// Sends `body` (made by [`RequestShape::body_for`]) to `url`, and keeps the answer in
/// `exchange`.
async fn receive(
    url: &str,
    shape: &RequestShape,
    content_type: &str,
    body: String,
    exchange: &mut Exchange,
) -> Result<(), SendError> {
    let mut request = client()
        .request(shape.method.clone(), url)
        .timeout(shape.timeout)
        .header(reqwest::header::CONTENT_TYPE, content_type);
    for (name, value) in &shape.headers {
        request = request.header(name, value);
    }
    let classify = |error: reqwest::Error| {
        let url = url.to_string();
        if error.is_timeout() {
            SendError::Timeout {
                url,
                timeout: shape.timeout,
            }
        } else if error.is_connect() || error.is_builder() {
            // The innermost cause says it best: "Connection refused (os error 111)".
            let mut root: &dyn std::error::Error = &error;
            while let Some(cause) = root.source() {
                root = cause;
            }
            SendError::Unreachable {
                url,
                message: root.to_string(),
            }
        } else {
            SendError::Failed {
                url,
                message: error_chain(&error),
            }
        }
    };
    let response = request.body(body).send().await.map_err(classify)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut response = response;
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        let room = ANSWER_LIMIT - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    exchange.status = Some(status);
    exchange.headers = headers;
    exchange.body = String::from_utf8_lossy(&body).into_owned();
    exchange.truncated = truncated;
    Ok(())
}

/// Sends the envelope as the device page does (POST, one field) and records the exchange.
pub async fn exchange(url: &str, body_shape: BodyShape, envelope: &str) -> Exchange {
    let shape = RequestShape {
        body: body_shape,
        ..Default::default()
    };
    send(url, &shape, envelope).await.0
}

/// reqwest's message and its causes ("error sending request: connection refused"), on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_place_the_envelope_and_the_values() {
        let mut shape = RequestShape::default();
        shape
            .values
            .insert("token".into(), Value::String("t 1".into()));
        let (kind, body) = shape.body_for(r#"{"response":"a+b"}"#);
        assert_eq!(kind, "application/json");
        assert_eq!(
            body,
            r#"{"response":"{\"response\":\"a+b\"}","token":"t 1"}"#
        );

        shape.body = BodyShape::Form;
        shape.field = "envelope".into();
        let (kind, body) = shape.body_for(r#"{"response":"a+b"}"#);
        assert_eq!(kind, "application/x-www-form-urlencoded");
        assert_eq!(
            body,
            "envelope=%7B%22response%22%3A%22a%2Bb%22%7D&token=t+1"
        );

        shape.body = BodyShape::Raw;
        assert_eq!(shape.body_for("x").1, "x");
    }
}
