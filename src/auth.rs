//! Gateway-issued keys: format, constant-time lookup, and masking for messages.

use std::fmt;

use crate::error::{ErrorKind, RequestError};

/// Every gateway key starts with this.
pub const KEY_PREFIX: &str = "sk-gateway-";
/// At least this many ASCII letters or digits follow the prefix.
pub const KEY_MIN_SECRET_LEN: usize = 8;
/// Keys longer than this are never echoed, not even masked.
const MASK_MAX_LEN: usize = 64;

/// The gateway's keys, checked against `Authorization` headers in constant time.
///
/// ```
/// use embedguard::KeySet;
/// let keys = KeySet::new().with_key("sk-gateway-abcd1234").unwrap();
/// assert_eq!(keys.check_header(Some(b"Bearer sk-gateway-abcd1234")), Ok(0));
///
/// let err = keys.check_header(Some(b"Bearer sk-gateway-nope5678")).unwrap_err();
/// assert_eq!(err.status(), 401);
/// assert_eq!(err.message(), "Incorrect API key provided: sk-g***********5678.");
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<Box<[u8]>>,
}

/// A key that does not have the gateway's format (`sk-gateway-` then 8+ letters or digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a gateway key is `{KEY_PREFIX}` followed by at least {KEY_MIN_SECRET_LEN} ASCII letters or digits"
)]
pub struct MalformedKey;

impl fmt::Debug for KeySet {
    // Keys are secrets: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl KeySet {
    /// An empty set: every key is rejected.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// Adds a key; fails if it does not have the gateway's format.
    pub fn with_key(mut self, key: &str) -> Result<KeySet, MalformedKey> {
        if !is_well_formed(key.as_bytes()) {
            return Err(MalformedKey);
        }
        self.keys.push(key.as_bytes().into());
        Ok(self)
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks an `Authorization` header value; on success, the position of the matching
    /// key in the order keys were added (for per-key quotas and logs).
    ///
    /// The comparison touches every key and every byte of each, whatever the input, so
    /// its time does not tell how close a guess was. Errors are 401s in OpenAI's words;
    /// a key is only ever echoed masked.
    pub fn check_header(&self, header: Option<&[u8]>) -> Result<usize, RequestError> {
        let key = header
            .and_then(bearer_key)
            .ok_or(ErrorKind::MissingApiKey)?;
        let mut found = None;
        for (index, candidate) in self.keys.iter().enumerate() {
            if constant_time_eq(key, candidate) && found.is_none() {
                found = Some(index);
            }
        }
        match found {
            Some(index) if is_well_formed(key) => Ok(index),
            _ => Err(ErrorKind::InvalidApiKey {
                masked: mask_key(key),
            }
            .into()),
        }
    }
}

/// The key of a `Bearer` header value: the scheme is case-insensitive (RFC 9110), the
/// key is what follows the spaces. `None` when there is no bearer key at all.
fn bearer_key(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    let (scheme, rest) = header.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || !rest.first()?.is_ascii_whitespace() {
        return None;
    }
    let key = rest.trim_ascii();
    (!key.is_empty()).then_some(key)
}

fn is_well_formed(key: &[u8]) -> bool {
    key.strip_prefix(KEY_PREFIX.as_bytes())
        .is_some_and(|secret| {
            secret.len() >= KEY_MIN_SECRET_LEN && secret.iter().all(u8::is_ascii_alphanumeric)
        })
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (i, &e) in expected.iter().enumerate() {
        diff |= given.get(i).copied().unwrap_or(!e) ^ e;
    }
    std::hint::black_box(diff) == 0
}

/// A key as messages show it: first 4 and last 4 characters, the rest `*`; keys of 8
/// characters or fewer all `*`. `None` (not echoed at all) for keys longer than 64
/// characters or with characters outside printable ASCII.
///
/// ```
/// assert_eq!(embedguard::mask_key(b"sk-gateway-abcd1234").as_deref(), Some("sk-g***********1234"));
/// assert_eq!(embedguard::mask_key(b"short").as_deref(), Some("*****"));
/// assert_eq!(embedguard::mask_key("sk-gatewäy-1".as_bytes()), None);
/// ```
pub fn mask_key(key: &[u8]) -> Option<String> {
    if key.len() > MASK_MAX_LEN || !key.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return None;
    }
    let n = key.len();
    Some(
        key.iter()
            .enumerate()
            .map(|(i, &b)| {
                if n > 8 && (i < 4 || i >= n - 4) {
                    char::from(b)
                } else {
                    '*'
                }
            })
            .collect(),
    )
}
