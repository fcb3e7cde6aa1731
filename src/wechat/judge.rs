//! What a correct backend concludes from a legacy payload (§4): decrypt strictly with the
//! session key it holds, parse the JSON, and check `watermark.appid` is its own.

use serde_json::Value;

use crate::crypto::{aes_cbc_decrypt_blocks, unb64, AesKey};
use crate::oracle::{Cause, Expect, Rule, Verdict};
use crate::wechat::crypto::decrypt;
use crate::wechat::rules::*;

fn expect(
    verdict: Verdict,
    rule: &'static Rule,
    reason: String,
    plaintext: Option<Value>,
) -> Expect {
    Expect {
        verdict,
        plaintext,
        cause: Cause::Rule(rule),
        reason,
        doc_policy: None,
    }
}

/// The conclusion of a strict backend of app `appid` holding `session_key`, given the page's
/// `encrypted_data` and `iv`.
pub fn judge_legacy(appid: &str, session_key: &str, iv: &str, encrypted_data: &str) -> Expect {
    if unb64("encryptedData", encrypted_data).is_err() || unb64("iv", iv).is_err() {
        let hint = if encrypted_data.contains(' ') {
            ": it holds spaces, so a '+' was turned into ' ' on the way (send JSON, or encodeURIComponent)"
        } else {
            ""
        };
        return expect(
            Verdict::RejectParse,
            &NOT_BASE64,
            format!("encryptedData or iv is not standard base64{hint}; answer 400, not 500"),
            None,
        );
    }
    let plain = match decrypt(session_key, iv, encrypted_data) {
        Ok(plain) => plain,
        Err(crate::crypto::CryptoError::Padding) if long_padding(session_key, iv, encrypted_data) => {
            return expect(
                Verdict::RejectDecrypt,
                &NONSTANDARD_PADDING,
                "the padding is longer than a 16-byte block: only a lenient unpadder takes it; WeChat never pads so".into(),
                None,
            )
        }
        Err(crate::crypto::CryptoError::CiphertextLength(len)) => {
            return expect(
                Verdict::RejectParse,
                &NOT_BASE64,
                format!("encryptedData decodes to {len} bytes, not whole 16-byte blocks"),
                None,
            )
        }
        Err(problem) => {
            return expect(
                Verdict::RejectDecrypt,
                &WRONG_KEY,
                format!("does not decrypt under the session key held ({problem}): log in again (wx.login before the tap) and ask the user to tap again"),
                None,
            )
        }
    };
    let parsed = std::str::from_utf8(&plain)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(Value::is_object);
    let Some(parsed) = parsed else {
        return expect(
            Verdict::RejectDecrypt,
            &WRONG_KEY,
            "the padding holds but the plaintext is not JSON: the wrong session key; log in again"
                .into(),
            None,
        );
    };
    let watermark = parsed["watermark"]["appid"].as_str().unwrap_or_default();
    if watermark != appid {
        return expect(
            Verdict::RejectForeign,
            &WATERMARK_OTHER_APP,
            format!("watermark.appid is {watermark:?}, not this app's {appid:?}: data made for another app"),
            None,
        );
    }
    expect(
        Verdict::Accept,
        &DECRYPTED,
        "decrypts, and the watermark is this app's: read purePhoneNumber and countryCode".into(),
        Some(parsed),
    )
}

/// Whether the payload decrypts to JSON followed by a padding of 17 to 32 equal bytes, the
/// non-standard padding lenient libraries accept.
fn long_padding(session_key: &str, iv: &str, encrypted_data: &str) -> bool {
    let (Ok(key), Ok(iv), Ok(data)) = (
        unb64("session_key", session_key),
        unb64("iv", iv),
        unb64("encryptedData", encrypted_data),
    ) else {
        return false;
    };
    let (Ok(key), Ok(iv)) = (AesKey::from_bytes(&key), <[u8; 16]>::try_from(iv)) else {
        return false;
    };
    let Ok(plain) = aes_cbc_decrypt_blocks(&key, &iv, &data) else {
        return false;
    };
    let pad = *plain.last().unwrap_or(&0) as usize;
    (17..=32).contains(&pad)
        && pad <= plain.len()
        && plain[plain.len() - pad..]
            .iter()
            .all(|&b| b as usize == pad)
        && serde_json::from_slice::<Value>(&plain[..plain.len() - pad]).is_ok()
}
