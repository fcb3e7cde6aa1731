//! The Alipay login in the shell: what the gateway remembers of an app's login (its
//! authorization codes and tokens, in memory only), and how the app's own key pair is shown.

use std::collections::BTreeMap;

use serde::Serialize;

/// One `my.getAuthCode` code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) issued_at: u64,
    pub(crate) scopes: Vec<String>,
    pub(crate) used: bool,
}

/// An access token or a refresh token the gateway issued.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) issued_at: u64,
    /// The scopes of the code the login started with: `alipay.user.info.share` wants auth_user.
    pub(crate) scopes: Vec<String>,
    pub(crate) used: bool,
}

/// An access token's life (`expires_in`, 15 days) and a refresh token's (`re_expires_in`, 30).
pub(crate) const ACCESS_TOKEN_TTL: u64 = 1_296_000;
pub(crate) const REFRESH_TOKEN_TTL: u64 = 2_592_000;

/// What the gateway remembers of an app's login.
#[derive(Debug, Default)]
pub(crate) struct LoginMemory {
    pub(crate) codes: BTreeMap<String, AuthCode>,
    pub(crate) access_tokens: BTreeMap<String, IssuedToken>,
    pub(crate) refresh_tokens: BTreeMap<String, IssuedToken>,
    /// How many codes and tokens were drawn, for the next one's value.
    pub(crate) drawn: u64,
}

/// How long a code works (3 minutes to 24 hours per the docs; chosen 180 s).
pub(crate) const AUTH_CODE_TTL: u64 = 180;

/// The scopes `my.getAuthCode` takes.
pub(crate) const SCOPES: [&str; 3] = ["auth_base", "auth_user", "auth_zhima"];

/// The app's own key pair, for its requests to the gateway: what the developer configures
/// their SDK with (`privateKey`), and the public key the gateway verifies with.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AppKeyPairView {
    /// The app public key (应用公钥) the gateway verifies requests with, one-line base64.
    pub app_public_key: String,
    /// Whether `app_public_key` is one the developer uploaded (then no private key is shown).
    pub uploaded: bool,
    /// The app private key the simulator made, PKCS#1 PEM (the Node and Python SDKs), or null
    /// once the developer uploaded a key of their own.
    #[schema(required)]
    pub app_private_key_pkcs1_pem: Option<String>,
    /// The same, PKCS#8 PEM (the Java SDK).
    #[schema(required)]
    pub app_private_key_pkcs8_pem: Option<String>,
}
