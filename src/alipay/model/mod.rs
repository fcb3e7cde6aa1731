//! The inputs of one `my.getPhoneNumber` call: the app's console configuration, the platform's
//! behaviour, the user and device, and what the user does.
//!
//! Every type deserialises from the JSON used in scenario files, with defaults that describe a
//! fully configured enterprise app whose user consents on a recent phone, so a scenario only
//! states what differs. Unknown fields are refused, naming the field.

//!
//! [`console`] holds the console's settings, [`quirks`] the platform's documented switches,
//! [`user`] the user, the device and the user's action; [`Call`] puts them together.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::alipay::error::Error;
use crate::alipay::fault::Fault;

mod console;
mod quirks;
mod user;

pub use console::*;
pub use quirks::*;
pub use user::*;

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

/// The console rules whose error a grant can keep (`user.granted_under`); the rules' table
/// `GRANTABLE_ERRORS` holds the same ids (a test holds them equal).
pub const GRANTABLE_ERROR_IDS: &[&str] = &[
    "isv.isv-app-id-missing",
    "isv.isv-app-id-foreign",
    "console.no-signing",
    "console.aes-key-not-set",
];

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
        if let Some(id) = &self.user.granted_under {
            if !GRANTABLE_ERROR_IDS.contains(&id.as_str()) {
                return Err(Error::Invalid {
                    field: "user.granted_under",
                    message: format!(
                        "{id:?} is not a console error a grant can keep; one of {}",
                        GRANTABLE_ERROR_IDS.join(", ")
                    ),
                });
            }
        }
        Ok(())
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
        let doc_example: Mobile = "1597671905".parse().unwrap();
        assert!(doc_example.warning().unwrap().contains("1597671905"));
        assert_eq!("13800000000".parse::<Mobile>().unwrap().warning(), None);
        for bad in [
            "+8613800000000",
            "2380000000",
            "138000000",
            "12345-1234",
            "86-",
            "abc",
        ] {
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
        check::<SigningKeyMode>();
        check::<AesKeySetting>();
        check::<ErrorForm>();
        check::<WithoutSigning>();
        check::<PersonalAccount>();
        check::<IsvAppIdMissing>();
        check::<ForeignIsvAppId>();
        check::<IsvKind>();
        check::<Authorisation>();
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
