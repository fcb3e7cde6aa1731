//! What the platform does where the docs leave it open, or where it changed over time: each a
//! documented switch.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::user::Version;

/// The platform's quirks (the `platform` section of a call): how it behaves where the sources
/// disagree or are silent, and whether it is busy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(remote = "Self", default, deny_unknown_fields)]
#[schema(default)]
pub struct Quirks {
    /// Answer 20000 "Service Currently Unavailable" never, always, or with a probability.
    #[schema(required)]
    pub busy: Busy,
    /// Form of the plain errors (20000, 40001 both sub-codes, 40002): `plain` (default), `encrypted`
    /// where an AES key can encrypt, or `object`. The docs state the forms only for my.getRunData.
    #[schema(required)]
    pub error_form: ErrorForm,
    /// What an app without a signing method gets: the normal answer without `sign` (default, as
    /// the newest doc says), or the 40001 `isv.missing-default-signature-type` older pages tie to it.
    #[schema(required)]
    pub without_signing: WithoutSigning,
    /// The FAQ says a missing AES key drops `sign`; which setting alone suffices is not
    /// documented. Default `true`; `false` gives the signed plain 40001 of the known-answer vectors.
    #[schema(required)]
    pub unsigned_without_aes_key: bool,
    /// Likewise for a missing application gateway. Default `true`.
    #[schema(required)]
    pub unsigned_without_gateway: bool,
    /// `errorMessage` of the button's `onError` when the user refuses. No official string is
    /// documented; blog posts show 用户取消授权.
    #[schema(required)]
    pub refusal_message: String,
    /// What a personal (not enterprise) mini program gets: `fail-4`, the device's documented
    /// permission failure (error 4, 无权调用, N22104; default), or the encrypted 40006 of older
    /// readings.
    #[schema(required)]
    pub personal_account: PersonalAccount,
    /// An ISV call without `protocols.isvAppId` gets 40001; both 40001 pages list it, so the
    /// sub-code is a switch: `missing-default-signature-type` (default) or `missing-encrypt-key`.
    #[schema(required)]
    pub isv_app_id_missing: IsvAppIdMissing,
    /// A `protocols.isvAppId` that is not the ISV's: `as-missing` (default, inferred: the
    /// platform finds no third party) or `accepted`.
    #[schema(required)]
    pub foreign_isv_app_id: ForeignIsvAppId,
    /// Alipay's JSON writer escapes `/` as `\/` (the 40006 subMsg as the doc prints it); the
    /// plaintext is emitted, encrypted and signed that way. Default `true`.
    #[schema(required)]
    pub escape_slashes: bool,
    /// Add an `ariverRpcTraceId` beside `response` in `success(res)` (seen in a sample,
    /// undocumented). Default `false`.
    #[schema(required)]
    pub rpc_trace_id: bool,
    /// Older state files and requests may carry the removed global switch; `current` is read
    /// and dropped, anything else is refused with the reason.
    #[serde(
        rename = "version_thresholds",
        default,
        skip_serializing,
        deserialize_with = "legacy_version_thresholds"
    )]
    #[schema(ignore)]
    pub legacy_version_thresholds: (),
}

/// The removed `version_thresholds`: the floors now follow the call's path.
fn legacy_version_thresholds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<(), D::Error> {
    let value = String::deserialize(deserializer)?;
    if value == "current" {
        return Ok(());
    }
    Err(serde::de::Error::custom(format!(
        "version_thresholds {value:?} was removed: the minimum versions follow the call's path \
         (direct 1.16.4 / 10.1.35; a plugin's call, console.isv.kind = \"plugin\", 1.22.0 / \
         10.1.75); drop the field"
    )))
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            busy: Busy::Never,
            error_form: ErrorForm::Plain,
            without_signing: WithoutSigning::DropSign,
            unsigned_without_aes_key: true,
            unsigned_without_gateway: true,
            refusal_message: "用户取消授权".to_string(),
            personal_account: PersonalAccount::Fail4,
            isv_app_id_missing: IsvAppIdMissing::MissingDefaultSignatureType,
            foreign_isv_app_id: ForeignIsvAppId::AsMissing,
            escape_slashes: true,
            rpc_trace_id: false,
            legacy_version_thresholds: (),
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
/// `[0, 1]`, as [`Call::validate`](super::Call::validate) requires.
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

crate::wire::wire_enum! {
    "kebab-case",
    pub enum ErrorForm {
        /// The envelope string with an object `response` member, signed (default).
        Plain,
        /// Encrypted like 40003 (where an AES key can encrypt).
        Encrypted,
        /// `res.response` is the error object itself, no envelope, as my.getRunData documents.
        Object,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum WithoutSigning {
        MissingDefaultSignatureType,
        DropSign,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum PersonalAccount {
        /// `fail` `{"error":4,"errorMessage":"无权调用","message":"无权调用","signature":"N22104"}`.
        #[serde(rename = "fail-4")]
        #[strum(serialize = "fail-4")]
        Fail4,
        /// The encrypted 40006 isv.insufficient-isv-permissions.
        InsufficientPermissions,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum IsvAppIdMissing {
        MissingDefaultSignatureType,
        MissingEncryptKey,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    pub enum ForeignIsvAppId {
        AsMissing,
        Accepted,
    }
}

/// The minimum (base library, client) versions of `my.getPhoneNumber` on a path.
pub fn minimum_versions(plugin: bool) -> (Version, Version) {
    if plugin {
        (Version::new(&[1, 22, 0]), Version::new(&[10, 1, 75]))
    } else {
        (Version::new(&[1, 16, 4]), Version::new(&[10, 1, 35]))
    }
}
