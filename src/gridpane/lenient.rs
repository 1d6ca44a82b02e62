//! Lenient decoders for fields whose JSON type drifts in the real API:
//! booleans as `true`/`1`/`"1"`/`"true"`, numbers as numbers or strings
//! (`"05"`), null or absent optionals. Anything that cannot be read as the
//! intended value is an error that names what was found, never a panic and
//! never the value itself (bodies may carry secrets).

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One JSON value, reduced to what the lenient decoders need. A string is
/// borrowed from the body when it has no escapes, so reading `"05"` as a
/// number or `"true"` as a boolean allocates nothing.
enum Scalar<'de> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Str(Cow<'de, str>),
    Compound(&'static str),
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Unsigned(_) | Scalar::Signed(_) | Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
            Scalar::Compound(k) => k,
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Signed(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Compound("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Compound("an object"))
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// 2^53: every integer up to it is exact as an `f64`.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

fn to_u64(s: &Scalar) -> Option<u64> {
    match s {
        Scalar::Unsigned(v) => Some(*v),
        Scalar::Signed(v) => u64::try_from(*v).ok(),
        // Beyond 2^53 a float no longer holds every integer: two ids could
        // read as one. Larger integers must come as integers or strings.
        Scalar::Float(v) if v.fract() == 0.0 && *v >= 0.0 && *v <= MAX_EXACT_FLOAT => {
            Some(*v as u64)
        }
        Scalar::Str(v) => v.trim().parse().ok(),
        _ => None,
    }
}

fn to_bool(s: &Scalar) -> Option<bool> {
    match s {
        Scalar::Bool(v) => Some(*v),
        Scalar::Unsigned(0) | Scalar::Signed(0) => Some(false),
        Scalar::Unsigned(1) | Scalar::Signed(1) => Some(true),
        Scalar::Str(v) => {
            let v = v.trim();
            let is = |words: [&str; 4]| words.iter().any(|w| v.eq_ignore_ascii_case(w));
            if is(["1", "true", "yes", "on"]) {
                Some(true)
            } else if is(["0", "false", "no", "off"]) {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

fn invalid<E: de::Error>(found: &Scalar, expected: &str) -> E {
    E::custom(format_args!("expected {expected}, found {}", found.kind()))
}

/// A required non-negative integer id, as a number or a numeric string.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let s = scalar(d)?;
    to_u64(&s).ok_or_else(|| invalid(&s, "an integer id"))
}

/// An optional non-negative integer; null, absent or `""` are `None`.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let s = scalar(d)?;
    match &s {
        Scalar::Null => Ok(None),
        Scalar::Str(v) if v.trim().is_empty() => Ok(None),
        _ => to_u64(&s)
            .map(Some)
            .ok_or_else(|| invalid(&s, "an integer")),
    }
}

/// An optional small integer (hour, minute, day, retain days).
pub(crate) fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = opt_u64(d)?;
    v.map(|v| u32::try_from(v).map_err(|_| de::Error::custom("integer out of range")))
        .transpose()
}

/// A small integer of a row that must not fail its list when it is not
/// one (a schedule's hour, minute or day): the row is then not understood,
/// a fact about its site.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Field {
    /// Absent, `null` or `""`.
    #[default]
    Absent,
    Value(u32),
    /// Negative, fractional, too large, not a number.
    Unreadable,
}

impl Field {
    pub fn value(self) -> Option<u32> {
        match self {
            Field::Value(v) => Some(v),
            Field::Absent | Field::Unreadable => None,
        }
    }
}

/// A [`Field`]: never an error.
pub(crate) fn field_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
    let s = scalar(d)?;
    Ok(match &s {
        Scalar::Null => Field::Absent,
        Scalar::Str(v) if v.trim().is_empty() => Field::Absent,
        _ => to_u64(&s)
            .and_then(|v| u32::try_from(v).ok())
            .map_or(Field::Unreadable, Field::Value),
    })
}

/// An optional id of a row that must not fail its list: `None` when it is
/// absent or not an id.
pub(crate) fn loose_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(to_u64(&scalar(d)?))
}

/// An on/off switch: `None` when it is absent, `null`, `""` or anything that
/// is neither on nor off (never an error: a switch not understood is a fact
/// about its site).
pub(crate) fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(to_bool(&scalar(d)?))
}

/// Rows of a list, each an object; an item that is not one is dropped
/// (never the whole list). Items count against the item cap.
pub(crate) fn rows_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(vec_or_null::<D, Row<T>>(d)?
        .into_iter()
        .filter_map(|r| r.0)
        .collect())
}

/// An object read as `T`; anything else read as `None`.
struct Row<T>(Option<T>);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Row<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor<T>(PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> Visitor<'de> for RowVisitor<T> {
            type Value = Row<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Row<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Row(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Row(None))
            }
            fn visit_unit<E>(self) -> Result<Row<T>, E> {
                Ok(Row(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Row<T>, E> {
                Ok(Row(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Row<T>, E> {
                Ok(Row(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Row<T>, E> {
                Ok(Row(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Row<T>, E> {
                Ok(Row(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Row<T>, E> {
                Ok(Row(None))
            }
        }
        d.deserialize_any(RowVisitor(PhantomData))
    }
}

/// An optional boolean in any of the forms the API sends.
pub(crate) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let s = scalar(d)?;
    match &s {
        Scalar::Null => Ok(None),
        Scalar::Str(v) if v.trim().is_empty() => Ok(None),
        _ => to_bool(&s)
            .map(Some)
            .ok_or_else(|| invalid(&s, "a boolean")),
    }
}

/// A required string; numbers are accepted and written out.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = scalar(d)?;
    match s {
        Scalar::Str(v) => Ok(v.into_owned()),
        Scalar::Unsigned(v) => Ok(v.to_string()),
        Scalar::Signed(v) => Ok(v.to_string()),
        other => Err(invalid(&other, "a string")),
    }
}

/// A descriptive string (labels, regions, names): anything that is not a
/// string or a number reads as `None` rather than failing the poll.
pub(crate) fn loose_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Str(v) if !v.trim().is_empty() => Some(v.into_owned()),
        Scalar::Unsigned(v) => Some(v.to_string()),
        Scalar::Signed(v) => Some(v.to_string()),
        _ => None,
    })
}

/// A short word the exporter matches against (`local`, `daily`): trimmed,
/// lowercased and held inline, so reading one allocates nothing. Text longer
/// than any word the exporter knows, or not ASCII, reads as empty.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Keyword {
    bytes: [u8; Keyword::MAX],
    len: u8,
}

impl Keyword {
    const MAX: usize = 15;

    pub(crate) fn new(raw: &str) -> Keyword {
        let raw = raw.trim();
        let mut k = Keyword::default();
        if raw.len() > Keyword::MAX || !raw.is_ascii() {
            return k;
        }
        for (slot, b) in k.bytes.iter_mut().zip(raw.bytes()) {
            *slot = b.to_ascii_lowercase();
        }
        k.len = raw.len() as u8;
        k
    }

    pub fn as_str(&self) -> &str {
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl fmt::Debug for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An optional keyword: anything that is not a string reads as empty.
pub(crate) fn loose_keyword<'de, D: Deserializer<'de>>(d: D) -> Result<Keyword, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Str(v) => Keyword::new(&v),
        _ => Keyword::default(),
    })
}

/// A list that may also come as `null` or be absent. Its items count
/// against the item cap of [`with_item_cap`].
pub(crate) fn vec_or_null<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(<Option<List<T>> as serde::Deserialize>::deserialize(d)?
        .map(|l| l.0)
        .unwrap_or_default())
}

/// A required list: `null` is an error, not an empty list (a list endpoint
/// that answers `"data": null` has not said that the fleet is empty). Its
/// items count against the item cap of [`with_item_cap`].
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(<List<T> as serde::Deserialize>::deserialize(d)?.0)
}

/// A JSON array read item by item, stopping at the item cap.
struct List<T>(Vec<T>);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let depth = NestedList::enter();
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if !take_item(depth.outer) {
                        return Err(de::Error::custom("more items than the item cap"));
                    }
                    out.push(item);
                }
                Ok(List(out))
            }
        }
        d.deserialize_seq(ListVisitor(PhantomData))
    }
}

/// Nested lists (a site's schedule rows) may hold this many items per
/// item of the outer list, on average, before the cap stops the decode.
pub(crate) const NESTED_ITEMS_PER_ITEM: usize = 16;

#[derive(Clone, Copy)]
struct ItemCap {
    /// Items the outer list may still hold.
    outer_left: usize,
    /// Items all lists together may still hold.
    all_left: usize,
    /// How many lists the decode is inside now.
    depth: usize,
    exceeded: bool,
}

thread_local! {
    /// The item cap of the decode running on this thread, if any.
    static ITEM_CAP: Cell<Option<ItemCap>> = const { Cell::new(None) };
}

/// Runs `decode` (synchronous, on this thread) allowing at most `cap` items
/// in the outermost list and `NESTED_ITEMS_PER_ITEM` more per outer item in
/// the lists inside it; a list that would go past either fails while it is read, so an
/// oversized page is never held whole. Returns the result and whether the
/// cap was what stopped it.
///
/// The cap travels in a thread-local because serde's derived decoders give
/// field decoders no way to receive a value at run time.
pub(crate) fn with_item_cap<R>(cap: usize, decode: impl FnOnce() -> R) -> (R, bool) {
    let previous = ITEM_CAP.replace(Some(ItemCap {
        outer_left: cap,
        all_left: cap.saturating_mul(NESTED_ITEMS_PER_ITEM + 1),
        depth: 0,
        exceeded: false,
    }));
    let out = decode();
    let exceeded = ITEM_CAP.replace(previous).is_some_and(|cap| cap.exceeded);
    (out, exceeded)
}

/// Marks the decode as inside one more list while it lives.
struct NestedList {
    /// Whether this is the outermost list.
    outer: bool,
}

impl NestedList {
    fn enter() -> NestedList {
        let outer = ITEM_CAP.with(|slot| match slot.get() {
            None => true,
            Some(mut cap) => {
                let outer = cap.depth == 0;
                cap.depth += 1;
                slot.set(Some(cap));
                outer
            }
        });
        NestedList { outer }
    }
}

impl Drop for NestedList {
    fn drop(&mut self) {
        ITEM_CAP.with(|slot| {
            if let Some(mut cap) = slot.get() {
                cap.depth = cap.depth.saturating_sub(1);
                slot.set(Some(cap));
            }
        });
    }
}

/// Counts one list item against the current cap; false once it is spent.
fn take_item(outer: bool) -> bool {
    ITEM_CAP.with(|slot| {
        let Some(mut cap) = slot.get() else {
            return true;
        };
        let spent = cap.all_left == 0 || (outer && cap.outer_left == 0);
        if spent {
            cap.exceeded = true;
        } else {
            cap.all_left -= 1;
            if outer {
                cap.outer_left -= 1;
            }
        }
        slot.set(Some(cap));
        !spent
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Probe {
        #[serde(default, deserialize_with = "super::opt_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "super::opt_u32")]
        n: Option<u32>,
        #[serde(default, deserialize_with = "super::loose_string")]
        s: Option<String>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn booleans_read_in_every_form_the_api_sends() {
        for (raw, want) in [
            ("true", true),
            ("false", false),
            ("1", true),
            ("0", false),
            ("\"1\"", true),
            ("\"0\"", false),
            ("\"true\"", true),
            ("\"False\"", false),
        ] {
            let p = probe(&format!("{{\"b\": {raw}}}")).expect(raw);
            assert_eq!(p.b, Some(want), "{raw}");
        }
        assert_eq!(probe("{\"b\": null}").unwrap().b, None);
        assert_eq!(probe("{}").unwrap().b, None);
    }

    #[test]
    fn a_boolean_that_is_not_one_is_an_error_not_a_guess() {
        let err = probe("{\"b\": \"maybe\"}").unwrap_err().to_string();
        assert!(err.contains("expected a boolean, found a string"), "{err}");
        assert!(probe("{\"b\": 2}").is_err());
        assert!(probe("{\"b\": {}}").is_err());
    }

    #[test]
    fn zero_padded_string_numbers_read_as_numbers() {
        assert_eq!(probe("{\"n\": \"05\"}").unwrap().n, Some(5));
        assert_eq!(probe("{\"n\": \"00\"}").unwrap().n, Some(0));
        assert_eq!(probe("{\"n\": 23}").unwrap().n, Some(23));
        assert_eq!(probe("{\"n\": 7.0}").unwrap().n, Some(7));
        assert_eq!(probe("{\"n\": \"\"}").unwrap().n, None);
        assert!(probe("{\"n\": \"x5\"}").is_err());
        assert!(probe("{\"n\": -1}").is_err());
        assert!(probe("{\"n\": 99999999999}").is_err());
    }

    #[test]
    fn keywords_are_trimmed_and_lowercased_and_overlong_text_matches_nothing() {
        use super::Keyword;
        assert_eq!(Keyword::new(" Remote ").as_str(), "remote");
        assert_eq!(Keyword::new("DAILY").as_str(), "daily");
        assert_eq!(Keyword::new("fifteen-letters").as_str(), "fifteen-letters");
        assert_eq!(Keyword::new("sixteen-letters!").as_str(), "");
        assert_eq!(Keyword::new("dâily").as_str(), "");
        assert_eq!(Keyword::default().as_str(), "");
    }

    #[test]
    fn descriptive_strings_of_the_wrong_type_read_as_absent() {
        assert_eq!(probe("{\"s\": [1]}").unwrap().s, None);
        assert_eq!(probe("{\"s\": 12}").unwrap().s.as_deref(), Some("12"));
        assert_eq!(probe("{\"s\": \"\"}").unwrap().s, None);
    }

    #[derive(Deserialize, Debug)]
    struct Row {
        #[serde(deserialize_with = "super::list")]
        rows: Vec<u8>,
    }

    #[derive(Deserialize, Debug)]
    struct Outer {
        #[serde(deserialize_with = "super::list")]
        data: Vec<Row>,
    }

    fn capped(cap: usize, outer: usize, nested: usize) -> bool {
        let row = format!("{{\"rows\": [{}]}}", vec!["1"; nested].join(","));
        let json = format!("{{\"data\": [{}]}}", vec![row.as_str(); outer].join(","));
        let (decoded, exceeded) =
            super::with_item_cap(cap, || serde_json::from_str::<Outer>(&json));
        match decoded {
            Ok(outer_list) => {
                assert!(!exceeded);
                assert_eq!(outer_list.data.len(), outer);
                assert!(outer_list.data.iter().all(|r| r.rows.len() == nested));
            }
            Err(_) => assert!(exceeded, "only the cap fails this decode"),
        }
        exceeded
    }

    #[test]
    fn the_item_cap_counts_the_outer_list_and_lets_nested_rows_take_their_own_share() {
        // Two sites with three schedule rows each fit a cap of two sites.
        assert!(!capped(2, 2, 3));
        // A third site does not.
        assert!(capped(2, 3, 0));
        // Nested rows are bounded too: sixteen per outer item on average.
        assert!(!capped(2, 2, 16));
        assert!(capped(2, 2, 17));
    }
}
