//! Canonical JSON (sorted keys, no whitespace; see `hash`) written straight
//! from a `Serialize` value: the bytes `canonical_json` makes of the value's
//! `serde_json::Value`, without building that tree first. Every event
//! written goes through here, and the tree (its allocations, its sorting,
//! its drop) cost more than the rest of preparing an event.
//!
//! What this writer does not take (floats, 128-bit integers, byte strings,
//! map keys that are not strings, serde_json's private types) makes it give
//! up, and [`CanonicalJson::of`] goes through the tree instead, so the bytes
//! are those of the tree either way.

use std::borrow::Cow;
use std::io::Write as _;

use serde::ser::{self, Serialize};

use super::hash::canonical_json;

/// An event's payload as it is hashed and stored: canonical JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalJson(String);

impl CanonicalJson {
    /// The canonical text of `value`, written directly when it can be.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        let mut out = Vec::with_capacity(384);
        if write(value, &mut out).is_ok() {
            if let Ok(text) = String::from_utf8(out) {
                return Ok(Self(text));
            }
        }
        Ok(Self::from(&serde_json::to_value(value)?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&serde_json::Value> for CanonicalJson {
    fn from(value: &serde_json::Value) -> Self {
        // serde_json writes only UTF-8; the lossy branch is unreachable.
        let bytes = canonical_json(value);
        Self(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }
}

impl From<serde_json::Value> for CanonicalJson {
    fn from(value: serde_json::Value) -> Self {
        Self::from(&value)
    }
}

/// What a domain event's payload is rendered as, so each event type writes
/// its one match over its variants once for both renderings.
pub(crate) trait Render {
    type Out;
    fn render<T: Serialize + ?Sized>(value: &T) -> Self::Out;
}

/// A JSON tree.
pub(crate) struct Tree;

impl Render for Tree {
    type Out = Result<serde_json::Value, serde_json::Error>;
    fn render<T: Serialize + ?Sized>(value: &T) -> Self::Out {
        serde_json::to_value(value)
    }
}

/// Canonical text, written directly.
pub(crate) struct Canonical;

impl Render for Canonical {
    type Out = Result<CanonicalJson, serde_json::Error>;
    fn render<T: Serialize + ?Sized>(value: &T) -> Self::Out {
        CanonicalJson::of(value)
    }
}

/// `payload` (a tree) and `canonical_payload` (the text the store keeps)
/// of a domain event type, from its `fn render<R: Render>(&self) -> R::Out`
/// (its one match over its variants). The types hold only strings,
/// integers, times and lists of them, which always serialize.
macro_rules! payload_renderings {
    () => {
        /// The payload as a JSON tree (tests and slow paths; writers take
        /// [`Self::canonical_payload`]).
        pub fn payload(&self) -> serde_json::Value {
            self.render::<$crate::store::Tree>()
                .unwrap_or(serde_json::Value::Null)
        }

        /// The payload as the canonical text the store hashes and keeps,
        /// written without a JSON tree in between.
        pub fn canonical_payload(&self) -> $crate::store::CanonicalJson {
            self.render::<$crate::store::Canonical>()
                .unwrap_or_else(|_| $crate::store::CanonicalJson::from(&serde_json::Value::Null))
        }
    };
}
pub(crate) use payload_renderings;

/// Something the direct writer does not take; the caller uses the tree.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not written directly")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

pub(crate) fn write<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Unsupported> {
    value.serialize(Writer { out })
}

fn write_str(value: &str, out: &mut Vec<u8>) {
    // The same escaping as the tree's strings; a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn int(self, value: impl std::fmt::Display) -> Result<(), Unsupported> {
        write!(self.out, "{value}").map_err(|_| Unsupported)
    }

    /// `{"variant":` before a variant's content; its `}` comes after.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_str(variant, self.out);
        self.out.push(b':');
    }
}

/// serde_json's own types (`RawValue`, arbitrary-precision numbers) pass
/// through struct and newtype names starting with this.
fn is_private(name: &str) -> bool {
    name.starts_with("$serde_json")
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Map<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.int(v)
    }
    fn serialize_i128(self, _: i128) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u128(self, _: u128) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        write_str(v.encode_utf8(&mut [0; 4]), self.out);
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        write_str(v, self.out);
        Ok(())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        if is_private(name) {
            return Err(Unsupported);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.open_variant(variant);
        value.serialize(Writer { out: self.out })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, Unsupported> {
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            first: true,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a>, Unsupported> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Seq<'a>, Unsupported> {
        self.open_variant(variant);
        self.out.push(b'[');
        Ok(Seq {
            out: self.out,
            first: true,
            variant: true,
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Map<'a>, Unsupported> {
        Ok(Map::new(self.out, len.unwrap_or(8), false))
    }
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Map<'a>, Unsupported> {
        if is_private(name) {
            return Err(Unsupported);
        }
        Ok(Map::new(self.out, len, false))
    }
    fn serialize_struct_variant(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Map<'a>, Unsupported> {
        self.open_variant(variant);
        Ok(Map::new(self.out, len, true))
    }
}

struct Seq<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        value.serialize(Writer { out: self.out })
    }

    fn close(self) -> Result<(), Unsupported> {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// An object's entries, each written to `scratch` as it comes and copied
/// out in key order at the end.
struct Map<'a> {
    out: &'a mut Vec<u8>,
    scratch: Vec<u8>,
    entries: Vec<(Cow<'static, str>, usize, usize)>,
    key: Option<String>,
    variant: bool,
}

impl<'a> Map<'a> {
    fn new(out: &'a mut Vec<u8>, len: usize, variant: bool) -> Self {
        Self {
            out,
            scratch: Vec::with_capacity(32 * len),
            entries: Vec::with_capacity(len),
            key: None,
            variant,
        }
    }

    fn entry<T: Serialize + ?Sized>(
        &mut self,
        key: Cow<'static, str>,
        value: &T,
    ) -> Result<(), Unsupported> {
        let start = self.scratch.len();
        value.serialize(Writer {
            out: &mut self.scratch,
        })?;
        self.entries.push((key, start, self.scratch.len()));
        Ok(())
    }

    fn close(mut self) -> Result<(), Unsupported> {
        // Stable, so of two equal keys the later stays later: the tree keeps
        // the last value given for a key, and so does this.
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        self.out.push(b'{');
        let mut first = true;
        for (i, (key, start, end)) in self.entries.iter().enumerate() {
            if self.entries.get(i + 1).is_some_and(|next| next.0 == *key) {
                continue;
            }
            if !first {
                self.out.push(b',');
            }
            first = false;
            write_str(key, self.out);
            self.out.push(b':');
            self.out.extend_from_slice(&self.scratch[*start..*end]);
        }
        self.out.push(b'}');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.key = Some(key.serialize(KeyWriter)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        let key = self.key.take().ok_or(Unsupported)?;
        self.entry(Cow::Owned(key), value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

impl ser::SerializeStructVariant for Map<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.entry(Cow::Borrowed(key), value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// A map key: strings only (the tree would also turn numbers and bools
/// into keys; the direct writer leaves those to it).
struct KeyWriter;

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<String, Unsupported>;
    type SerializeTuple = ser::Impossible<String, Unsupported>;
    type SerializeTupleStruct = ser::Impossible<String, Unsupported>;
    type SerializeTupleVariant = ser::Impossible<String, Unsupported>;
    type SerializeMap = ser::Impossible<String, Unsupported>;
    type SerializeStruct = ser::Impossible<String, Unsupported>;
    type SerializeStructVariant = ser::Impossible<String, Unsupported>;

    fn serialize_str(self, v: &str) -> Result<String, Unsupported> {
        Ok(v.to_owned())
    }
    fn serialize_char(self, v: char) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Unsupported> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<String, Unsupported> {
        if is_private(name) {
            return Err(Unsupported);
        }
        value.serialize(self)
    }
    fn serialize_bool(self, _: bool) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i8(self, _: i8) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i16(self, _: i16) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i32(self, _: i32) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_i64(self, _: i64) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u8(self, _: u8) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u16(self, _: u16) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u32(self, _: u32) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_u64(self, _: u64) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f32(self, _: f32) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit(self) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    use super::*;

    fn tree<T: Serialize>(value: &T) -> String {
        String::from_utf8(canonical_json(&serde_json::to_value(value).expect("value")))
            .expect("utf8")
    }

    fn direct<T: Serialize>(value: &T) -> String {
        let mut out = Vec::new();
        write(value, &mut out).expect("written directly");
        String::from_utf8(out).expect("utf8")
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        Won { dead_heat: u16 },
        Lost,
    }

    #[derive(Serialize)]
    enum External {
        Unit,
        Newtype(i64),
        Tuple(u8, String),
        Struct { z: bool, a: Option<i32> },
    }

    #[derive(Serialize)]
    struct Wrapper(String);

    #[derive(Serialize)]
    struct Everything {
        zeta: i64,
        alpha: Option<String>,
        none: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u32>,
        list: Vec<Tagged>,
        externals: Vec<External>,
        map: HashMap<String, u64>,
        sorted: BTreeMap<String, Wrapper>,
        text: String,
        ch: char,
        unit: (),
        tuple: (i8, u16, bool),
        #[serde(rename = "Caps")]
        caps: i32,
        time: chrono::DateTime<chrono::Utc>,
        id: uuid::Uuid,
    }

    #[test]
    fn the_direct_bytes_are_the_trees() {
        let value = Everything {
            zeta: i64::MIN,
            alpha: Some("quote \" backslash \\ tab \t nul \u{0} é 😀".into()),
            none: None,
            skipped: None,
            list: vec![Tagged::Won { dead_heat: 2 }, Tagged::Lost],
            externals: vec![
                External::Unit,
                External::Newtype(-1),
                External::Tuple(7, "x".into()),
                External::Struct { z: true, a: None },
            ],
            map: [("b".into(), 2), ("a".into(), u64::MAX), ("ab".into(), 0)]
                .into_iter()
                .collect(),
            sorted: [("k".to_string(), Wrapper("v".into()))]
                .into_iter()
                .collect(),
            text: String::new(),
            ch: '"',
            unit: (),
            tuple: (-8, 16, false),
            caps: 1,
            time: chrono::DateTime::from_timestamp_micros(1_763_900_000_123_456).expect("time"),
            id: uuid::Uuid::now_v7(),
        };
        assert_eq!(direct(&value), tree(&value));
    }

    #[test]
    fn what_it_does_not_take_goes_through_the_tree() {
        #[derive(Serialize)]
        struct Float {
            x: f64,
        }
        let mut out = Vec::new();
        assert!(write(&Float { x: 1.5 }, &mut out).is_err());
        assert_eq!(
            CanonicalJson::of(&Float { x: 1.5 }).expect("json").as_str(),
            r#"{"x":1.5}"#
        );
        let numeric_keys: BTreeMap<u32, bool> = [(10, true), (9, false)].into_iter().collect();
        assert_eq!(
            CanonicalJson::of(&numeric_keys).expect("json").as_str(),
            tree(&numeric_keys)
        );
        let raw = serde_json::value::RawValue::from_string(r#"{"b":1,"a":2}"#.into()).expect("raw");
        assert_eq!(
            CanonicalJson::of(&raw).expect("json").as_str(),
            r#"{"a":2,"b":1}"#
        );
    }
}
