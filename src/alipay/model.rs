//! The inputs of one `my.getPhoneNumber` call: the app's console configuration, the platform's
//! behaviour, the user and device, and what the user does.
//!
//! Every type deserialises from the JSON used in scenario files, with defaults that describe a
//! fully configured enterprise app whose user consents on a recent phone, so a scenario only
//! states what differs. Unknown fields are refused, naming the field.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::alipay::error::Error;
use crate::alipay::fault::Fault;
use crate::crypto::SignType;

// Each of these structs refuses an array in place of its object (see `crate::de`).
crate::de::object_only!(serialize and deserialize: Console, Isv, Quirks, User, Action);

// Each section is written whole, so its schema requires every field (`#[schema(required)]`, as
// `#[serde(default)]` would make the derive leave them optional), and gives the defaults; a
// request may leave any field out: it refers to the section's `Partial` schema.
crate::schema::partial_schemas!(
    PartialConsole: Console,
    PartialQuirks: Quirks,
    PartialUser: User,
    PartialAction: Action,
);

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
            aes_key: AesKeySetting::Set,
            gateway: true,
            isv: None,
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum AccountKind {
    Enterprise,
    Personal,
}

/// State of the phone-number application (用户信息申请 → 获取会员手机号).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Application {
    None,
    Pending,
    Approved,
    Rejected,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum Signing {
    // `none`, as serde and strum each need to be told (a test holds the two names equal).
    #[serde(rename = "none")]
    #[strum(serialize = "none")]
    None,
    Rsa2,
    Rsa,
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

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum AesKeySetting {
    Set,
    NotSet,
    /// Configured, but the platform cannot encrypt with it (40002 isv.invalid-encrypt).
    Broken,
}

/// An ISV acting for the merchant: its plugin mounts the feature packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Isv {
    pub isv_app_id: String,
}

/// The platform's quirks (the `platform` section of a call): how it behaves where the sources
/// disagree or are silent, and whether it is busy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", default, deny_unknown_fields)]
#[schema(default)]
pub struct Quirks {
    /// Answer 20000 "Service Currently Unavailable" never, always, or with a probability.
    #[schema(required)]
    pub busy: Busy,
    /// Form of the 20000 and 40001 `isv.missing-default-signature-type` envelopes. The docs
    /// state the plain form only for my.getRunData; default `plain`.
    #[schema(required)]
    pub error_form: ErrorForm,
    /// What an app without a signing method gets: the documented 40001
    /// `isv.missing-default-signature-type` (default), or the normal answer without `sign`.
    #[schema(required)]
    pub without_signing: WithoutSigning,
    /// The FAQ says a missing AES key drops `sign`; which setting alone suffices is not
    /// documented. Default `true`; `false` gives the signed plain 40001 of the known-answer vectors.
    #[schema(required)]
    pub unsigned_without_aes_key: bool,
    /// Likewise for a missing application gateway. Default `true`.
    #[schema(required)]
    pub unsigned_without_gateway: bool,
    /// Minimum versions for `my.getPhoneNumber`: `current` docs (base library 1.16.4, client
    /// 10.1.35, the default) or `older-docs` (1.22.0 / 10.1.75).
    #[schema(required)]
    pub version_thresholds: VersionThresholds,
    /// `errorMessage` of the button's `onError` when the user refuses. No official string is
    /// documented; blog posts show 用户取消授权.
    #[schema(required)]
    pub refusal_message: String,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            busy: Busy::Never,
            error_form: ErrorForm::Plain,
            without_signing: WithoutSigning::MissingDefaultSignatureType,
            unsigned_without_aes_key: true,
            unsigned_without_gateway: true,
            version_thresholds: VersionThresholds::Current,
            refusal_message: "用户取消授权".to_string(),
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[strum(serialize_all = "kebab-case")]
pub enum Busy {
    Never,
    Always,
    /// Busy on a fraction of calls, drawn from the seed and the call's index so a run repeats.
    Probability(f64),
}

/// `"never"`, `"always"` or `{"probability": p}`, as serde writes the enum; `p` within
/// `[0, 1]`, as [`Call::validate`] requires.
impl utoipa::PartialSchema for Busy {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let probability = ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0.0))
            .maximum(Some(1.0))
            .description(Some(
                "Busy on this fraction of calls, drawn from the seed and the call's index so \
                 a run repeats",
            ));
        OneOfBuilder::new()
            .description(Some(
                "Answer 20000 \"Service Currently Unavailable\" never, always, or with a \
                 probability",
            ))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["never", "always"])),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("probability", probability)
                    .required("probability")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .into()
    }
}

impl ToSchema for Busy {}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ErrorForm {
    Plain,
    Encrypted,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum WithoutSigning {
    MissingDefaultSignatureType,
    DropSign,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum VersionThresholds {
    Current,
    OlderDocs,
}

impl VersionThresholds {
    /// (base library, client) minimum versions for `my.getPhoneNumber`.
    pub fn minimums(self) -> (Version, Version) {
        match self {
            VersionThresholds::Current => (Version::new(&[1, 16, 4]), Version::new(&[10, 1, 35])),
            VersionThresholds::OlderDocs => (Version::new(&[1, 22, 0]), Version::new(&[10, 1, 75])),
        }
    }
}

/// The member and their device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", default, deny_unknown_fields)]
#[schema(default)]
pub struct User {
    /// The bound mobile: mainland (11 digits, no +86), overseas `国家码-号码`, or empty.
    #[schema(required)]
    pub mobile: Mobile,
    /// Alipay client version.
    #[schema(required)]
    pub client_version: Version,
    /// Mini-program base library (基础库) version.
    #[schema(required)]
    pub base_library_version: Version,
    #[schema(required)]
    pub environment: Environment,
}

impl Default for User {
    fn default() -> Self {
        User {
            mobile: Mobile("13800000000".to_string()),
            client_version: Version::new(&[10, 5, 36]),
            base_library_version: Version::new(&[2, 9, 21]),
            environment: Environment::Device,
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Environment {
    /// A real phone (真机).
    Device,
    /// The IDE simulator, which answers 该接口暂不支持.
    IdeSimulator,
}

/// What the mini program and the user do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", default, deny_unknown_fields)]
#[schema(default)]
pub struct Action {
    #[schema(required)]
    pub kind: ActionKind,
    /// `protocols.isvAppId` passed to `my.getPhoneNumber` (an ISV plugin's own app id).
    #[schema(required)]
    pub isv_app_id: Option<String>,
}

impl Default for Action {
    fn default() -> Self {
        Action {
            kind: ActionKind::Consent,
            isv_app_id: None,
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ActionKind {
    /// The user taps the getAuthorize button and allows; the page calls `my.getPhoneNumber`.
    Consent,
    /// The user taps the button and refuses.
    Refuse,
    /// The page calls `my.getPhoneNumber` without the button's consent.
    NoConsent,
}

impl ActionKind {
    /// The name in files and forms: `consent`, `refuse` or `no-consent`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A bound mobile number, validated on the way in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mobile(String);

/// A string: 11 mainland digits, an overseas `国家码-号码`, or empty.
impl utoipa::PartialSchema for Mobile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(r"^([0-9]{11}|[0-9]{1,4}-[0-9]{4,15})?$"))
            .description(Some(
                "The bound mobile: 11 mainland digits without +86, an overseas number as \
                 country code, dash, number (1-1234432112), or empty for none",
            ))
            .into()
    }
}

impl ToSchema for Mobile {}

impl Mobile {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn kind(&self) -> MobileKind {
        if self.0.is_empty() {
            MobileKind::None
        } else if self.0.contains('-') {
            MobileKind::Overseas
        } else {
            MobileKind::Mainland
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MobileKind {
    Mainland,
    Overseas,
    None,
}

impl TryFrom<String> for Mobile {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for Mobile {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let digits = |s: &str, min: usize, max: usize| {
            (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
        };
        let valid = match text.split_once('-') {
            None => text.is_empty() || digits(text, 11, 11),
            Some((country, number)) => digits(country, 1, 4) && digits(number, 4, 15),
        };
        if valid {
            Ok(Mobile(text.to_string()))
        } else {
            Err(format!(
                "invalid mobile {text:?}: expected 11 mainland digits without +86 (13800000000), \
                 an overseas number as country code, dash, number (1-1234432112), or \"\" for none"
            ))
        }
    }
}

impl From<Mobile> for String {
    fn from(mobile: Mobile) -> String {
        mobile.0
    }
}

/// A dotted version number such as `10.1.35`; compared part by part, missing parts as 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version(Vec<u32>);

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

/// A string of one to four dotted numbers.
impl utoipa::PartialSchema for Version {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(r"^[0-9]+(\.[0-9]+){0,3}$"))
            .description(Some("A dotted version number such as 10.1.35"))
            .into()
    }
}

impl ToSchema for Version {}

impl Version {
    pub fn new(parts: &[u32]) -> Self {
        Version(parts.to_vec())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let len = self.0.len().max(other.0.len());
        let part = |v: &Version, i: usize| v.0.get(i).copied().unwrap_or(0);
        (0..len)
            .map(|i| part(self, i).cmp(&part(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Result<Vec<u32>, _> = text.split('.').map(str::parse).collect();
        match parts {
            Ok(parts) if !parts.is_empty() && parts.len() <= 4 => Ok(Version(parts)),
            _ => Err(format!(
                "invalid version {text:?}: expected dotted numbers such as 10.1.35"
            )),
        }
    }
}

impl TryFrom<String> for Version {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Version> for String {
    fn from(version: Version) -> String {
        version.to_string()
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_validated() {
        assert_eq!(
            "13800000000".parse::<Mobile>().unwrap().kind(),
            MobileKind::Mainland
        );
        assert_eq!(
            "1-1234432112".parse::<Mobile>().unwrap().kind(),
            MobileKind::Overseas
        );
        assert_eq!("".parse::<Mobile>().unwrap().kind(), MobileKind::None);
        for bad in ["+8613800000000", "1380000000", "12345-1234", "86-", "abc"] {
            let err = bad.parse::<Mobile>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn versions_compare_numerically() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(v("1.16.4") < v("1.22.0"));
        assert!(v("10.1.35") > v("10.1.4"));
        assert_eq!(v("2.0"), v("2.0.0"));
        assert!("1.x".parse::<Version>().unwrap_err().contains("1.x"));
    }

    #[test]
    fn defaults_describe_a_fully_configured_app() {
        let console: Console = serde_json::from_str("{}").unwrap();
        assert_eq!(console, Console::default());
        assert_eq!(console.signing, Signing::Rsa2);
        let partial: Console = serde_json::from_str(r#"{"phone_application":"pending"}"#).unwrap();
        assert_eq!(partial.phone_application, Application::Pending);
        assert!(partial.gateway);
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = serde_json::from_str::<Console>(r#"{"gatway": false}"#).unwrap_err();
        assert!(err.to_string().contains("gatway"), "{err}");
        let err = serde_json::from_str::<User>(r#"{"mobile": "12"}"#).unwrap_err();
        assert!(err.to_string().contains("invalid mobile"), "{err}");
    }

    /// Each enum's name is written once, in serde's and strum's shared casing rule: the two
    /// agree for every variant.
    #[test]
    fn serde_and_strum_give_every_variant_one_name() {
        use strum::IntoEnumIterator;
        fn check<E>()
        where
            E: IntoEnumIterator + Serialize + Into<&'static str> + Copy + std::fmt::Debug,
        {
            for variant in E::iter() {
                let name: &'static str = variant.into();
                assert_eq!(serde_json::to_value(variant).unwrap(), name, "{variant:?}");
            }
        }
        check::<AccountKind>();
        check::<Application>();
        check::<Signing>();
        check::<AesKeySetting>();
        check::<ErrorForm>();
        check::<WithoutSigning>();
        check::<VersionThresholds>();
        check::<Environment>();
        check::<ActionKind>();
        for busy in Busy::iter() {
            let name: &'static str = busy.into();
            match serde_json::to_value(busy).unwrap() {
                serde_json::Value::Object(fields) => assert!(fields.contains_key(name)),
                value => assert_eq!(value, name),
            }
        }
        let signing: Vec<&str> = Signing::iter().map(Into::into).collect();
        assert_eq!(signing, ["none", "RSA2", "RSA"]);
    }

    #[test]
    fn busy_reads_all_three_forms() {
        let p: Quirks = serde_json::from_str(r#"{"busy": {"probability": 0.25}}"#).unwrap();
        assert_eq!(p.busy, Busy::Probability(0.25));
        let p: Quirks = serde_json::from_str(r#"{"busy": "always"}"#).unwrap();
        assert_eq!(p.busy, Busy::Always);
    }
}

/// Everything that decides one call. Defaults: a fully configured enterprise app, a consenting
/// user on a recent phone, no fault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", default, deny_unknown_fields)]
pub struct Call {
    #[schema(required)]
    pub console: Console,
    #[schema(required)]
    pub platform: Quirks,
    #[schema(required)]
    pub user: User,
    #[schema(required)]
    pub action: Action,
    #[schema(required)]
    pub fault: Option<Fault>,
}

crate::de::object_only!(serialize and deserialize: Call);

impl Call {
    /// Checks what the types cannot: a probability within `[0, 1]`.
    pub fn validate(&self) -> Result<(), Error> {
        if let Busy::Probability(p) = self.platform.busy {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Invalid {
                    field: "platform.busy.probability",
                    message: format!("{p} is not between 0 and 1"),
                });
            }
        }
        Ok(())
    }
}
