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
        Plain,
        Encrypted,
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
    pub enum VersionThresholds {
        Current,
        OlderDocs,
    }
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
