//! The user and their device (mobile, client and base-library versions, environment), and what
//! the user does.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    /// The button is on the mini program's home page (首页), where a device shows no consent
    /// sheet (the IDE does).
    #[schema(required)]
    pub on_home_page: bool,
    /// Whether the user has authorised this app to read the phone number: after an allow it
    /// lasts (`my.getSetting` gives `authSetting.phoneNumber: true`) until the user revokes it
    /// under ··· › 设置 › 用户信息.
    #[schema(required)]
    pub authorisation: Authorisation,
    /// The console error in force when the grant was made (a rule id such as
    /// `console.aes-key-not-set`): with `platform.stale_authorisation` the grant keeps failing
    /// with it until the user revokes and re-authorises.
    #[schema(required)]
    pub granted_under: Option<String>,
}

impl Default for User {
    fn default() -> Self {
        User {
            mobile: Mobile("13800000000".to_string()),
            client_version: Version::new(&[10, 5, 36]),
            base_library_version: Version::new(&[2, 9, 21]),
            environment: Environment::Device,
            on_home_page: false,
            authorisation: Authorisation::None,
            granted_under: None,
        }
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// The user's authorisation of the phone number (`my.getSetting`'s
    /// `authSetting.phoneNumber`).
    pub enum Authorisation {
        /// Never authorised: the button shows the sheet.
        None,
        /// Authorised: no sheet, `onGetAuthorize` fires at once, and a direct call succeeds.
        Granted,
        /// Revoked by the user: as never authorised (40003 without the button).
        Revoked,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum Environment {
        /// A real phone (真机).
        Device,
        /// The IDE simulator, which answers 该接口暂不支持.
        IdeSimulator,
        /// An IoT device whose account has no payment password: the sheet fails with
        /// "Network Error" (a documented system failure).
        IotWithoutPaymentPassword,
    }
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

crate::wire::wire_enum! {
    "kebab-case",
    pub enum ActionKind {
        /// The user taps the getAuthorize button and allows; the page calls `my.getPhoneNumber`.
        Consent,
        /// The user taps the button and refuses.
        Refuse,
        /// The page calls `my.getPhoneNumber` without the button's consent.
        NoConsent,
    }
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
            .pattern(Some(r"^([0-9]{11}|1[0-9]{9}|[0-9]{1,4}-[0-9]{4,15})?$"))
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

    /// The number as Alipay's consent sheet shows it: `138****0000` (the first three and the
    /// last four characters); a number shorter than seven as it is; empty when none is bound.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 7 {
            return self.0.clone();
        }
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    }

    /// Why this mobile is unusual though accepted: the doc example's 10-digit form.
    pub fn warning(&self) -> Option<String> {
        is_doc_example_form(&self.0).then(|| {
            format!(
                "mobile {:?} has 10 digits, like the doc's own example 1597671905 (a typo there): \
                 real mainland numbers have 11",
                self.0
            )
        })
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

/// 10 digits starting with 1: the form of the doc's example `1597671905`.
fn is_doc_example_form(text: &str) -> bool {
    text.len() == 10 && text.starts_with('1') && text.bytes().all(|b| b.is_ascii_digit())
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
            // The doc's own example (1597671905) has 10 digits: read with a warning.
            None => text.is_empty() || digits(text, 11, 11) || is_doc_example_form(text),
            Some((country, number)) => digits(country, 1, 4) && digits(number, 4, 15),
        };
        if valid {
            Ok(Mobile(text.to_string()))
        } else {
            Err(format!(
                "invalid mobile {text:?}: expected 11 mainland digits without +86 (13800000000; 10 digits as in the doc's \
                 example are read with a warning), an overseas number as country code, dash, number (1-1234432112), or \"\" for none"
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
