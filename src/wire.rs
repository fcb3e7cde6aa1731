//! Names on the wire: [`wire_enum!`] declares a plain enum whose names, for serde and strum
//! alike, are its variants in one casing (`"kebab-case"`, `"camelCase"`, `"UPPERCASE"`), and whose
//! variants `iter()` lists (the UI's options, the CLI's help). Written once here, so every such
//! enum agrees with itself and the others.

/// `wire_enum! { "kebab-case", /// doc
/// pub enum Name { A, B } }`. `$case` is a `tt`: a `literal` fragment reaches utoipa's derive
/// wrapped, and it would not read the casing.
macro_rules! wire_enum {
    ($case:tt, $(#[$meta:meta])* pub enum $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            utoipa::ToSchema,
            strum::EnumIter,
            strum::IntoStaticStr,
            strum::Display,
        )]
        #[serde(rename_all = $case)]
        #[strum(serialize_all = $case)]
        pub enum $name { $($body)* }
    };
}
pub(crate) use wire_enum;
