//! What the derived OpenAPI schemas (`utoipa::ToSchema`) cannot say by themselves.
//!
//! The derive reads serde's attributes, but two shapes of this crate need a hand:
//! - a struct that `#[serde(flatten)]`s another one: the derive gives `allOf` of the two, and
//!   the inner struct's `additionalProperties: false` (from `deny_unknown_fields`) would then
//!   refuse the outer struct's own fields; [`Fields`] lists them all in one object, in the order
//!   serde writes them;
//! - a section of a call (console, platform, user, action) is written whole, every field
//!   present, but read with every field optional (`#[serde(default)]`): its schema lists every
//!   field as required, and [`partial`] gives the request form, where any field may be left out.

use std::borrow::Cow;

use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

/// The fields of one JSON object, built in the order serde writes them; every field is
/// required, as a struct without `skip_serializing_if` always writes it.
pub struct Fields {
    object: Object,
    /// Schemas the fields refer to, for [`ToSchema::schemas`].
    pub schemas: Vec<(String, RefOr<Schema>)>,
}

impl Fields {
    pub fn new(description: &str) -> Fields {
        let mut object = Object::with_type(utoipa::openapi::Type::Object);
        object.description = Some(description.to_string());
        Fields {
            object,
            schemas: Vec::new(),
        }
    }

    /// A field whose schema is given in place.
    pub fn inline(mut self, name: &str, schema: impl Into<RefOr<Schema>>) -> Fields {
        self.object
            .properties
            .insert(name.to_string(), schema.into());
        self.object.required.push(name.to_string());
        self
    }

    /// A field of type `T`, by reference to `T`'s component schema.
    pub fn field<T: ToSchema>(mut self, name: &str) -> Fields {
        let schema = self.reference::<T>();
        self.inline(name, schema)
    }

    /// A field that may be left out, of type `T`.
    pub fn optional<T: ToSchema>(mut self, name: &str) -> Fields {
        let schema = self.reference::<T>();
        self.object.properties.insert(name.to_string(), schema);
        self
    }

    /// A field that may be left out or null, of type `T` otherwise.
    pub fn optional_nullable<T: ToSchema>(mut self, name: &str) -> Fields {
        let schema = utoipa::openapi::schema::OneOfBuilder::new()
            .item(self.reference::<T>())
            .item(Object::with_type(utoipa::openapi::Type::Null));
        self.object
            .properties
            .insert(name.to_string(), schema.into());
        self
    }

    /// No field but these: what `deny_unknown_fields` reads.
    pub fn closed(mut self) -> Fields {
        self.object.additional_properties = Some(Box::new(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ));
        self
    }

    /// A reference to `T`'s component schema, which is added to [`Fields::schemas`].
    fn reference<T: ToSchema>(&mut self) -> RefOr<Schema> {
        self.schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.schemas);
        Ref::from_schema_name(T::name()).into()
    }

    /// The fields of `T`, flattened in: what `#[serde(flatten)]` writes.
    pub fn flatten<T: ToSchema>(mut self) -> Fields {
        T::schemas(&mut self.schemas);
        let RefOr::T(Schema::Object(inner)) = T::schema() else {
            panic!("{} flattens an object", T::name());
        };
        for (name, schema) in inner.properties {
            let required = inner.required.contains(&name);
            self.object.properties.insert(name.clone(), schema);
            if required {
                self.object.required.push(name);
            }
        }
        self
    }

    pub fn build(self) -> RefOr<Schema> {
        RefOr::T(Schema::Object(self.object))
    }
}

/// `schema` with a description.
pub fn described(schema: impl Into<Schema>, description: &str) -> Schema {
    let mut schema = schema.into();
    if let Schema::Object(object) = &mut schema {
        object.description = Some(description.to_string());
    }
    schema
}

/// The request form of an object schema: no field is required. A field left out takes its
/// default (a new app) or keeps its value (a patch).
pub fn partial(name: Cow<'static, str>, full: RefOr<Schema>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = full else {
        panic!("{name} is an object");
    };
    object.required.clear();
    object.description = Some(format!(
        "{name} as a request gives it: any field may be left out. {}",
        object.description.unwrap_or_default()
    ));
    RefOr::T(Schema::Object(object))
}

/// `pub(crate) struct PartialX;` for each `PartialX: X`, whose schema is [`partial`] of `X`'s.
macro_rules! partial_schemas {
    ($($partial:ident: $full:ty),+ $(,)?) => {$(
        #[doc = concat!("The request form of [`", stringify!($full), "`], for the OpenAPI document: any field may be left out.")]
        pub(crate) struct $partial;

        impl utoipa::PartialSchema for $partial {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::schema::partial(
                    <$full as utoipa::ToSchema>::name(),
                    <$full as utoipa::PartialSchema>::schema(),
                )
            }
        }

        impl utoipa::ToSchema for $partial {
            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                <$full as utoipa::ToSchema>::schemas(schemas);
            }
        }
    )+};
}
pub(crate) use partial_schemas;
