//! Gateway-issued keys: their format, their SHA-256 digests, constant-time lookup, key
//! files, and masking for messages.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{ErrorKind, RequestError};

/// Every gateway key starts with this (the default [`KeyFormat`]).
pub const KEY_PREFIX: &str = "sk-gateway-";
/// At least this many ASCII letters or digits follow the prefix (the default [`KeyFormat`]).
pub const KEY_MIN_SECRET_LEN: usize = 8;
/// Keys longer than this are never echoed, not even masked.
const MASK_MAX_LEN: usize = 64;
/// A key's name is at most this many characters.
const NAME_MAX_CHARS: usize = 128;
/// What a key file line starts with.
const DIGEST_TAG: &str = "sha256:";

/// What a key looks like: a prefix, then at least so many characters from a set.
///
/// The default is the contract's: `sk-gateway-` followed by at least 8 ASCII letters or
/// digits. Prefix and characters are printable ASCII other than space, so that any
/// well-formed key of up to 64 characters can be echoed masked.
///
/// ```
/// use embedguard::KeyFormat;
///
/// let format = KeyFormat::new("sk-live-")?
///     .with_secret_chars("abcdefghijklmnopqrstuvwxyz0123456789-_")?
///     .with_min_secret_len(20);
/// assert!(format.matches(b"sk-live-0123456789abcdef-_xy"));
/// assert!(!format.matches(b"sk-live-0123456789ABCDEF-_XY"));
/// assert_eq!(
///     format.to_string(),
///     "`sk-live-` followed by at least 20 lowercase ASCII letters, digits, `-` or `_`"
/// );
/// assert_eq!(
///     KeyFormat::default().to_string(),
///     "`sk-gateway-` followed by at least 8 ASCII letters or digits"
/// );
/// # Ok::<(), embedguard::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: Box<str>,
    min_secret_len: usize,
    /// Bit `c` set when ASCII character `c` may follow the prefix.
    secret_chars: u128,
}

impl Default for KeyFormat {
    fn default() -> KeyFormat {
        KeyFormat {
            prefix: KEY_PREFIX.into(),
            min_secret_len: KEY_MIN_SECRET_LEN,
            secret_chars: char_set(b"0123456789")
                | char_set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
                | char_set(b"abcdefghijklmnopqrstuvwxyz"),
        }
    }
}

impl KeyFormat {
    /// Keys starting with `prefix` (possibly empty), then at least 8 ASCII letters or
    /// digits. Fails if the prefix has a character outside printable ASCII, or a space.
    pub fn new(prefix: &str) -> Result<KeyFormat, KeyError> {
        if !prefix.bytes().all(is_key_char) {
            return Err(KeyError::InvalidFormat);
        }
        Ok(KeyFormat {
            prefix: prefix.into(),
            ..KeyFormat::default()
        })
    }

    /// The characters allowed after the prefix, replacing ASCII letters and digits.
    /// Fails on an empty set, a character outside printable ASCII, or a space.
    pub fn with_secret_chars(mut self, chars: &str) -> Result<KeyFormat, KeyError> {
        if chars.is_empty() || !chars.bytes().all(is_key_char) {
            return Err(KeyError::InvalidFormat);
        }
        self.secret_chars = char_set(chars.as_bytes());
        Ok(self)
    }

    /// How many characters at least follow the prefix (8 by default).
    pub fn with_min_secret_len(mut self, n: usize) -> KeyFormat {
        self.min_secret_len = n;
        self
    }

    /// What every key starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How many characters at least follow the prefix.
    pub fn min_secret_len(&self) -> usize {
        self.min_secret_len
    }

    /// Whether `key` has this format.
    pub fn matches(&self, key: &[u8]) -> bool {
        key.strip_prefix(self.prefix.as_bytes())
            .is_some_and(|secret| {
                secret.len() >= self.min_secret_len
                    && secret
                        .iter()
                        .all(|&b| b < 128 && (self.secret_chars >> b) & 1 == 1)
            })
    }
}

impl fmt::Display for KeyFormat {
    /// In words: "`sk-gateway-` followed by at least 8 ASCII letters or digits".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.prefix.is_empty() {
            write!(f, "`{}` followed by ", self.prefix)?;
        }
        write!(f, "at least {} ", self.min_secret_len)?;
        let parts = describe_chars(self.secret_chars);
        for (i, part) in parts.iter().enumerate() {
            match i {
                0 => {}
                _ if i + 1 == parts.len() => f.write_str(" or ")?,
                _ => f.write_str(", ")?,
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// A set of printable ASCII characters in words: named classes first, then runs.
fn describe_chars(set: u128) -> Vec<String> {
    let upper = char_set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    let lower = char_set(b"abcdefghijklmnopqrstuvwxyz");
    let digits = char_set(b"0123456789");
    let mut rest = set;
    let mut parts = Vec::new();
    let mut class = |bits: u128, name: &str| {
        if rest & bits == bits {
            rest &= !bits;
            parts.push(name.to_owned());
        }
    };
    class(upper | lower, "ASCII letters");
    class(lower, "lowercase ASCII letters");
    class(upper, "uppercase ASCII letters");
    class(digits, "digits");
    let mut c = 0u8;
    while c < 128 {
        if (rest >> c) & 1 == 0 {
            c += 1;
            continue;
        }
        let start = c;
        while c < 128 && (rest >> c) & 1 == 1 {
            c += 1;
        }
        // Runs of three or more read better as ranges.
        match c - start {
            1 => parts.push(format!("`{}`", char::from(start))),
            2 => {
                parts.push(format!("`{}`", char::from(start)));
                parts.push(format!("`{}`", char::from(start + 1)));
            }
            _ => parts.push(format!(
                "`{}` to `{}`",
                char::from(start),
                char::from(c - 1)
            )),
        }
    }
    parts
}

fn char_set(chars: &[u8]) -> u128 {
    chars.iter().fold(0, |set, &c| set | 1 << (c & 127))
}

/// Printable ASCII other than space.
fn is_key_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

/// Who a key belongs to: its name and its position in the set. Never the key itself, so
/// it can go into logs and, as `{org}`, into rate-limit messages.
///
/// Cheap to clone, `Send + Sync + 'static`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId {
    index: usize,
    name: Arc<str>,
}

impl KeyId {
    /// The key's position in the order keys were added (for per-key quotas).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The name the gateway gave the key's owner.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// The gateway's keys, held as SHA-256 digests, checked against `Authorization` headers
/// in constant time.
///
/// ```
/// use embedguard::KeySet;
/// let keys = KeySet::new().with_named_key("sk-gateway-abcd1234", "team-a")?;
/// let id = keys.check_header(Some(b"Bearer sk-gateway-abcd1234"))?;
/// assert_eq!((id.index(), id.name()), (0, "team-a"));
///
/// let err = keys.check_header(Some(b"Bearer sk-gateway-nope5678")).unwrap_err();
/// assert_eq!(err.status(), 401);
/// assert_eq!(err.message(), "Incorrect API key provided: sk-g***********5678.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The set keeps no key in plain text, only digests: a configuration can hold a key
/// file of digests ([`KeySet::with_key_file`], lines made by [`KeySet::digest_line`]).
/// Neither `Debug` output nor any message of this crate holds a key; a wrong key is
/// echoed only masked, as the contract says.
#[derive(Clone, Default)]
pub struct KeySet {
    format: KeyFormat,
    keys: Vec<Entry>,
    /// Digest to position, to refuse duplicates in constant time while building (a
    /// lookup here is never on the request path).
    positions: HashMap<[u8; 32], usize>,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    id: KeyId,
}

impl fmt::Debug for KeySet {
    // Digests are not keys, but there is no reason to print them either.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.keys.iter().map(|e| e.id.name()).collect();
        f.debug_struct("KeySet")
            .field("format", &self.format.to_string())
            .field("keys", &names)
            .finish()
    }
}

/// Why a key, a name, a format or a key file line was refused.
///
/// No variant holds a key or a key file's text: a plain key pasted by mistake into a
/// key file is not repeated in the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key that does not have the set's format.
    #[error("a gateway key is {format}")]
    Malformed {
        /// The format it should have.
        format: KeyFormat,
    },
    /// A key format's prefix or characters outside printable ASCII, a space, or no
    /// character at all.
    #[error(
        "a key format uses printable ASCII characters other than space, and at least one character after the prefix"
    )]
    InvalidFormat,
    /// A key's name that is empty, too long, has a control character or starts or ends
    /// with a space.
    #[error(
        "a key's name is 1 to {NAME_MAX_CHARS} characters, none of them a control character, with no space at either end"
    )]
    InvalidName,
    /// The same key (the same digest) twice.
    #[error("the same key is already in the set, named `{name}`")]
    Duplicate {
        /// The name it already has.
        name: String,
    },
    /// A key file line that is not `sha256:<64 hex digits> NAME`.
    #[error("line {line}: {reason}")]
    File {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it (never the line's text).
        reason: String,
    },
}

impl KeySet {
    /// An empty set with the default [`KeyFormat`]: every key is rejected.
    pub fn new() -> KeySet {
        KeySet::default()
    }

    /// The format every presented key must have, and every key added after this call.
    /// Set it first: keys already added are not checked again.
    pub fn with_format(mut self, format: KeyFormat) -> KeySet {
        self.format = format;
        self
    }

    /// The format keys must have.
    pub fn format(&self) -> &KeyFormat {
        &self.format
    }

    /// Adds a key named `key #N` (N its position); fails if it does not have the set's
    /// format or is already in the set.
    pub fn with_key(self, key: &str) -> Result<KeySet, KeyError> {
        let name = format!("key #{}", self.keys.len());
        self.with_named_key(key, &name)
    }

    /// Adds a key with the name of its owner (for logs and rate-limit messages); fails if
    /// the key does not have the set's format, the name is not valid, or the key is
    /// already in the set. Only the key's digest is kept.
    pub fn with_named_key(self, key: &str, name: &str) -> Result<KeySet, KeyError> {
        if !self.format.matches(key.as_bytes()) {
            return Err(self.malformed());
        }
        self.with_digest(digest(key.as_bytes()), name)
    }

    /// Adds a key by its SHA-256 digest, with the name of its owner; fails if the name
    /// is not valid or the digest is already in the set.
    pub fn with_digest(mut self, digest: [u8; 32], name: &str) -> Result<KeySet, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        if let Some(&at) = self.positions.get(&digest) {
            return Err(KeyError::Duplicate {
                name: self.keys[at].id.name().to_owned(),
            });
        }
        let index = self.keys.len();
        let id = KeyId {
            index,
            name: name.into(),
        };
        self.positions.insert(digest, index);
        self.keys.push(Entry { digest, id });
        Ok(self)
    }

    /// Adds the keys of a key file: one key a line, `sha256:` then the key's SHA-256
    /// digest in 64 hex digits, spaces, then the key's name (the rest of the line). Blank
    /// lines and lines starting with `#` are skipped. Errors name the line, never its text.
    ///
    /// ```
    /// use embedguard::{KeyError, KeySet};
    ///
    /// let keys = KeySet::new();
    /// let file = format!(
    ///     "# team keys, made with KeySet::digest_line\n{}\n{}\n",
    ///     keys.digest_line("sk-gateway-team0001", "team one")?,
    ///     keys.digest_line("sk-gateway-team0002", "team two")?,
    /// );
    /// assert!(file.contains("sha256:"));
    /// assert!(!file.contains("team0001"));
    /// let keys = keys.with_key_file(&file)?;
    /// let id = keys.check_header(Some(b"Bearer sk-gateway-team0002"))?;
    /// assert_eq!(id.name(), "team two");
    ///
    /// let err = KeySet::new().with_key_file("# keys\nsk-gateway-team0001 team one\n").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "line 2: expected `sha256:` then the key's digest in 64 hex digits (not the key itself)"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_key_file(mut self, text: &str) -> Result<KeySet, KeyError> {
        for (number, line) in text.lines().enumerate() {
            let line_error = |reason: &str| KeyError::File {
                line: number + 1,
                reason: reason.to_owned(),
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let digest = line
                .strip_prefix(DIGEST_TAG)
                .and_then(|rest| rest.get(..64))
                .and_then(parse_hex)
                .ok_or_else(|| {
                    line_error(
                        "expected `sha256:` then the key's digest in 64 hex digits (not the key itself)",
                    )
                })?;
            // Past the ASCII tag and hex digits, so index 71 is a character boundary.
            let rest = &line[DIGEST_TAG.len() + 64..];
            if !rest.starts_with([' ', '\t']) {
                return Err(line_error(if rest.is_empty() {
                    "expected the key's name after its digest"
                } else {
                    "expected a space between the digest and the key's name"
                }));
            }
            self = self
                .with_digest(digest, rest.trim())
                .map_err(|err| match err {
                    KeyError::Duplicate { name } => line_error(&format!(
                        "the same key is already in the set, named `{name}`"
                    )),
                    other => line_error(&other.to_string()),
                })?;
        }
        Ok(self)
    }

    /// The key file line for a key: `sha256:<digest in hex> NAME`. Fails if the key does
    /// not have the set's format or the name is not valid.
    ///
    /// ```
    /// let line = embedguard::KeySet::new().digest_line("sk-gateway-abcd1234", "team-a")?;
    /// assert_eq!(
    ///     line,
    ///     "sha256:92055d7b070ae2dd8c40871702fa05f2fd87b041d245120687b03cbc37ac0dd3 team-a"
    /// );
    /// # Ok::<(), embedguard::KeyError>(())
    /// ```
    pub fn digest_line(&self, key: &str, name: &str) -> Result<String, KeyError> {
        if !self.format.matches(key.as_bytes()) {
            return Err(self.malformed());
        }
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        let hex: String = digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(format!("{DIGEST_TAG}{hex} {name}"))
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys' identities, in the order they were added.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &KeyId> {
        self.keys.iter().map(|e| &e.id)
    }

    /// Checks an `Authorization` header value; on success, who the key belongs to.
    ///
    /// The presented key is hashed and its digest compared with every digest in the set,
    /// each comparison over all 32 bytes whatever they hold, so the time does not depend
    /// on how close a guess was (and a digest's closeness says nothing of a key anyway).
    /// The time grows with the header and with the number of keys (32 bytes each).
    /// Errors are 401s in OpenAI's words; a key is only ever echoed masked.
    pub fn check_header(&self, header: Option<&[u8]>) -> Result<&KeyId, RequestError> {
        let key = header
            .and_then(bearer_key)
            .ok_or(ErrorKind::MissingApiKey)?;
        let presented = digest(key);
        let mut found = None;
        for entry in &self.keys {
            // Digests in a set are distinct, so at most one entry matches.
            if digests_equal(&presented, &entry.digest) {
                found = Some(&entry.id);
            }
        }
        match found {
            Some(id) if self.format.matches(key) => Ok(id),
            _ => Err(ErrorKind::InvalidApiKey {
                masked: mask_key(key),
            }
            .into()),
        }
    }

    fn malformed(&self) -> KeyError {
        KeyError::Malformed {
            format: self.format.clone(),
        }
    }
}

fn digest(key: &[u8]) -> [u8; 32] {
    Sha256::digest(key).into()
}

/// Equality of two digests in a time that does not depend on their bytes: every byte is
/// compared, differences are OR-ed together, and `black_box` keeps the compiler from
/// turning the loop into an early exit.
fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// 64 hex digits (either case) as 32 bytes.
fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    (hex.len() == 64).then_some(out)
}

fn is_valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=NAME_MAX_CHARS).contains(&chars)
        && !name.chars().any(char::is_control)
        && name.trim() == name
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
