//! Alipay's open-platform gateway for the login (`POST /gateway.do`, v2), as a pure engine:
//! the canonical sign string of a request, the gateway's checks in order, and the signed
//! answer, over the exact bytes of its response object (docs/alipay-gateway-login.md §2, §3,
//! §6). It serves `alipay.system.oauth.token` (an authorization code or a refresh token) and
//! `alipay.user.info.share`; v3 and certificate mode are to come.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::crypto::{CryptoError, PublicKey, SignType, SigningKey};

/// The canonical string a v2 request is signed over (§2): every parameter but `sign`, empty
/// values dropped, sorted by key, `k=v` joined with `&`, values as they are (not encoded).
pub fn sign_string(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A gateway error: `{"code", "msg", "sub_code", "sub_msg"}` (§3, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub code: &'static str,
    pub msg: &'static str,
    pub sub_code: &'static str,
    pub sub_msg: String,
}

impl GatewayError {
    fn missing(sub_code: &'static str, what: &str) -> GatewayError {
        GatewayError {
            code: "40001",
            msg: "Missing Required Arguments",
            sub_code,
            sub_msg: format!("缺少{what}参数"),
        }
    }

    /// A 40002 Invalid Arguments refusal.
    pub fn invalid(sub_code: &'static str, sub_msg: impl Into<String>) -> GatewayError {
        GatewayError {
            code: "40002",
            msg: "Invalid Arguments",
            sub_code,
            sub_msg: sub_msg.into(),
        }
    }

    /// `isv.refresh-token-time-out`: a refresh token past its `re_expires_in`.
    pub fn refresh_token_time_out() -> GatewayError {
        GatewayError::invalid("isv.refresh-token-time-out", "刷新令牌已过期")
    }

    /// A v3 signature that does not verify, naming the string the gateway verified.
    pub fn invalid_signature_v3(signed: &str) -> GatewayError {
        GatewayError::invalid(
            "isv.invalid-signature",
            format!("验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{signed:?}"),
        )
    }

    /// `isv.invalid-app-id`: no app of that id.
    pub fn invalid_app_id() -> GatewayError {
        GatewayError::invalid("isv.invalid-app-id", "无效的AppID参数")
    }

    pub fn to_value(&self) -> Value {
        json!({"code": self.code, "msg": self.msg, "sub_code": self.sub_code, "sub_msg": self.sub_msg})
    }
}

/// The root of a method's answer: `alipay.system.oauth.token` → `alipay_system_oauth_token_response`.
pub fn response_root(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// The JSON text Alipay sends for `value`: compact, with `/` written `\/` (§3).
pub fn alipay_json(value: &Value) -> String {
    serde_json::to_string(value)
        .expect("JSON values serialise")
        .replace('/', "\\/")
}

/// The answer's body: `{"<root>": <inner>, "sign": "..."}`, the signature over exactly the
/// inner object's bytes, with the Alipay key (§3); in certificate mode `alipay_cert_sn` sits
/// between the object and `sign` (§5).
pub fn signed_answer(
    root: &str,
    inner: &Value,
    alipay_key: &SigningKey,
    sign_type: SignType,
    alipay_cert_sn: Option<&str>,
) -> Result<String, CryptoError> {
    let inner = alipay_json(inner);
    let sign = alipay_key.sign(sign_type.into(), inner.as_bytes())?;
    let cert_sn = alipay_cert_sn
        .map(|sn| {
            format!(
                ",\"alipay_cert_sn\":{}",
                serde_json::to_string(sn).expect("a string serialises")
            )
        })
        .unwrap_or_default();
    Ok(format!(
        "{{\"{root}\":{inner}{cert_sn},\"sign\":{}}}",
        serde_json::to_string(&sign).expect("a string serialises")
    ))
}

/// Certificate mode's SNs of a request, against the app's (§5): `app_cert_sn` must be its app
/// certificate's, `alipay_root_cert_sn` the root file's (the refusals' codes are chosen).
pub fn check_cert_sns(
    params: &BTreeMap<String, String>,
    app_cert_sn: &str,
    root_cert_sn: &str,
) -> Result<(), GatewayError> {
    let given = |key: &str| params.get(key).map(String::as_str).unwrap_or_default();
    if given("app_cert_sn") != app_cert_sn {
        return Err(GatewayError::invalid(
            "isv.invalid-app-cert-sn",
            format!(
                "应用公钥证书序列号不匹配：请求的 app_cert_sn 为 {:?}，应用的为 {app_cert_sn}",
                given("app_cert_sn")
            ),
        ));
    }
    if given("alipay_root_cert_sn") != root_cert_sn {
        return Err(GatewayError::invalid(
            "isv.invalid-alipay-root-cert-sn",
            format!(
                "支付宝根证书序列号不匹配：请求的 alipay_root_cert_sn 为 {:?}",
                given("alipay_root_cert_sn")
            ),
        ));
    }
    Ok(())
}

/// The methods the gateway serves.
pub const OAUTH_TOKEN: &str = "alipay.system.oauth.token";
pub const USER_INFO_SHARE: &str = "alipay.user.info.share";
/// Certificate mode's download of the Alipay certificate an answer's `alipay_cert_sn` names.
pub const CERT_DOWNLOAD: &str = "alipay.open.app.alipaycert.download";

/// The gateway's common checks, in order (§6, precedence chosen): `app_id`, `method`, `sign`,
/// `sign_type`, `timestamp` present; the app known (`app_public_key` is its 应用公钥, `None`
/// for an unknown app); the method known; then the signature over [`sign_string`] with the
/// app's public key. The refusal of a signature names the string the gateway signed, with `&`
/// written `&amp;` as Alipay writes it.
pub fn check_request(
    params: &BTreeMap<String, String>,
    app_public_key: Option<Option<&PublicKey>>,
) -> Result<SignType, GatewayError> {
    let present = |key: &str| params.get(key).filter(|v| !v.is_empty());
    if present("app_id").is_none() {
        return Err(GatewayError::missing("isv.missing-app-id", "AppID"));
    }
    if present("method").is_none() {
        return Err(GatewayError::missing("isv.missing-method", "方法名"));
    }
    let Some(sign) = present("sign") else {
        return Err(GatewayError::missing("isv.missing-signature", "签名"));
    };
    let Some(sign_type) = present("sign_type") else {
        return Err(GatewayError::missing(
            "isv.missing-signature-type",
            "签名类型",
        ));
    };
    if present("timestamp").is_none() {
        return Err(GatewayError::missing("isv.missing-timestamp", "时间戳"));
    }
    let Some(app_public_key) = app_public_key else {
        return Err(GatewayError::invalid_app_id());
    };
    let sign_type: SignType = sign_type.parse().map_err(|_| {
        GatewayError::invalid(
            "isv.invalid-signature-type",
            format!("无效的签名类型: {sign_type}"),
        )
    })?;
    if !matches!(
        params.get("method").map(String::as_str),
        Some(OAUTH_TOKEN | USER_INFO_SHARE | CERT_DOWNLOAD)
    ) {
        return Err(GatewayError::invalid(
            "isv.invalid-method",
            "不存在的方法名",
        ));
    }
    let signed = sign_string(params);
    let Some(key) = app_public_key else {
        return Err(GatewayError::invalid(
            "isv.invalid-signature",
            format!("验签出错，应用未设置应用公钥（开发设置 › 接口加签方式），网关生成的验签字符串为：{}", signed.replace('&', "&amp;")),
        ));
    };
    if !key.verify(sign_type.into(), signed.as_bytes(), sign) {
        let empty: Vec<&str> = params
            .iter()
            .filter(|(k, v)| v.is_empty() && k.as_str() != "sign")
            .map(|(k, _)| k.as_str())
            .collect();
        let note = if empty.is_empty() {
            String::new()
        } else {
            format!("（空值参数不参与验签：{}）", empty.join(", "))
        };
        return Err(GatewayError::invalid(
            "isv.invalid-signature",
            format!(
                "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：{}{note}",
                signed.replace('&', "&amp;")
            ),
        ));
    }
    Ok(sign_type)
}

/// A user as `alipay.system.oauth.token` names them: `user_id`, `open_id`, or both (§1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginUser {
    pub user_id: Option<String>,
    pub open_id: Option<String>,
    /// Present once the app is grouped with others (§1.2): the same for one account across
    /// the group's apps.
    pub union_id: Option<String>,
}

impl LoginUser {
    /// The id a backend keys the user by: `open_id`, else `user_id`.
    pub fn id(&self) -> &str {
        self.open_id
            .as_deref()
            .or(self.user_id.as_deref())
            .unwrap_or_default()
    }
}

/// `alipay.system.oauth.token`'s success object, keys in the order real answers have
/// (alphabetical, `open_id` last; where `union_id` and `user_id` go is chosen: alphabetical), `expires_in` and `re_expires_in` as numbers (§1.2).
pub fn oauth_token_success(
    user: &LoginUser,
    access_token: &str,
    refresh_token: &str,
    auth_start: &str,
) -> Value {
    let mut inner = Map::new();
    inner.insert("access_token".into(), access_token.into());
    inner.insert("auth_start".into(), auth_start.into());
    inner.insert("expires_in".into(), 1_296_000.into());
    inner.insert("re_expires_in".into(), 2_592_000.into());
    inner.insert("refresh_token".into(), refresh_token.into());
    if let Some(union_id) = &user.union_id {
        inner.insert("union_id".into(), union_id.clone().into());
    }
    if let Some(user_id) = &user.user_id {
        inner.insert("user_id".into(), user_id.clone().into());
    }
    if let Some(open_id) = &user.open_id {
        inner.insert("open_id".into(), open_id.clone().into());
    }
    Value::Object(inner)
}

/// `isv.code-invalid`: an unknown, used, expired or foreign code (§6).
pub fn code_invalid() -> GatewayError {
    GatewayError::invalid("isv.code-invalid", "授权码code无效")
}

/// A `grant_type` other than `authorization_code` and `refresh_token`.
pub fn grant_type_invalid(grant_type: &str) -> GatewayError {
    GatewayError::invalid(
        "isv.grant-type-invalid",
        format!("不支持的grant_type: {grant_type}"),
    )
}

/// An unknown refresh token, or one already used (each refresh gives a new one, §9).
pub fn refresh_token_invalid(used: bool) -> GatewayError {
    if used {
        GatewayError::invalid("isv.refreshed-token-invalid", "刷新令牌已被使用")
    } else {
        GatewayError::invalid("isv.refresh-token-invalid", "刷新令牌refresh_token无效")
    }
}

/// `alipay.user.info.share` with a bad `auth_token`, or one from an `auth_base` code (§1.3,
/// §6): 20001.
pub fn invalid_auth_token(why: &str) -> GatewayError {
    GatewayError {
        code: "20001",
        msg: "Insufficient Token Permissions",
        sub_code: "aop.invalid-auth-token",
        sub_msg: format!("无效的访问令牌{why}"),
    }
}

/// An expired `auth_token`: 20001 `aop.auth-token-time-out`.
pub fn auth_token_time_out() -> GatewayError {
    GatewayError {
        code: "20001",
        msg: "Insufficient Token Permissions",
        sub_code: "aop.auth-token-time-out",
        sub_msg: "访问令牌已过期".into(),
    }
}

/// `alipay.user.info.share`'s success object (§1.3): `code`, `msg`, then the user's fields;
/// the avatar URL is written with `\/` once signed.
pub fn user_info_success(user: &LoginUser, nick_name: &str, avatar: &str) -> Value {
    let mut inner = Map::new();
    inner.insert("code".into(), "10000".into());
    inner.insert("msg".into(), "Success".into());
    inner.insert("avatar".into(), avatar.into());
    inner.insert("nick_name".into(), nick_name.into());
    if let Some(user_id) = &user.user_id {
        inner.insert("user_id".into(), user_id.clone().into());
    }
    if let Some(open_id) = &user.open_id {
        inner.insert("open_id".into(), open_id.clone().into());
    }
    Value::Object(inner)
}

crate::wire::wire_enum! {
    "kebab-case",
    /// A deliberate mistake in the gateway's v2 answers, set on an app
    /// (`PUT /api/v1/apps/{app_id}/gateway-fault`): what a client must survive (docs §10).
    pub enum GatewayFault {
        /// One character of the response object changed after signing.
        TamperedBody,
        /// Signed with a key that is not the app's Alipay key.
        OtherKey,
        /// No `sign` at all.
        NoSign,
        /// The response object twice, the first a forgery with another user.
        RepeatedRoot,
        /// `/` left unescaped in the body, and signed so: the signature covers the bytes sent.
        SlashesUnescaped,
        /// `20000 isp.unknow-error`, signed: the gateway is busy.
        SystemBusy,
    }
}

impl GatewayFault {
    /// What a correct client concludes from an answer with this fault, and why.
    pub fn conclusion(self) -> (crate::oracle::Verdict, &'static str) {
        use crate::oracle::Verdict;
        match self {
            GatewayFault::TamperedBody => (Verdict::RejectSignature, "the signature does not cover the bytes received: refuse the login"),
            GatewayFault::OtherKey => (Verdict::RejectSignature, "signed by another key than the app's Alipay key: refuse the login"),
            GatewayFault::NoSign => (Verdict::Unsigned, "no sign: nothing proves Alipay sent it; refuse the login"),
            GatewayFault::RepeatedRoot => (Verdict::RejectParse, "two response objects: refuse, whichever one a parser would keep"),
            GatewayFault::SlashesUnescaped => (Verdict::Accept, "the signature covers the bytes as sent: verify the raw span (a client that re-escapes / before verifying fails)"),
            GatewayFault::SystemBusy => (Verdict::PlatformRefused, "20000 isp.unknow-error: no login; retry later"),
        }
    }
}

/// [`signed_answer`] with `fault` made: the bytes a faulty gateway would send.
pub fn faulted_answer(
    root: &str,
    inner: &Value,
    keys: (&SigningKey, &SigningKey),
    sign_type: SignType,
    alipay_cert_sn: Option<&str>,
    fault: GatewayFault,
) -> Result<String, CryptoError> {
    let (alipay_key, other_key) = keys;
    let sign_of = |text: &str, key: &SigningKey| -> Result<String, CryptoError> {
        Ok(
            serde_json::to_string(&key.sign(sign_type.into(), text.as_bytes())?)
                .expect("a string serialises"),
        )
    };
    let cert_sn = alipay_cert_sn
        .map(|sn| {
            format!(
                ",\"alipay_cert_sn\":{}",
                serde_json::to_string(sn).expect("a string serialises")
            )
        })
        .unwrap_or_default();
    let text = alipay_json(inner);
    Ok(match fault {
        GatewayFault::TamperedBody => {
            let sign = sign_of(&text, alipay_key)?;
            format!("{{\"{root}\":{}{cert_sn},\"sign\":{sign}}}", tamper(&text))
        }
        GatewayFault::OtherKey => {
            format!(
                "{{\"{root}\":{text}{cert_sn},\"sign\":{}}}",
                sign_of(&text, other_key)?
            )
        }
        GatewayFault::NoSign => format!("{{\"{root}\":{text}{cert_sn}}}"),
        GatewayFault::RepeatedRoot => {
            let sign = sign_of(&text, alipay_key)?;
            format!(
                "{{\"{root}\":{},\"{root}\":{text}{cert_sn},\"sign\":{sign}}}",
                tamper(&text)
            )
        }
        GatewayFault::SlashesUnescaped => {
            let plain = serde_json::to_string(inner).expect("JSON values serialise");
            format!(
                "{{\"{root}\":{plain}{cert_sn},\"sign\":{}}}",
                sign_of(&plain, alipay_key)?
            )
        }
        GatewayFault::SystemBusy => {
            let busy = alipay_json(
                &json!({"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error", "sub_msg": "系统繁忙"}),
            );
            format!(
                "{{\"error_response\":{busy}{cert_sn},\"sign\":{}}}",
                sign_of(&busy, alipay_key)?
            )
        }
    })
}

/// The text with the last letter or digit of its last string value changed: the same shape,
/// another user.
pub(crate) fn tamper(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    if let Some(at) = chars.iter().rposition(|c| c.is_ascii_alphanumeric()) {
        chars[at] = match chars[at] {
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            c => (c as u8 + 1) as char,
        };
    }
    chars.into_iter().collect()
}

/// A v3 request's `authorization` header, read (§4): `ALIPAY-SHA256withRSA app_id=…,
/// nonce=…,timestamp=…[,expired_seconds=…],sign=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Authorization {
    /// Everything before `,sign=`: what the signature covers first.
    pub auth_string: String,
    pub app_id: String,
    /// Certificate mode's `app_cert_sn` (§5), when sent.
    pub app_cert_sn: Option<String>,
    pub sign: String,
}

/// A v3 error: HTTP 400 with `{code, message, links}` (§4, §9's default).
pub fn v3_error_body(error: &GatewayError) -> Value {
    json!({"code": error.sub_code, "message": error.sub_msg, "links": []})
}

/// Reads a v3 `authorization` header; the refusal says what is missing.
pub fn parse_v3_authorization(header: Option<&str>) -> Result<V3Authorization, GatewayError> {
    let missing = |what: &str| {
        GatewayError::invalid(
            "isv.invalid-signature",
            format!("authorization 头格式错误：{what}（应为 ALIPAY-SHA256withRSA app_id=…,nonce=…,timestamp=…,sign=…）"),
        )
    };
    let header =
        header.ok_or_else(|| GatewayError::missing("isv.missing-signature", "authorization 头"))?;
    let rest = header
        .strip_prefix("ALIPAY-SHA256withRSA ")
        .ok_or_else(|| missing("不是 ALIPAY-SHA256withRSA"))?;
    let (auth_string, sign) = rest
        .rsplit_once(",sign=")
        .ok_or_else(|| missing("没有 sign"))?;
    let field = |name: &str| {
        auth_string
            .split(',')
            .find_map(|part| part.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    let app_id = field("app_id").ok_or_else(|| missing("没有 app_id"))?;
    field("nonce").ok_or_else(|| missing("没有 nonce"))?;
    field("timestamp").ok_or_else(|| missing("没有 timestamp"))?;
    Ok(V3Authorization {
        auth_string: auth_string.to_string(),
        app_id,
        app_cert_sn: field("app_cert_sn"),
        sign: sign.to_string(),
    })
}

/// What a v3 request is signed over (§4): `authString\nMETHOD\npath?query\nbody\n`, and the
/// app auth token's line when the header is sent.
pub fn v3_sign_string(
    auth_string: &str,
    method: &str,
    path_and_query: &str,
    body: &str,
    app_auth_token: Option<&str>,
) -> String {
    let mut text = format!("{auth_string}\n{method}\n{path_and_query}\n{body}\n");
    if let Some(token) = app_auth_token {
        text.push_str(token);
        text.push('\n');
    }
    text
}

/// What a v3 answer is signed over: `timestamp\nnonce\nbody\n` (§4).
pub fn v3_response_sign_string(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// `alipay.open.app.alipaycert.download`'s answer (§5), unsigned as the SDKs expect it
/// (smartwalle/alipay and the .NET SDK skip its verification): the whole body, the certificate
/// named by `biz_content`'s `alipay_cert_sn` as base64 of its PEM, or a refusal for another SN
/// (40004 `isv.alipay-cert-sn-invalid`, chosen: the sources name none).
pub fn cert_download_answer(
    params: &BTreeMap<String, String>,
    alipay_cert_sn: &str,
    alipay_cert_pem: &str,
) -> String {
    use base64::Engine;
    let asked = params
        .get("biz_content")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|biz| biz["alipay_cert_sn"].as_str().map(String::from));
    let inner = match asked.as_deref() {
        Some(sn) if sn == alipay_cert_sn => serde_json::json!({
            "code": "10000",
            "msg": "Success",
            "alipay_cert_content": base64::engine::general_purpose::STANDARD.encode(alipay_cert_pem),
        }),
        Some(sn) => serde_json::json!({
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "isv.alipay-cert-sn-invalid",
            "sub_msg": format!("支付宝公钥证书序列号不存在: {sn}"),
        }),
        None => serde_json::json!({
            "code": "40001",
            "msg": "Missing Required Arguments",
            "sub_code": "isv.missing-alipay-cert-sn",
            "sub_msg": "缺少必选参数 biz_content.alipay_cert_sn",
        }),
    };
    format!(
        "{{\"{}\":{}}}",
        response_root(CERT_DOWNLOAD),
        alipay_json(&inner)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_string_is_the_docs_example() {
        // §2: what Node 4.14's exec signs for an oauth.token call.
        let params: BTreeMap<String, String> = [
            ("method", "alipay.system.oauth.token"),
            ("app_id", "2021000000000001"),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("sign_type", "RSA2"),
            ("timestamp", "2026-11-21 18:57:47"),
            ("sign", "cK/KKo=="),
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("empty", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            sign_string(&params),
            "app_id=2021000000000001&charset=utf-8&code=x&grant_type=authorization_code&method=alipay.system.oauth.token&sign_type=RSA2&timestamp=2026-11-21 18:57:47&version=1.0"
        );
    }

    #[test]
    fn alipay_escapes_slashes_and_signs_the_inner_bytes() {
        let inner = json!({"avatar": "https://a/b"});
        assert_eq!(alipay_json(&inner), r#"{"avatar":"https:\/\/a\/b"}"#);
        assert_eq!(
            response_root(OAUTH_TOKEN),
            "alipay_system_oauth_token_response"
        );
    }
}
