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

/// What is put on the wire for one envelope: the method, the query string, the body and its
/// content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub method: reqwest::Method,
    /// What goes after the URL's `?` (the `query` shape); `None` for the others.
    pub query: Option<String>,
    /// `None` when there is no body (a GET).
    pub content_type: Option<&'static str>,
    pub body: String,
}

impl Outgoing {
    /// What an [`Exchange`] keeps as the request: the body, or the query string of a GET.
    pub fn as_sent(&self) -> &str {
        self.query.as_deref().unwrap_or(&self.body)
    }
}

/// An envelope split in two, as the button's `onGetPhoneNumber` (`event.detail`) and uni-app's
/// `getphonenumber` hand it to the page (spec §1.4): `encryptedData` is the envelope's
/// `response` value, `sign` its `sign`, present only when the envelope has one. Both are kept as
/// the JSON text they were in the envelope, so that a plain object's bytes survive unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The `response` member's JSON text: a string token `"<base64>"`, or an object.
    pub encrypted_data: String,
    /// The `sign` member's JSON text, when there is one.
    pub sign: Option<String>,
}

/// The envelope split into `encryptedData` and `sign`; or, when the text is not an object with
/// a `response`, why it cannot be (then nothing of it reaches a backend in a split shape: the
/// platform hands the page no such detail, and uni-app's `JSON.parse(res.response)` throws).
pub fn split_envelope(envelope: &str) -> Result<Split, String> {
    let fields: std::collections::HashMap<String, &serde_json::value::RawValue> =
        serde_json::from_str(envelope).map_err(|e| {
            format!(
                "the envelope is not a JSON object ({e}), so it has no response and sign to split"
            )
        })?;
    let encrypted_data = fields
        .get("response")
        .ok_or("the envelope has no \"response\" to hand over as encryptedData")?
        .get()
        .to_string();
    let sign = fields.get("sign").map(|raw| raw.get().to_string());
    Ok(Split {
        encrypted_data,
        sign,
    })
}

/// A split field's value as a form carries it: a string's text, anything else as its JSON.
fn form_value(raw: &str) -> String {
    serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw.to_string())
}

impl RequestShape {
    /// What to send for `envelope`; or why it cannot be sent in this shape (a split shape and
    /// an envelope that does not split, see [`split_envelope`]).
    pub fn request_for(&self, envelope: &str) -> Result<Outgoing, String> {
        let shape = self.body;
        let outgoing = |body: String| Outgoing {
            method: self.method.clone(),
            query: None,
            content_type: shape.content_type(),
            body,
        };
        Ok(match shape {
            BodyShape::Json => {
                let mut object = Map::new();
                object.insert(self.field.clone(), Value::String(envelope.to_string()));
                for (key, value) in &self.values {
                    object.insert(key.clone(), value.clone());
                }
                outgoing(Value::Object(object).to_string())
            }
            BodyShape::Form => outgoing(self.form(&[(self.field.as_str(), envelope.to_string())])),
            BodyShape::Raw | BodyShape::RawJson | BodyShape::RawForm => {
                outgoing(envelope.to_string())
            }
            BodyShape::Query => Outgoing {
                method: reqwest::Method::GET,
                query: Some(self.form(&[(self.field.as_str(), envelope.to_string())])),
                content_type: None,
                body: String::new(),
            },
            BodyShape::SplitJson => {
                let split = split_envelope(envelope)?;
                // Written by hand to keep the envelope's own JSON text of each member.
                let mut body = format!("{{\"encryptedData\":{}", split.encrypted_data);
                if let Some(sign) = &split.sign {
                    body.push_str(&format!(",\"sign\":{sign}"));
                }
                for (key, value) in &self.values {
                    body.push_str(&format!(",{}:{value}", Value::String(key.clone())));
                }
                body.push('}');
                outgoing(body)
            }
            BodyShape::SplitForm => {
                let split = split_envelope(envelope)?;
                let mut fields = vec![("encryptedData", form_value(&split.encrypted_data))];
                if let Some(sign) = &split.sign {
                    fields.push(("sign", form_value(sign)));
                }
                outgoing(self.form(&fields))
            }
        })
    }

    /// `fields`, then the shape's values, form-encoded.
    fn form(&self, fields: &[(&str, String)]) -> String {
        let mut pairs: Vec<String> = fields
            .iter()
            .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
            .collect();
        for (key, value) in &self.values {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            pairs.push(format!("{}={}", form_encode(key), form_encode(&text)));
        }
        pairs.join("&")
    }

    /// The fields this shape puts the envelope in, which `values` must not use.
    pub fn envelope_fields(&self) -> Vec<&str> {
        match self.body {
            BodyShape::Json | BodyShape::Form | BodyShape::Query => vec![self.field.as_str()],
            BodyShape::SplitJson | BodyShape::SplitForm => vec!["encryptedData", "sign"],
            BodyShape::Raw | BodyShape::RawJson | BodyShape::RawForm => Vec::new(),
        }
    }
}

/// What a backend must do to read the envelope of a shape, when it is more than taking one
/// field (spec §1.4): said in the device page and in playback's step reports.
pub fn what_a_backend_must_do(shape: BodyShape) -> Option<&'static str> {
    match shape {
        BodyShape::Json | BodyShape::Form | BodyShape::Raw => None,
        BodyShape::RawJson => Some(
            "the body is the envelope itself: verify against the raw body text, not an object parsed and serialised again (a plain object's signature covers its exact bytes)",
        ),
        BodyShape::RawForm => Some(
            "the envelope text was sent unencoded under a form content type: read the raw body; a form decoder turns each + into a space and splits at = and &, which breaks the signature and the ciphertext",
        ),
        BodyShape::Query => Some(
            "the envelope is percent-encoded in the query string of a GET: take it from the decoded query parameter",
        ),
        BodyShape::SplitJson | BodyShape::SplitForm => Some(
            "encryptedData is the envelope's response and sign its sign: re-add the double quotes around a ciphertext before verifying (the signed text is \"<encryptedData>\"); no sign means an unsigned envelope",
        ),
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

/// Sends `envelope` to `url`, placed in the request as `shape` says
/// (`RequestShape::request_for`).
/// The exchange is kept whatever happens: with the answer, or with why there was none, which
/// comes typed too, for playback to tell a backend it cannot reach from one that fails.
pub async fn send(
    url: &str,
    shape: &RequestShape,
    envelope: &str,
) -> (Exchange, Option<SendError>) {
    let mut exchange = Exchange {
        method: shape.method.to_string(),
        url: url.to_string(),
        body_shape: shape.body,
        request_body: String::new(),
        status: None,
        headers: Vec::new(),
        body: String::new(),
        truncated: false,
        error: None,
        note: None,
        elapsed_ms: 0,
    };
    let outgoing = match shape.request_for(envelope) {
        Ok(outgoing) => outgoing,
        Err(message) => {
            let error = SendError::Failed {
                url: url.to_string(),
                message: format!("nothing sent as {}: {message}", shape.body),
            };
            exchange.error = Some(error.to_string());
            return (exchange, Some(error));
        }
    };
    exchange.method = outgoing.method.to_string();
    exchange.request_body = outgoing.as_sent().to_string();
    let started = Instant::now();
    let result = receive(url, shape, outgoing, &mut exchange).await;
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

/// Sends `outgoing` (made by [`RequestShape::request_for`]) to `url`, and keeps the answer in
/// `exchange`.
async fn receive(
    url: &str,
    shape: &RequestShape,
    outgoing: Outgoing,
    exchange: &mut Exchange,
) -> Result<(), SendError> {
    let target = match &outgoing.query {
        Some(query) if url.contains('?') => format!("{url}&{query}"),
        Some(query) => format!("{url}?{query}"),
        None => url.to_string(),
    };
    let mut request = client()
        .request(outgoing.method.clone(), target)
        .timeout(shape.timeout);
    if let Some(content_type) = outgoing.content_type {
        request = request.header(reqwest::header::CONTENT_TYPE, content_type);
    }
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
    if outgoing.query.is_none() {
        request = request.body(outgoing.body);
    }
    let response = request.send().await.map_err(classify)?;
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

/// Sends the envelope as the device page does (POST, or GET for `query`; the field
/// `response`) and records the exchange.
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

    const ENVELOPE: &str = r#"{"response":"a+b=","sign":"s/g="}"#;

    fn sent(shape: &RequestShape, envelope: &str) -> (String, Option<&'static str>, String) {
        let outgoing = shape.request_for(envelope).unwrap();
        (
            outgoing.method.to_string(),
            outgoing.content_type,
            outgoing.as_sent().to_string(),
        )
    }

    #[test]
    fn bodies_place_the_envelope_and_the_values() {
        let mut shape = RequestShape::default();
        shape
            .values
            .insert("token".into(), Value::String("t 1".into()));
        let (kind, body) = {
            let (_, kind, body) = sent(&shape, r#"{"response":"a+b"}"#);
            (kind, body)
        };
        assert_eq!(kind, Some("application/json"));
        assert_eq!(
            body,
            r#"{"response":"{\"response\":\"a+b\"}","token":"t 1"}"#
        );

        shape.body = BodyShape::Form;
        shape.field = "envelope".into();
        let (_, kind, body) = sent(&shape, r#"{"response":"a+b"}"#);
        assert_eq!(kind, Some("application/x-www-form-urlencoded"));
        assert_eq!(
            body,
            "envelope=%7B%22response%22%3A%22a%2Bb%22%7D&token=t+1"
        );

        shape.body = BodyShape::Raw;
        assert_eq!(
            sent(&shape, "x"),
            ("POST".into(), Some("text/plain; charset=utf-8"), "x".into())
        );
    }

    #[test]
    fn each_transport_shape_puts_the_envelope_where_its_front_end_does() {
        // The doc's my.request({method: 'POST', data: res.response}): the text, as JSON.
        let mut shape = RequestShape {
            body: BodyShape::RawJson,
            ..Default::default()
        };
        assert_eq!(
            sent(&shape, ENVELOPE),
            ("POST".into(), Some("application/json"), ENVELOPE.into())
        );
        // my.httpRequest({data: encryptedData}): the text, not encoded, under a form type.
        shape.body = BodyShape::RawForm;
        assert_eq!(
            sent(&shape, ENVELOPE),
            (
                "POST".into(),
                Some("application/x-www-form-urlencoded"),
                ENVELOPE.into()
            )
        );
        // A GET: the envelope percent-encoded in the query, `+` as %2B; no body, no type.
        shape.body = BodyShape::Query;
        shape
            .values
            .insert("scene".into(), Value::String("a b".into()));
        let outgoing = shape.request_for(ENVELOPE).unwrap();
        assert_eq!(outgoing.method, reqwest::Method::GET);
        assert_eq!(outgoing.content_type, None);
        assert_eq!(outgoing.body, "");
        assert_eq!(
            outgoing.query.as_deref(),
            Some("response=%7B%22response%22%3A%22a%2Bb%3D%22%2C%22sign%22%3A%22s%2Fg%3D%22%7D&scene=a+b")
        );
        // Split: the response value and the sign, quotes removed, as onGetPhoneNumber hands them.
        shape.body = BodyShape::SplitJson;
        assert_eq!(
            sent(&shape, ENVELOPE).2,
            r#"{"encryptedData":"a+b=","sign":"s/g=","scene":"a b"}"#
        );
        shape.body = BodyShape::SplitForm;
        assert_eq!(
            sent(&shape, ENVELOPE).2,
            "encryptedData=a%2Bb%3D&sign=s%2Fg%3D&scene=a+b"
        );
        // No sign in the envelope, none in the split; a plain object keeps its own text.
        shape.values.clear();
        let plain = r#"{"response":{"msg":"x","code":"40001"}}"#;
        assert_eq!(
            sent(&shape, plain).2,
            "encryptedData=%7B%22msg%22%3A%22x%22%2C%22code%22%3A%2240001%22%7D"
        );
        shape.body = BodyShape::SplitJson;
        assert_eq!(
            sent(&shape, plain).2,
            r#"{"encryptedData":{"msg":"x","code":"40001"}}"#
        );
        // Text that is not an envelope does not split.
        let err = shape.request_for("[object Object]").unwrap_err();
        assert!(err.contains("not a JSON object"), "{err}");
        let err = shape.request_for(r#"{"sign":"x"}"#).unwrap_err();
        assert!(err.contains("no \"response\""), "{err}");
    }

    #[test]
    fn every_shape_has_a_content_type_but_the_get() {
        use strum::IntoEnumIterator;
        for shape in BodyShape::iter() {
            assert_eq!(shape.content_type().is_none(), shape == BodyShape::Query);
            let request = RequestShape {
                body: shape,
                ..Default::default()
            };
            let fields = request.envelope_fields();
            assert_eq!(fields.is_empty(), shape.envelope_only(), "{shape}");
        }
    }
}
