//! An exchange with a developer's backend: the request sent, and its answer or why there was
//! none. The journal keeps those the device page makes ("send to my backend"), which the API
//! and the UI show; playback reports the one each step makes. `http::backend` makes them.

use serde::{Deserialize, Serialize};

use crate::sim::store::BodyShape;

/// One HTTP exchange with a developer's backend: the request sent, then the answer (`status`,
/// `headers`, `body`) or why there was none (`error`). Its JSON is the journal's, where the
/// method (there it follows from `body_shape`: GET for `query`, else POST) and `truncated`
/// (which `note` words) are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
// The API document keeps the name and the words it had as the journal's type.
#[schema(
    as = BackendExchange,
    description = "One request to a developer's backend and its answer (or why there was none), as the\njournal keeps it."
)]
pub struct Exchange {
    /// The request's method.
    #[serde(skip, default = "post")]
    pub method: String,
    pub url: String,
    pub body_shape: BodyShape,
    /// The request's body; for the `query` shape (a GET, no body), the query string sent
    /// after the URL's `?`.
    pub request_body: String,
    /// The answer's HTTP status; null when there was no answer.
    #[schema(required)]
    pub status: Option<u16>,
    /// The answer's headers, each `[name, value]`.
    pub headers: Vec<(String, String)>,
    /// The answer's body, or its first `backend::ANSWER_LIMIT` bytes.
    pub body: String,
    /// Whether the body was longer than `backend::ANSWER_LIMIT` and cut there.
    #[serde(skip)]
    pub truncated: bool,
    /// Why there was no answer; null when there was one.
    #[schema(required)]
    pub error: Option<String>,
    /// Said of the answer where it is shown: a cut body, a redirect not followed.
    #[serde(default)]
    #[schema(required)]
    pub note: Option<String>,
    pub elapsed_ms: u64,
}

fn post() -> String {
    "POST".into()
}

impl Exchange {
    /// The content type the request was sent with, from its body's shape; `None` for a GET
    /// with the envelope in the query.
    pub fn content_type(&self) -> Option<&'static str> {
        self.body_shape.content_type()
    }

    /// Whether the backend answered.
    pub fn answered(&self) -> bool {
        self.status.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journals_json_leaves_out_the_method_and_truncated() {
        let exchange = Exchange {
            method: "PUT".into(),
            url: "http://127.0.0.1:9/".into(),
            body_shape: BodyShape::Form,
            request_body: "response=x".into(),
            status: Some(200),
            headers: vec![("content-type".into(), "text/plain".into())],
            body: "ok".into(),
            truncated: true,
            error: None,
            note: Some("cut".into()),
            elapsed_ms: 3,
        };
        let text = serde_json::to_string(&exchange).unwrap();
        assert_eq!(
            text,
            r#"{"url":"http://127.0.0.1:9/","body_shape":"form","request_body":"response=x","status":200,"headers":[["content-type","text/plain"]],"body":"ok","error":null,"note":"cut","elapsed_ms":3}"#
        );
        let read: Exchange = serde_json::from_str(&text).unwrap();
        assert_eq!((read.method.as_str(), read.truncated), ("POST", false));
        assert_eq!(
            exchange.content_type(),
            Some("application/x-www-form-urlencoded")
        );
    }
}
