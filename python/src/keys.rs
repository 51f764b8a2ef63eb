//! Gateway keys.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};

use crate::convert::{quote, type_name};
use crate::errors::{request_error, value_error};

/// What a gateway key looks like: a prefix, then at least ``min_secret_len`` characters
/// from ``secret_chars`` (default: ``sk-gateway-`` and 8 ASCII letters or digits).
///
/// >>> from embedguard import KeyFormat
/// >>> fmt = KeyFormat("sk-live-", secret_chars="abcdefghijklmnopqrstuvwxyz0123456789-_", min_secret_len=20)
/// >>> fmt.matches("sk-live-0123456789abcdef-_xy"), fmt.matches("sk-live-0123456789ABCDEF-_XY")
/// (True, False)
/// >>> str(KeyFormat())
/// '`sk-gateway-` followed by at least 8 ASCII letters or digits'
#[pyclass(module = "embedguard", frozen)]
#[derive(Clone)]
pub struct KeyFormat {
    inner: embedguard::KeyFormat,
}

#[pymethods]
impl KeyFormat {
    #[new]
    #[pyo3(signature = (prefix = embedguard::KEY_PREFIX, *, secret_chars = None, min_secret_len = None))]
    fn new(
        py: Python<'_>,
        prefix: &str,
        secret_chars: Option<&str>,
        min_secret_len: Option<usize>,
    ) -> PyResult<Self> {
        let mut inner = embedguard::KeyFormat::new(prefix).map_err(|e| key_error(py, &e))?;
        if let Some(chars) = secret_chars {
            inner = inner
                .with_secret_chars(chars)
                .map_err(|e| key_error(py, &e))?;
        }
        if let Some(n) = min_secret_len {
            inner = inner.with_min_secret_len(n);
        }
        Ok(KeyFormat { inner })
    }

    /// What every key starts with.
    #[getter]
    fn prefix(&self) -> &str {
        self.inner.prefix()
    }

    /// The fewest characters after the prefix.
    #[getter]
    fn min_secret_len(&self) -> usize {
        self.inner.min_secret_len()
    }

    /// Whether ``key`` (``str`` or ``bytes``) has this format.
    fn matches(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.matches(&header_bytes(key)?))
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!("KeyFormat(<{}>)", self.inner)
    }
}

/// Who a key belongs to: its name and its position in the set; never the key itself, so
/// it can go into logs. ``str(key_id)`` is the name.
#[pyclass(module = "embedguard", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId {
    /// The key's position in the order keys were added (for per-key quotas).
    #[pyo3(get)]
    index: usize,
    /// The name the gateway gave the key's owner.
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl KeyId {
    fn __str__(&self) -> &str {
        &self.name
    }

    fn __repr__(&self) -> String {
        format!("KeyId(index={}, name={})", self.index, quote(&self.name))
    }
}

/// The gateway's keys, held as SHA-256 digests and checked against ``Authorization``
/// header values in constant time. Immutable: the ``with_*`` methods make changed copies.
///
/// ``keys`` is an iterable of keys (named ``key #0``, ``key #1``, ...) or a mapping of
/// owner names to keys; ``key_file`` the text of a key file of digests (lines made by
/// ``digest_line``). A key without the format raises ``MalformedKeyError``, any other
/// bad key, name or line ``KeySetError``. ``repr`` shows only names.
///
/// >>> from embedguard import KeySet, AuthenticationError
/// >>> keys = KeySet({"team-a": "sk-gateway-abcd1234", "team-b": "sk-gateway-team0002"})
/// >>> keys.check_header("Bearer sk-gateway-team0002")
/// KeyId(index=1, name='team-b')
/// >>> len(keys), keys
/// (2, KeySet(['team-a', 'team-b']))
/// >>> try:
/// ...     keys.check_header("Bearer sk-gateway-nope5678")
/// ... except AuthenticationError as err:
/// ...     print(err.status, err.message)
/// 401 Incorrect API key provided: sk-g***********5678.
///
/// A configuration can hold digests instead of keys:
///
/// >>> line = KeySet().digest_line("sk-gateway-abcd1234", "team-a")
/// >>> line
/// 'sha256:92055d7b070ae2dd8c40871702fa05f2fd87b041d245120687b03cbc37ac0dd3 team-a'
/// >>> KeySet(key_file="# keys\n" + line).check_header("Bearer sk-gateway-abcd1234").name
/// 'team-a'
#[pyclass(module = "embedguard", frozen)]
pub struct KeySet {
    inner: embedguard::KeySet,
}

#[pymethods]
impl KeySet {
    #[new]
    #[pyo3(signature = (keys = None, *, format = None, key_file = None))]
    fn new(
        py: Python<'_>,
        keys: Option<&Bound<'_, PyAny>>,
        format: Option<&KeyFormat>,
        key_file: Option<&str>,
    ) -> PyResult<Self> {
        let mut inner = embedguard::KeySet::new();
        if let Some(format) = format {
            inner = inner.with_format(format.inner.clone());
        }
        if let Some(keys) = keys {
            if keys.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(
                    "KeySet takes an iterable of keys or a mapping of names to keys, not a str",
                ));
            }
            if let Ok(named) = keys.cast::<PyDict>() {
                for (index, (name, key)) in named.iter().enumerate() {
                    let name = string(&name, "a key's name", index)?;
                    let key = string(&key, "key", index)?;
                    inner = inner
                        .with_named_key(&key, &name)
                        .map_err(|e| indexed(py, index, &e))?;
                }
            } else {
                for (index, key) in keys.try_iter()?.enumerate() {
                    let key = string(&key?, "key", index)?;
                    inner = inner.with_key(&key).map_err(|e| indexed(py, index, &e))?;
                }
            }
        }
        if let Some(text) = key_file {
            inner = inner.with_key_file(text).map_err(|e| key_error(py, &e))?;
        }
        Ok(KeySet { inner })
    }

    /// A copy with this key added, named ``name`` (default ``key #N``, N its position).
    ///
    /// >>> from embedguard import KeySet
    /// >>> KeySet().with_key("sk-gateway-abcd1234").check_header("Bearer sk-gateway-abcd1234")
    /// KeyId(index=0, name='key #0')
    #[pyo3(signature = (key, name = None))]
    fn with_key(&self, py: Python<'_>, key: &str, name: Option<&str>) -> PyResult<Self> {
        let keys = self.inner.clone();
        let added = match name {
            Some(name) => keys.with_named_key(key, name),
            None => keys.with_key(key),
        };
        Ok(KeySet {
            inner: added.map_err(|e| key_error(py, &e))?,
        })
    }

    /// A copy with the keys of a key file added: ``sha256:<64 hex digits> NAME`` a line,
    /// blank lines and ``#`` comments skipped. Errors name the line, never its text.
    fn with_key_file(&self, py: Python<'_>, text: &str) -> PyResult<Self> {
        let inner = self
            .inner
            .clone()
            .with_key_file(text)
            .map_err(|e| key_error(py, &e))?;
        Ok(KeySet { inner })
    }

    /// The key file line for a key: ``sha256:<digest in hex> NAME``.
    fn digest_line(&self, py: Python<'_>, key: &str, name: &str) -> PyResult<String> {
        self.inner
            .digest_line(key, name)
            .map_err(|e| key_error(py, &e))
    }

    /// The format every key must have.
    #[getter]
    fn format(&self) -> KeyFormat {
        KeyFormat {
            inner: self.inner.format().clone(),
        }
    }

    /// The keys' names, in the order they were added.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.ids().map(|id| id.name().to_owned()).collect()
    }

    /// Checks an ``Authorization`` header value (``str``, ``bytes`` or ``None`` when the
    /// header is absent); returns who the key belongs to (``KeyId``). Raises
    /// ``AuthenticationError`` (401) in OpenAI's words otherwise; a key is only ever
    /// echoed masked.
    ///
    /// >>> from embedguard import KeySet, AuthenticationError
    /// >>> try:
    /// ...     KeySet(["sk-gateway-abcd1234"]).check_header(None)
    /// ... except AuthenticationError as err:
    /// ...     print(err.body)
    /// {"error":{"message":"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).","type":"invalid_request_error","param":null,"code":null}}
    #[pyo3(signature = (value, /))]
    fn check_header(&self, py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<KeyId> {
        let header = match value {
            None => None,
            Some(v) => Some(header_bytes(v)?),
        };
        match self.inner.check_header(header.as_deref()) {
            Ok(id) => Ok(KeyId {
                index: id.index(),
                name: id.name().to_owned(),
            }),
            Err(err) => Err(request_error(py, &err)),
        }
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let names: Vec<String> = self.inner.ids().map(|id| quote(id.name())).collect();
        format!("KeySet([{}])", names.join(", "))
    }
}

fn string(obj: &Bound<'_, PyAny>, what: &str, index: usize) -> PyResult<String> {
    match obj.cast::<PyString>() {
        // Characters outside UTF-8 make a key malformed anyway.
        Ok(s) => Ok(s.to_cow().map(|c| c.into_owned()).unwrap_or_default()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} {index} is {}, not str",
            type_name(obj)
        ))),
    }
}

/// A key error as `MalformedKeyError` (a key without the format) or `KeySetError`.
fn key_error(py: Python<'_>, err: &embedguard::KeyError) -> PyErr {
    let class = match err {
        embedguard::KeyError::Malformed { .. } => "MalformedKeyError",
        _ => "KeySetError",
    };
    value_error(py, class, err.to_string())
}

fn indexed(py: Python<'_>, index: usize, err: &embedguard::KeyError) -> PyErr {
    let class = match err {
        embedguard::KeyError::Malformed { .. } => "MalformedKeyError",
        _ => "KeySetError",
    };
    value_error(py, class, format!("key {index}: {err}"))
}

/// A header value's bytes: `bytes` as they are, a `str` as UTF-8 (lone surrogates kept
/// as their three bytes, which no key has).
fn header_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(bytes) = value.cast::<PyByteArray>() {
        return Ok(bytes.to_vec());
    }
    if let Ok(text) = value.cast::<PyString>() {
        let bytes = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
        return Ok(bytes.cast::<PyBytes>()?.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "a header value is str, bytes or None, not {}",
        type_name(value)
    )))
}

/// A key as messages show it: first and last 4 characters, the rest ``*``; ``None`` for
/// keys it would not echo at all (over 64 characters, or not printable ASCII).
///
/// >>> from embedguard import mask_key
/// >>> mask_key("sk-gateway-abcd1234")
/// 'sk-g***********1234'
/// >>> mask_key("short")
/// '*****'
/// >>> print(mask_key("sk-gatewäy-1"))
/// None
#[pyfunction]
pub fn mask_key(key: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    Ok(embedguard::mask_key(&header_bytes(key)?))
}
