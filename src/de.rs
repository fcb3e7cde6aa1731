//! Structs read from JSON (API bodies, merge patches, suite and state files) refuse an array.
//!
//! serde's derived `Deserialize` for a struct with named fields also accepts a sequence and
//! fills the fields by position, by design: `{"console": ["personal", false, "none"]}` would
//! read as a personal account without a signing method. Each struct of this crate that is read
//! from a stranger's JSON derives its impls with `#[serde(remote = "Self")]`, which makes them
//! inherent functions, and gets its trait impls from [`object_only!`], which calls them through
//! [`ObjectOnly`]: an array is then refused, naming the field, wherever the struct is nested.

use std::fmt;

use serde::de::{Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// The message for an array where a struct's object belongs.
pub const ARRAY_FOR_OBJECT: &str = "expected an object, found an array";

/// Wraps the deserializer a derived struct `Deserialize` is given: its `deserialize_struct`
/// refuses a sequence. Derived struct impls call nothing else; the other methods forward as
/// `deserialize_any`.
pub struct ObjectOnly<D>(pub D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, MapOnly(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A struct's visitor that takes a map and nothing else.
struct MapOnly<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for MapOnly<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(formatter)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(A::Error::custom(ARRAY_FOR_OBJECT))
    }
}

/// `Deserialize` (and, with `serialize and deserialize:`, `Serialize`) for structs whose serde
/// derive has `#[serde(remote = "Self")]`; see the module documentation.
macro_rules! object_only {
    (deserialize: $($type:ty),+ $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <$type>::deserialize($crate::de::ObjectOnly(deserializer))
            }
        }
    )+};
    (serialize and deserialize: $($type:ty),+ $(,)?) => {
        $crate::de::object_only!(deserialize: $($type),+);
        $(
            impl serde::Serialize for $type {
                fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    <$type>::serialize(self, serializer)
                }
            }
        )+
    };
}
pub(crate) use object_only;

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(remote = "Self", default, deny_unknown_fields)]
    struct Inner {
        a: u8,
    }

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(remote = "Self", default, deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        maybe: Option<Inner>,
        list: Vec<Inner>,
    }

    /// Like `AppView`, which flattens a `Call` among fields of its own.
    #[derive(Debug, PartialEq, Deserialize)]
    struct Flattened {
        id: u8,
        #[serde(flatten)]
        inner: Inner,
    }

    object_only!(deserialize: Inner, Outer);

    #[test]
    fn a_flattened_struct_reads_its_fields_among_others() {
        let read: Flattened = serde_json::from_str(r#"{"id": 1, "a": 2}"#).unwrap();
        assert_eq!(
            read,
            Flattened {
                id: 1,
                inner: Inner { a: 2 }
            }
        );
    }

    #[test]
    fn objects_read_and_arrays_are_refused_at_any_depth() {
        let outer: Outer =
            serde_json::from_str(r#"{"inner": {"a": 1}, "list": [{"a": 2}]}"#).unwrap();
        assert_eq!(outer.inner, Inner { a: 1 });
        assert_eq!(outer.list, [Inner { a: 2 }]);
        for (text, path) in [
            (r#"[{"a": 1}]"#, "."),
            (r#"{"inner": [1]}"#, "inner"),
            (r#"{"maybe": []}"#, "maybe"),
            (r#"{"list": [{"a": 1}, [2]]}"#, "list[1]"),
        ] {
            for error in [
                serde_path_to_error::deserialize::<_, Outer>(
                    &mut serde_json::Deserializer::from_str(text),
                )
                .unwrap_err(),
                serde_path_to_error::deserialize::<_, Outer>(
                    serde_json::from_str::<serde_json::Value>(text).unwrap(),
                )
                .unwrap_err(),
            ] {
                assert_eq!(error.path().to_string(), path, "{text}");
                assert!(
                    error.inner().to_string().contains(super::ARRAY_FOR_OBJECT),
                    "{text}: {error}"
                );
            }
        }
    }
}
