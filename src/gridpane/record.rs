//! The reader of GridPane's backup record, in one streaming pass with
//! bounded work: the body is never held as a JSON tree, and decoding stops
//! at [`MAX_RECORD_BYTES`], [`MAX_DEPTH`] levels of nesting and
//! [`MAX_VALUES`] values (of which at most [`MAX_NAMES`] backup names).
//!
//! What it reads (docs/policy.md, "Unknown is never OK", says which answers
//! are unreadable and why):
//!
//! - `success`: `true`, `1`, `"1"` or `"true"`; absent is accepted beside
//!   a well-formed `backups`; anything else is [`Unreadable::Unsuccessful`],
//!   and so is an `error` envelope (`{"error": {"code": ..., "message": ...}}`).
//! - `backups`: an object whose keys are sources (`local`, `aws-s3`,
//!   `backblaze`, `dropbox`, `wasabi`; other keys are not read). An empty
//!   list in its place, or in place of a source, is an empty object (how
//!   PHP encodes one); a source that is `null` holds nothing.
//! - Under a source, `automatic` and `manual`: one string of names
//!   separated by commas, with or without spaces (`""`: none); or a list of
//!   name strings; or a list of objects each naming its backup in a `name`
//!   or `backup_name` field; `null`: none. Other keys are not read.
//!
//! A name that is not GridPane's `YYYY-MM-DD HH:MM[ tag]` (an epoch number,
//! an ISO-8601 time) makes the whole record unreadable
//! ([`Unreadable::BadName`]): the reader could not tell which backup is the
//! newest. So does a name dated more than [`CLOCK_ALLOWANCE`] ahead of the
//! clock ([`Unreadable::FutureName`]). A body that says nothing (empty,
//! `{}`, `null`, `[]`, no `backups`) is [`Unreadable::Empty`], never "no
//! backups".

use std::cell::{Cell, RefCell};
use std::fmt;

use chrono::FixedOffset;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::history::{Backup, BackupType, CLOCK_ALLOWANCE, Found, Source, Unreadable, parse_name};

/// A record larger than this is not read (a real one of 10,000 names is
/// about 200 KB). The client stops reading the body at this size too.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;
/// Deeper nesting is not read: the production shape is four levels deep.
pub const MAX_DEPTH: usize = 8;
/// JSON values (of any kind, read or skipped) read at most in one record.
pub const MAX_VALUES: usize = 250_000;
/// Backup names read at most in one record.
pub const MAX_NAMES: usize = 50_000;

/// The fields that name a backup in the list-of-objects form.
const NAME_FIELDS: [&str; 2] = ["name", "backup_name"];

/// The decode's counters and what it found; the first reason to stop wins.
struct State {
    offset: FixedOffset,
    /// Names dated after this are in the future.
    latest: i64,
    values: Cell<usize>,
    found: RefCell<Vec<Backup>>,
    stop: Cell<Option<Unreadable>>,
}

impl State {
    /// Stops the decode for `reason` (the first one given is kept).
    fn fail<E: de::Error>(&self, reason: Unreadable) -> E {
        if self.stop.get().is_none() {
            self.stop.set(Some(reason));
        }
        E::custom(reason.as_str())
    }

    /// Counts one value at `depth`; fails past the caps.
    fn enter<E: de::Error>(&self, depth: usize) -> Result<(), E> {
        if depth > MAX_DEPTH {
            return Err(self.fail(Unreadable::TooDeep));
        }
        let n = self.values.get() + 1;
        self.values.set(n);
        if n > MAX_VALUES {
            return Err(self.fail(Unreadable::TooLarge));
        }
        Ok(())
    }

    /// Every name of a comma-separated string.
    fn names<E: de::Error>(&self, list: &str, at: Position) -> Result<(), E> {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            self.name(name, at)?;
        }
        Ok(())
    }

    fn name<E: de::Error>(&self, name: &str, at: Position) -> Result<(), E> {
        let Some((time, tag)) = parse_name(name, self.offset) else {
            return Err(self.fail(Unreadable::BadName));
        };
        if time > self.latest {
            return Err(self.fail(Unreadable::FutureName));
        }
        let mut found = self.found.borrow_mut();
        if found.len() >= MAX_NAMES {
            return Err(self.fail(Unreadable::TooLarge));
        }
        found.push(Backup {
            at: time,
            tag,
            source: Some(at.source),
            kind: Some(at.kind),
        });
        Ok(())
    }
}

/// Visitor methods that stop the decode for `$reason`: the kinds of value
/// a position does not take.
macro_rules! refuse {
    ($reason:expr; $($visit:ident($ty:ty)),+ $(,)?) => {
        $(
            fn $visit<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
                Err(self.0.fail($reason))
            }
        )+
    };
}

/// Where names are read: under which source, as which type.
#[derive(Clone, Copy)]
struct Position {
    source: Source,
    kind: BackupType,
}

/// Reads one record (module docs). `now_unix`: the clock that names may be
/// at most [`CLOCK_ALLOWANCE`] ahead of.
pub fn read(body: &[u8], offset: FixedOffset, now_unix: i64) -> Result<Found, Unreadable> {
    if body.len() > MAX_RECORD_BYTES {
        return Err(Unreadable::TooLarge);
    }
    let text = body.trim_ascii();
    if text.is_empty() {
        return Err(Unreadable::Empty);
    }
    if text.starts_with(b"<") {
        return Err(Unreadable::Html);
    }
    let state = State {
        offset,
        latest: now_unix.saturating_add(CLOCK_ALLOWANCE.as_secs() as i64),
        values: Cell::new(0),
        found: RefCell::new(Vec::new()),
        stop: Cell::new(None),
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    let decoded = Envelope(&state)
        .deserialize(&mut de)
        .and_then(|outcome| de.end().map(|()| outcome));
    if let Some(reason) = state.stop.get() {
        return Err(reason);
    }
    match decoded {
        Ok(Outcome::Read) => Ok(Found {
            backups: state.found.into_inner(),
        }),
        Ok(Outcome::Says(reason)) => Err(reason),
        Err(e) => Err(match e.classify() {
            serde_json::error::Category::Eof => Unreadable::Truncated,
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                Unreadable::InvalidJson
            }
            serde_json::error::Category::Data => Unreadable::UnknownShape,
        }),
    }
}

/// What a well-formed body said.
enum Outcome {
    /// A record: the names in `State::found`.
    Read,
    /// No record, for this reason.
    Says(Unreadable),
}

/// The whole body.
struct Envelope<'s>(&'s State);

impl<'de> DeserializeSeed<'de> for Envelope<'_> {
    type Value = Outcome;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Outcome, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_> {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a backup record")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Outcome, E> {
        Ok(Outcome::Says(Unreadable::Empty))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Outcome, A::Error> {
        // `[]` says nothing; a list with content is no record.
        match seq.next_element_seed(Skip(self.0, 2))? {
            None => Ok(Outcome::Says(Unreadable::Empty)),
            Some(()) => Err(self.0.fail(Unreadable::UnknownShape)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let st = self.0;
        st.enter(1)?;
        let mut success = None;
        let mut error = false;
        let mut backups = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "success" => success = Some(map.next_value_seed(Success(st))?),
                "error" => error |= map.next_value_seed(Present(st, 2))?,
                "backups" => {
                    map.next_value_seed(Sources(st))?;
                    backups = true;
                }
                _ => map.next_value_seed(Skip(st, 2))?,
            }
        }
        Ok(match (success, error, backups) {
            (Some(false), _, _) | (_, true, _) => Outcome::Says(Unreadable::Unsuccessful),
            (_, _, false) => Outcome::Says(Unreadable::Empty),
            (_, _, true) => Outcome::Read,
        })
    }

    refuse!(Unreadable::UnknownShape; visit_bool(bool), visit_i64(i64), visit_u64(u64), visit_f64(f64), visit_str(&str));
}

/// A map key, borrowed from the body when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// `success`: whether it says the call succeeded (GridPane's drift:
/// `true`, `1`, `"1"`, `"true"`); any other value says it did not.
struct Success<'s>(&'s State);

impl<'de> DeserializeSeed<'de> for Success<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Success<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("success")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.0.enter(2)?;
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.0.enter(2)?;
        Ok(v == 1)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.0.enter(2)?;
        Ok(v == 1)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        self.0.enter(2)?;
        Ok(false)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.0.enter(2)?;
        Ok(v == "1" || v == "true")
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.0.enter(2)?;
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        Skip(self.0, 2).visit_seq(seq).map(|()| false)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        Skip(self.0, 2).visit_map(map).map(|()| false)
    }
}

/// A value skipped within the caps; whether it held anything (not `null`).
struct Present<'s>(&'s State, usize);

impl<'de> DeserializeSeed<'de> for Present<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        let held = Cell::new(true);
        d.deserialize_any(Skip(self.0, self.1).noting_null(&held))?;
        Ok(held.get())
    }
}

/// `backups`: sources, by key.
struct Sources<'s>(&'s State);

impl<'de> DeserializeSeed<'de> for Sources<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sources<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("backups by source")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let st = self.0;
        st.enter(2)?;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match Source::parse(key.0.as_ref()) {
                Some(source) => map.next_value_seed(Kinds(st, source))?,
                None => map.next_value_seed(Skip(st, 3))?,
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        empty_list(self.0, 2, seq)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.0.fail(Unreadable::Empty))
    }
    refuse!(Unreadable::UnknownShape; visit_bool(bool), visit_u64(u64), visit_i64(i64), visit_f64(f64), visit_str(&str));
}

/// An empty list in place of an object (PHP's encoding of an empty
/// array); a list with content is not understood.
fn empty_list<'de, A: SeqAccess<'de>>(
    st: &State,
    depth: usize,
    mut seq: A,
) -> Result<(), A::Error> {
    st.enter(depth)?;
    match seq.next_element_seed(Skip(st, depth + 1))? {
        None => Ok(()),
        Some(()) => Err(st.fail(Unreadable::UnknownShape)),
    }
}

/// One source: its `automatic` and `manual` names.
struct Kinds<'s>(&'s State, Source);

impl<'de> DeserializeSeed<'de> for Kinds<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Kinds<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("automatic and manual backups")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Kinds(st, source) = self;
        st.enter(3)?;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let kind = match key.0.as_ref() {
                "automatic" => BackupType::Automatic,
                "manual" => BackupType::Manual,
                _ => {
                    map.next_value_seed(Skip(st, 4))?;
                    continue;
                }
            };
            map.next_value_seed(Names(st, Position { source, kind }))?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        empty_list(self.0, 3, seq)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.enter(3)
    }
    refuse!(Unreadable::UnknownShape; visit_bool(bool), visit_u64(u64), visit_i64(i64), visit_f64(f64), visit_str(&str));
}

/// The names of one source and type: a comma-separated string, a list of
/// strings, or a list of objects with a name field.
struct Names<'s>(&'s State, Position);

impl<'de> DeserializeSeed<'de> for Names<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Names<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("backup names")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.enter(4)?;
        self.0.names(v, self.1)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.enter(4)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Names(st, at) = self;
        st.enter(4)?;
        while seq.next_element_seed(Item(st, at))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        Skip(self.0, 4).visit_map(map)?;
        Err(self.0.fail(Unreadable::UnknownShape))
    }
    refuse!(Unreadable::UnknownShape; visit_bool(bool));
    refuse!(Unreadable::BadName; visit_u64(u64), visit_i64(i64), visit_f64(f64));
}

/// One item of a list of names: a name, or an object naming one.
struct Item<'s>(&'s State, Position);

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a backup name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.enter(5)?;
        self.0.name(v.trim(), self.1)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Item(st, at) = self;
        st.enter(5)?;
        let mut named = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if !named && NAME_FIELDS.contains(&key.0.as_ref()) {
                let name: std::borrow::Cow<'de, str> = map.next_value_seed(Text(st, 6))?;
                st.name(name.trim(), at)?;
                named = true;
            } else {
                map.next_value_seed(Skip(st, 6))?;
            }
        }
        if named {
            Ok(())
        } else {
            Err(st.fail(Unreadable::UnknownShape))
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.0.fail(Unreadable::UnknownShape))
    }
    refuse!(Unreadable::UnknownShape; visit_bool(bool));
    refuse!(Unreadable::BadName; visit_u64(u64), visit_i64(i64), visit_f64(f64));
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Skip(self.0, 5).visit_seq(seq)?;
        Err(self.0.fail(Unreadable::UnknownShape))
    }
}

/// A string value (a name field); a number there is an epoch, not a name.
struct Text<'s>(&'s State, usize);

impl<'de> DeserializeSeed<'de> for Text<'_> {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Text<'_> {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a backup name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.0.enter(self.1)?;
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0.enter(self.1)?;
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }
    refuse!(Unreadable::BadName; visit_u64(u64), visit_i64(i64), visit_f64(f64));
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.0.fail(Unreadable::UnknownShape))
    }
    refuse!(Unreadable::UnknownShape; visit_bool(bool));
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Skip(self.0, self.1).visit_seq(seq)?;
        Err(self.0.fail(Unreadable::UnknownShape))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Skip(self.0, self.1).visit_map(map)?;
        Err(self.0.fail(Unreadable::UnknownShape))
    }
}

/// A value not read, walked within the caps (depth and values), holding
/// nothing of it.
#[derive(Clone, Copy)]
struct Skip<'s>(&'s State, usize);

impl<'s> Skip<'s> {
    fn noting_null<'n>(self, held: &'n Cell<bool>) -> SkipNoting<'s, 'n> {
        SkipNoting(self, held)
    }
}

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Not `deserialize_ignored_any`: serde_json skips such a value
        // without a visitor, past the caps.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.enter(self.1)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.enter(self.1)?;
        let inner = Skip(self.0, self.1 + 1);
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.enter(self.1)?;
        let inner = Skip(self.0, self.1 + 1);
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(())
    }
}

/// [`Skip`], noting whether the value was `null`.
struct SkipNoting<'s, 'n>(Skip<'s>, &'n Cell<bool>);

impl<'de> Visitor<'de> for SkipNoting<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.1.set(false);
        self.0.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.0.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.0.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.0.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.visit_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.visit_str(v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.0.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.visit_map(map)
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
