//! `alipay-sim verify`: what a strict backend concludes from an envelope on stdin, and why.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use alipay_sim::engine::{parse_aes_key, parse_alipay_public_key};
use alipay_sim::oracle::{self, BackendKeys};
use alipay_sim::{SignType, Verdict};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Alipay public key: the console's one-line base64, or a PEM `BEGIN PUBLIC KEY` block.
    #[arg(
        long,
        env = "ALIPAY_SIM_ALIPAY_PUBLIC_KEY",
        allow_hyphen_values = true,
        required_unless_present = "session_key"
    )]
    alipay_public_key: Option<String>,
    /// WeChat instead: the session key jscode2session gave the backend. Stdin is then the
    /// legacy payload as the page got it (e.detail) or posts it: JSON with encryptedData and iv.
    #[arg(long, requires = "appid", conflicts_with = "alipay_public_key")]
    session_key: Option<String>,
    /// WeChat: the backend's own appid, which the payload's watermark must name.
    #[arg(long, requires = "session_key")]
    appid: Option<String>,
    /// AES key, base64 (needed for encrypted content).
    #[arg(long, env = "ALIPAY_SIM_AES_KEY")]
    aes_key: Option<String>,
    /// The app's sign type: RSA2 (SHA-256) or RSA (SHA-1).
    #[arg(long, default_value = "RSA2", value_parser = sign_type_parser())]
    sign_type: SignType,
    /// Print the conclusion as JSON {verdict, plaintext, reason}.
    #[arg(long)]
    json: bool,
}

/// `RSA2` or `RSA`, listed in `--help` and in the error for anything else.
fn sign_type_parser() -> impl clap::builder::TypedValueParser<Value = SignType> {
    use clap::builder::TypedValueParser as _;
    use strum::IntoEnumIterator as _;
    clap::builder::PossibleValuesParser::new(SignType::iter().map(SignType::as_str))
        .map(|name| name.parse().expect("one of the names listed"))
}

pub fn run(args: VerifyArgs, out: &mut impl Write) -> Result<ExitCode> {
    let VerifyArgs {
        alipay_public_key,
        aes_key,
        sign_type,
        json,
        session_key,
        appid,
    } = args;
    if let (Some(session_key), Some(appid)) = (session_key, appid) {
        return verify_wechat(&session_key, &appid, json, out);
    }
    let alipay_public_key = alipay_public_key.context("--alipay-public-key is needed")?;
    let keys = BackendKeys {
        alipay_public_key: parse_alipay_public_key(&alipay_public_key)
            .context("--alipay-public-key")?,
        aes_key: aes_key
            .map(|k| parse_aes_key(&k))
            .transpose()
            .context("--aes-key")?,
        sign_type,
    };
    let mut envelope = String::new();
    std::io::stdin()
        .read_to_string(&mut envelope)
        .context("reading the envelope from stdin (it must be UTF-8 text)")?;
    if envelope.trim().is_empty() {
        bail!("no envelope on stdin: pipe in the text of res.response");
    }
    let (note, envelope) = find_envelope(envelope)?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    let conclusion = oracle::verify(&envelope, &keys);
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&conclusion)?)?;
    } else if conclusion.verdict == Verdict::RejectParse {
        // Not an envelope at all: bad input, reported like every other.
        eprintln!("alipay-sim: {}: {}", conclusion.verdict, conclusion.reason);
    } else {
        writeln!(out, "{}: {}", conclusion.verdict, conclusion.reason)?;
        if let Some(plaintext) = &conclusion.plaintext {
            writeln!(out, "plaintext: {plaintext}")?;
        }
    }
    if conclusion.verdict != Verdict::Accept {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The envelope in what was piped into `verify`, with a note when it was wrapped: the body
/// `my.request` posts (`{"response": "<envelope>"}`), or the whole object `alipay-sim
/// envelope` prints. Anything else is taken as the envelope, for the oracle to judge.
fn find_envelope(input: String) -> Result<(Option<&'static str>, String)> {
    let Ok(serde_json::Value::Object(outer)) = serde_json::from_str(&input) else {
        return Ok((None, input));
    };
    if let (Some(payload), None) = (outer.get("payload"), outer.get("response")) {
        return match payload.get("response").and_then(|r| r.as_str()) {
            Some(envelope) => Ok((
                Some("this is `alipay-sim envelope` output; verifying its payload.response"),
                envelope.to_string(),
            )),
            None => bail!(
                "this is `alipay-sim envelope` output for a call where no envelope reaches the backend (callback {}): nothing to verify",
                outer.get("callback").and_then(|c| c.as_str()).unwrap_or("unknown")
            ),
        };
    }
    // An envelope's own `response` may be a string too (the ciphertext), but never one that
    // holds a JSON object with a `response` of its own.
    if let Some(serde_json::Value::String(inner)) = outer.get("response") {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(inner) {
            if fields.contains_key("response") {
                return Ok((
                    Some("this is the request body my.request sends ({\"response\": \"<envelope>\"}); verifying the envelope inside it"),
                    inner.clone(),
                ));
            }
        }
    }
    Ok((None, input))
}

/// A WeChat legacy payload on stdin, judged as a strict backend holding `session_key` does.
fn verify_wechat(
    session_key: &str,
    appid: &str,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the payload from stdin (it must be UTF-8 text)")?;
    let value: serde_json::Value = serde_json::from_str(&input)
        .context("stdin is not JSON: pipe in e.detail, or the body the page posts ({\"encryptedData\", \"iv\"})")?;
    // e.detail itself, or a tap's whole answer ({"detail": {...}}).
    let detail = if value.get("encryptedData").is_some() {
        &value
    } else {
        &value["detail"]
    };
    let (Some(data), Some(iv)) = (detail["encryptedData"].as_str(), detail["iv"].as_str()) else {
        bail!("no encryptedData and iv in what was piped in: nothing to verify (a failure or the code flow has none)");
    };
    let expect = alipay_sim::wechat::judge::judge_legacy(appid, session_key, iv, data);
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&expect)?)?;
    } else {
        writeln!(out, "{}: {}", expect.verdict, expect.reason)?;
        if let Some(plaintext) = &expect.plaintext {
            writeln!(out, "plaintext: {plaintext}")?;
        }
    }
    Ok(if expect.verdict == Verdict::Accept {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
