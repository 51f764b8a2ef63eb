//! The request: its members read from the body and the contract's rules 2 to 5 (valid
//! JSON, an object, no duplicate, no unknown member). What the members mean is judged
//! by the policy; the `input` member is read by `input.rs`.

use std::borrow::Cow;

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
    // The first duplicate among the five members and the allowed ones, found as read:
    // `(offset of its key, name)`. Duplicates among the other names are found at the end.
    let mut duplicate: Option<(usize, Cow<'a, str>)> = None;
    let mut unknown: Option<Cow<'a, str>> = None;
    let mut allowed_seen = vec![false; limits.allowed_members.len()];
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
                match limits.allowed_members.iter().position(|m| m == name) {
                    Some(i) if allowed_seen[i] => true,
                    Some(i) => {
                        allowed_seen[i] = true;
                        request.extra.push((key.clone(), p.text(start, p.pos)));
                        false
                    }
                    None => {
                        names.push(key_start, &key);
                        if unknown.is_none() {
                            unknown = Some(key.clone());
                        }
                        false
                    }
                }
            }
        };
        if slot_taken && duplicate.is_none() {
            duplicate = Some((key_start, key));
        }
        Ok(())
    })
    .map_err(invalid_json)?;
    p.expect_end().map_err(invalid_json)?;
    let duplicate = match (duplicate, names.first_duplicate()) {
        (Some(known), Some(other)) => Some(if known.0 < other.0 { known } else { other }),
        (known, other) => known.or(other),
    };
    if let Some((_, name)) = duplicate {
        return Err(ErrorKind::DuplicateMember { name: echo(&name) });
    }
    if let Some(name) = unknown {
        return Err(ErrorKind::UnknownMember { name: echo(&name) });
    }
    Ok(request)
}

/// The names of the members other than the five the contract defines and the ones the
/// policy lets through, to find the first duplicate among them once the body is read.
///
/// Each name is hashed once, as read, into `hash << 32 | key offset`: 8 bytes a name,
/// appended in order, never a random access into a table. Past a few thousand names the
/// entries go to 256 buckets by the hash's top byte, each small enough to sort in the
/// cache (a radix sort: linear) at the end; only names whose hashes are equal (true
/// duplicates, or a chance collision of 32 keyed bits) are read again from the body and
/// compared. So time and memory traffic per name stay the same at every size, where a
/// hash table as large as the body cost a cache miss a name once it outgrew the caches.
struct MemberNames<'a> {
    body: &'a [u8],
    hasher: std::hash::RandomState,
    /// `hash << 32 | key offset`, in body order, until there are `SMALL` of them.
    small: Vec<u64>,
    /// Then: the same entries by the hash's top byte, each bucket in body order.
    buckets: Vec<Vec<u64>>,
    /// `(hash, key offset)` of keys past 4 GiB.
    far: Vec<(u32, usize)>,
}

/// Up to this many names sort in one piece.
const SMALL: usize = 4096;

impl<'a> MemberNames<'a> {
    fn new(body: &'a [u8]) -> Self {
        MemberNames {
            body,
            hasher: std::hash::RandomState::new(),
            small: Vec::new(),
            buckets: Vec::new(),
            far: Vec::new(),
        }
    }

    /// Adds the name whose key starts at `offset`.
    fn push(&mut self, offset: usize, name: &str) {
        use std::hash::BuildHasher;
        let hash = (self.hasher.hash_one(name) >> 32) as u32;
        let Ok(offset) = u32::try_from(offset) else {
            self.far.push((hash, offset));
            return;
        };
        let entry = u64::from(hash) << 32 | u64::from(offset);
        if !self.buckets.is_empty() {
            self.buckets[(hash >> 24) as usize].push(entry);
            return;
        }
        self.small.push(entry);
        if self.small.len() == SMALL {
            self.buckets = vec![Vec::new(); 256];
            for entry in std::mem::take(&mut self.small) {
                self.buckets[(entry >> 56) as usize].push(entry);
            }
        }
    }

    /// The name of the key that starts at `offset`: already validated, so always there.
    fn name_at(&self, offset: usize) -> Cow<'a, str> {
        Reader::at(self.body, offset).string().unwrap_or_default()
    }

    /// The first name, in body order, that is a name seen before it: its key's offset
    /// and the name.
    fn first_duplicate(mut self) -> Option<(usize, Cow<'a, str>)> {
        let split = |&e: &u64| ((e >> 32) as u32, (e & 0xffff_ffff) as usize);
        let mut small = std::mem::take(&mut self.small);
        let mut buckets = std::mem::take(&mut self.buckets);
        if !self.far.is_empty() {
            // Bodies over 4 GiB: rare enough for one comparison sort of everything.
            let mut all: Vec<(u32, usize)> = small
                .iter()
                .chain(buckets.iter().flatten())
                .map(split)
                .collect();
            all.extend_from_slice(&self.far);
            all.sort_unstable();
            return self.scan(all.into_iter());
        }
        if buckets.is_empty() {
            small.sort_unstable(); // by hash, then offset
            return self.scan(small.iter().map(split));
        }
        let mut scratch = Vec::new();
        for bucket in &mut buckets {
            sort_by_hash(bucket, &mut scratch);
        }
        self.scan(buckets.iter().flatten().map(split))
    }

    /// [`Self::first_duplicate`] over `(hash, offset)` entries sorted by hash, offsets
    /// ascending within a hash.
    fn scan(&self, entries: impl Iterator<Item = (u32, usize)>) -> Option<(usize, Cow<'a, str>)> {
        let mut best: Option<(usize, Cow<'a, str>)> = None;
        let mut group: Option<u32> = None;
        // The group's first entry, read only once a second one shares its hash.
        let mut unread: Option<usize> = None;
        // The distinct names of the group so far (one, unless hashes collide).
        let mut names: Vec<Cow<'a, str>> = Vec::new();
        for (hash, offset) in entries {
            if group != Some(hash) {
                (group, unread) = (Some(hash), Some(offset));
                names.clear();
                continue;
            }
            if best.as_ref().is_some_and(|(at, _)| *at < offset) {
                continue; // the rest of the group comes later still
            }
            if let Some(first) = unread.take() {
                names.push(self.name_at(first));
            }
            let name = self.name_at(offset);
            if names.contains(&name) {
                best = Some((offset, name));
            } else {
                names.push(name);
            }
        }
        best
    }
}

/// Sorts one bucket (entries whose hashes share the top byte) by hash, keeping the body
/// order of equal hashes: three stable passes of a byte each (LSD radix), linear, through
/// `scratch`; small buckets sort in place (same order: the low halves are ascending
/// offsets).
fn sort_by_hash(entries: &mut [u64], scratch: &mut Vec<u64>) {
    if entries.len() < 256 {
        entries.sort_unstable();
        return;
    }
    let digit = |e: u64, pass: usize| ((e >> (32 + 8 * pass)) & 0xff) as usize;
    let mut counts = [[0usize; 256]; 3];
    for &e in entries.iter() {
        for (pass, count) in counts.iter_mut().enumerate() {
            count[digit(e, pass)] += 1;
        }
    }
    scratch.clear();
    scratch.resize(entries.len(), 0);
    let (mut from, mut to) = (&mut *entries, &mut scratch[..]);
    for (pass, count) in counts.iter().enumerate() {
        let mut next = [0usize; 256];
        let mut sum = 0;
        for (slot, &n) in next.iter_mut().zip(count) {
            *slot = sum;
            sum += n;
        }
        for &e in from.iter() {
            let d = digit(e, pass);
            to[next[d]] = e;
            next[d] += 1;
        }
        std::mem::swap(&mut from, &mut to);
    }
    // Three passes: the sorted entries are in `scratch`.
    entries.copy_from_slice(scratch);
}

/// Stores `value` in `slot`; says whether the slot was already filled.
fn replace<T>(slot: &mut Option<T>, value: T) -> bool {
    slot.replace(value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures replay.
    fn rng(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn radix_sort_matches_a_stable_sort_by_hash() {
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        let mut scratch = Vec::new();
        for len in [0, 1, 5, 255, 256, 5000, 70_000] {
            // One top byte (a bucket), few distinct hashes: equal ones are many.
            let mut entries: Vec<u64> = (0..len)
                .map(|i| 0x5a << 56 | (next() % 97) << 32 | (next() % 3) << 48 | i as u64)
                .collect();
            let mut expected = entries.clone();
            expected.sort_by_key(|e| e >> 32);
            sort_by_hash(&mut entries, &mut scratch);
            assert_eq!(entries, expected, "{len}");
        }
    }

    /// The first duplicate of a body against the obvious oracle: a set of the names read
    /// so far, in order.
    #[test]
    fn first_duplicate_matches_a_set_in_body_order() {
        let mut next = rng(7);
        let spellings = |name: &str, escaped: bool| {
            if escaped {
                name.chars()
                    .map(|c| format!("\\u{:04x}", c as u32))
                    .collect()
            } else {
                name.to_owned()
            }
        };
        for round in 0..300 {
            let count = 1 + (next() % 3000) as usize;
            let distinct = 1 + (next() % (count as u64 * 2)) as usize;
            let mut body = String::from("{");
            let mut seen = std::collections::HashSet::new();
            let mut expected = None;
            for i in 0..count {
                let name = format!("n{}", next() as usize % distinct);
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&format!("\"{}\":{i}", spellings(&name, next() % 4 == 0)));
                if !seen.insert(name.clone()) && expected.is_none() {
                    expected = Some(name);
                }
            }
            body.push('}');
            let limits = ParseLimits {
                max_depth: 128,
                input: InputLimits {
                    max_inputs: 2048,
                    max_input_tokens: 8192,
                    vocabulary: &crate::tokens::Vocabulary::empty(),
                },
                allowed_members: &[],
            };
            let got = match parse(body.as_bytes(), &limits) {
                Err(ErrorKind::DuplicateMember { name }) => Some(name),
                Err(ErrorKind::UnknownMember { .. }) => None,
                other => panic!("round {round}: {other:?}"),
            };
            assert_eq!(got, expected, "round {round}: {body:.200}");
        }
    }
}
