//! The request: its members read from the body and the contract's rules 2 to 5 (valid
//! JSON, an object, no duplicate, no unknown member). What the members mean is judged
//! by the policy; the `input` member is read by `input.rs`.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::{ErrorKind, echo};
pub use crate::input::{Input, InputForm};
use crate::input::{InputLimits, InputValue, read_input};
use crate::json::{Reader, Value};

/// How the response carries each vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingFormat {
    /// A JSON array of numbers (the default; `null` means this too).
    #[default]
    Float,
    /// Standard padded base64 of the little-endian float32 bytes.
    Base64,
}

impl EncodingFormat {
    /// `"float"` or `"base64"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncodingFormat::Float => "float",
            EncodingFormat::Base64 => "base64",
        }
    }
}

/// The request's members, parsed but not yet judged against the rules.
#[derive(Debug, Default)]
pub(crate) struct RawRequest<'a> {
    pub model: Option<Value<'a>>,
    pub input: Option<InputValue<'a>>,
    pub encoding_format: Option<Value<'a>>,
    pub dimensions: Option<Value<'a>>,
    pub user: Option<Value<'a>>,
    /// Members the policy lets through, with their values as written.
    pub extra: Vec<(Cow<'a, str>, &'a str)>,
}

/// Parser settings taken from the policy.
pub(crate) struct ParseLimits<'p> {
    pub max_depth: usize,
    pub input: InputLimits<'p>,
    pub allowed_members: &'p [String],
}

/// Parses a request body. Errors 2 to 5 of the contract are decided here, after the
/// whole body has been read: a syntax error anywhere beats everything else.
/// Parses a request body. Errors 2 to 5 of the contract are decided here, after the
/// whole body has been read: a syntax error anywhere beats everything else.
pub(crate) fn parse<'a>(
    body: &'a [u8],
    limits: &ParseLimits<'_>,
) -> Result<RawRequest<'a>, ErrorKind> {
    let mut p = Reader::new(body, limits.max_depth);
    let invalid_json = |offset| ErrorKind::InvalidJson { offset };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        p.skip_value().map_err(invalid_json)?;
        p.expect_end().map_err(invalid_json)?;
        return Err(ErrorKind::NotAnObject);
    }
    let mut request = RawRequest::default();
    let mut duplicate: Option<Cow<'a, str>> = None;
    let mut unknown: Option<Cow<'a, str>> = None;
    let mut names = MemberNames::new(body);
    p.parse_object_members(|p, key_start, key| {
        let slot_taken = match &*key {
            "model" => replace(&mut request.model, p.value()?),
            "input" => request
                .input
                .replace(read_input(p, &limits.input)?)
                .is_some(),
            "encoding_format" => replace(&mut request.encoding_format, p.value()?),
            "dimensions" => replace(&mut request.dimensions, p.value()?),
            "user" => replace(&mut request.user, p.value()?),
            name => {
                let start = p.pos;
                p.skip_value()?;
                let seen = names.insert(key_start, &key);
                if seen {
                    // A duplicate: the request is rejected, nothing more to keep.
                } else if limits.allowed_members.iter().any(|m| m == name) {
                    let raw = p.text(start, p.pos);
                    request.extra.push((key.clone(), raw));
                } else if unknown.is_none() {
                    unknown = Some(key.clone());
                }
                seen
            }
        };
        if slot_taken && duplicate.is_none() {
            duplicate = Some(key);
        }
        Ok(())
    })
    .map_err(invalid_json)?;
    p.expect_end().map_err(invalid_json)?;
    if let Some(name) = duplicate {
        return Err(ErrorKind::DuplicateMember { name: echo(&name) });
    }
    if let Some(name) = unknown {
        return Err(ErrorKind::UnknownMember { name: echo(&name) });
    }
    Ok(request)
}

/// The names of the members other than the five the contract defines, to find a
/// duplicate among them.
///
/// An open-addressing table of where each key starts in the body and its hash, 8 bytes a
/// slot: a body of many short distinct members costs about twice its size here, where a
/// set of the names themselves (24 bytes a name and the table's slack) cost up to six
/// times the body. Each name is hashed once; a probe compares hashes and reads a name
/// again from the body only when they are equal (a true duplicate, or a collision of 32
/// keyed bits), and growing moves slots without reading any name: linear in the body.
struct MemberNames<'a> {
    body: &'a [u8],
    /// `(key offset + 1, hash)`; offset 0 is an empty slot. The length is 0 or a power of
    /// two.
    slots: Vec<(u32, u32)>,
    len: usize,
    hasher: std::hash::RandomState,
    /// Names whose offset does not fit a slot (bodies over 4 GiB).
    far: HashSet<String>,
}

impl<'a> MemberNames<'a> {
    fn new(body: &'a [u8]) -> Self {
        MemberNames {
            body,
            slots: Vec::new(),
            len: 0,
            hasher: std::hash::RandomState::new(),
            far: HashSet::new(),
        }
    }

    /// The name of the key that starts at `offset`: already validated, so always there.
    fn name_at(&self, tag: u32) -> Cow<'a, str> {
        Reader::at(self.body, tag as usize - 1)
            .string()
            .unwrap_or_default()
    }

    fn hash(&self, name: &str) -> u32 {
        use std::hash::BuildHasher;
        // The high bits: SipHash mixes all of them, and the low ones pick no slot here.
        (self.hasher.hash_one(name) >> 32) as u32
    }

    /// Adds the name whose key starts at `offset`; says whether it was there already.
    fn insert(&mut self, offset: usize, name: &str) -> bool {
        let hash = self.hash(name);
        if self.contains(name, hash) || self.far.contains(name) {
            return true;
        }
        match u32::try_from(offset + 1) {
            Ok(tag) => {
                // At most 3/4 full: short probes, and under 22 bytes a name after growing.
                if (self.len + 1) * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                let at = self.free_slot(hash);
                self.slots[at] = (tag, hash);
                self.len += 1;
            }
            Err(_) => {
                self.far.insert(name.to_owned());
            }
        }
        false
    }

    fn contains(&self, name: &str, hash: u32) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while self.slots[at].0 != 0 {
            let (tag, slot_hash) = self.slots[at];
            if slot_hash == hash && self.name_at(tag) == name {
                return true;
            }
            at = (at + 1) & mask;
        }
        false
    }

    /// The first empty slot from `hash` on.
    fn free_slot(&self, hash: u32) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        while self.slots[at].0 != 0 {
            at = (at + 1) & mask;
        }
        at
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); size]);
        for slot in old.into_iter().filter(|&(tag, _)| tag != 0) {
            let at = self.free_slot(slot.1);
            self.slots[at] = slot;
        }
    }
}

/// Stores `value` in `slot`; says whether the slot was already filled.
fn replace<T>(slot: &mut Option<T>, value: T) -> bool {
    slot.replace(value).is_some()
}
