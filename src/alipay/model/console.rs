//! The app's console (开放平台控制台): account, packages, phone-number application, signing, AES
//! key, gateway and ISV authorisation.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::crypto::SignType;

/// The app's configuration in the open platform console (开放平台控制台).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", default, deny_unknown_fields)]
#[schema(default)]
pub struct Console {
    /// 账号主体: the API is for enterprise accounts only.
    #[schema(required)]
    pub account: AccountKind,
    /// Feature package 获取会员手机号 added to the app.
    #[schema(required)]
    pub phone_number_package: bool,
    /// 用户信息申请: the application to read the member's phone number.
    #[schema(required)]
    pub phone_application: Application,
    /// JSAPI 基础包 added to the app.
    #[schema(required)]
    pub jsapi_base_package: bool,
    /// 接口加签方式: the signing method (and so the Alipay public key), or none.
    #[schema(required)]
    pub signing: Signing,
    /// 接口加签方式's mode: 公钥 (the Alipay public key, pasted as text) or 公钥证书
    /// (certificates: the app, Alipay public-key and root certificates, downloaded). Signing and
    /// content are the same in both (spec §5.1).
    #[schema(required)]
    pub signing_key_mode: SigningKeyMode,
    /// AES 密钥 (内容加密方式).
    #[schema(required)]
    pub aes_key: AesKeySetting,
    /// 应用网关 set.
    #[schema(required)]
    pub gateway: bool,
    /// 服务商代商家: an ISV (third-party service provider) acts for the merchant.
    #[schema(required)]
    pub isv: Option<Isv>,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            account: AccountKind::Enterprise,
            phone_number_package: true,
            phone_application: Application::Approved,
            jsapi_base_package: true,
            signing: Signing::Rsa2,
            signing_key_mode: SigningKeyMode::PublicKey,
            aes_key: AesKeySetting::Set,
            gateway: true,
            isv: None,
        }
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum AccountKind {
        Enterprise,
        Personal,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// State of the phone-number application (用户信息申请 → 获取会员手机号).
    pub enum Application {
        None,
        Pending,
        Approved,
        Rejected,
    }
}

crate::wire::wire_enum! {
    "UPPERCASE",
    pub enum Signing {
        // `none`, as serde and strum each need to be told (a test holds the two names equal).
        #[serde(rename = "none")]
        #[strum(serialize = "none")]
        None,
        Rsa2,
        Rsa,
    }
}

impl Signing {
    pub fn sign_type(self) -> Option<SignType> {
        match self {
            Signing::None => None,
            Signing::Rsa2 => Some(SignType::Rsa2),
            Signing::Rsa => Some(SignType::Rsa),
        }
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// How the app holds the Alipay public key (接口加签方式: 公钥 or 公钥证书).
    pub enum SigningKeyMode {
        /// 公钥: the Alipay public key itself.
        PublicKey,
        /// 公钥证书: the Alipay public key in `alipayCertPublicKey_RSA2.crt`, with the app and
        /// root certificates.
        Certificate,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum AesKeySetting {
        Set,
        NotSet,
        /// Configured, but the platform cannot encrypt with it (40002 isv.invalid-encrypt).
        Broken,
    }
}

/// A third-party app (第三方应用) acting for the merchant: a template (三方模板) or a plugin
/// (插件代商户获取). On a device the products in use are the third party's, so its own feature
/// and JSAPI packages count, not the merchant's; the envelope is signed with its Alipay key pair
/// and encrypted with the merchant's AES key, which it sets with `alipay.open.auth.app.aes.set`
/// (spec §4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Isv {
    /// The third-party app's (or plugin's) app id: what `protocols.isvAppId` must carry.
    pub isv_app_id: String,
    /// `template` (default) or `plugin`: a plugin's calls need base library 1.22.0 and client
    /// 10.1.75.
    #[serde(default)]
    pub kind: IsvKind,
    /// Feature package 获取会员手机号 added to the third-party app.
    #[serde(default = "yes")]
    pub phone_number_package: bool,
    /// JSAPI 基础包 added to the third-party app.
    #[serde(default = "yes")]
    pub jsapi_base_package: bool,
    /// How many times the ISV has called `alipay.open.auth.app.aes.set` for this merchant; each
    /// call replaces the merchant's AES key (1: the key the app was created with).
    #[serde(default = "one")]
    #[schema(minimum = 1)]
    pub aes_key_sets: u32,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

impl Isv {
    /// A template ISV with every package and the merchant's first AES key.
    pub fn template(isv_app_id: &str) -> Self {
        Isv {
            isv_app_id: isv_app_id.to_string(),
            kind: IsvKind::Template,
            phone_number_package: true,
            jsapi_base_package: true,
            aes_key_sets: 1,
        }
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// How the third party reaches the merchant's mini program.
    #[derive(Default)]
    pub enum IsvKind {
        /// 三方模板: the template mini program calls with `protocols.isvAppId` = the template's
        /// third-party app id.
        #[default]
        Template,
        /// 插件代商户获取: a plugin calls with `protocols.isvAppId` = the plugin's app id.
        Plugin,
    }
}
