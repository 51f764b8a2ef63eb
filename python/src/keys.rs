//! Gateway keys.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::convert::type_name;
use crate::errors::{request_error, value_error};

/// The gateway's keys, checked against ``Authorization`` header values in constant time.
///
/// A key is ``sk-gateway-`` followed by at least 8 ASCII letters or digits; a malformed
/// one raises ``MalformedKeyError``. The keys are secrets: ``repr`` shows only how many.
///
/// >>> from embedguard import KeySet, AuthenticationError
/// >>> keys = KeySet(["sk-gateway-abcd1234", "sk-gateway-team0002"])
/// >>> keys.check_header("Bearer sk-gateway-team0002")
/// 1
/// >>> len(keys), keys
/// (2, KeySet(<2 keys>))
/// >>> try:
/// ...     keys.check_header("Bearer sk-gateway-nope5678")
/// ... except AuthenticationError as err:
/// ...     print(err.status, err.message)
/// 401 Incorrect API key provided: sk-g***********5678.
#[pyclass(module = "embedguard", frozen)]
pub struct KeySet {
    inner: embedguard::KeySet,
}

#[pymethods]
impl KeySet {
    #[new]
    #[pyo3(signature = (keys = None))]
    fn new(py: Python<'_>, keys: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let mut inner = embedguard::KeySet::new();
        if let Some(keys) = keys {
            if keys.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(
                    "KeySet takes an iterable of keys, not a str (wrap one key in a list)",
                ));
            }
            for (index, key) in keys.try_iter()?.enumerate() {
                inner = with_key(py, inner, &key?, index)?;
            }
        }
        Ok(KeySet { inner })
    }

    /// A new set with this key added (the set itself is immutable).
    ///
    /// >>> from embedguard import KeySet
    /// >>> KeySet().with_key("sk-gateway-abcd1234").check_header("Bearer sk-gateway-abcd1234")
    /// 0
    fn with_key(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Self> {
        let inner = with_key(py, self.inner.clone(), key, self.inner.len())?;
        Ok(KeySet { inner })
    }

    /// Checks an ``Authorization`` header value (``str``, ``bytes`` or ``None`` when the
    /// header is absent); returns the position of the matching key, in the order keys
    /// were given. Raises ``AuthenticationError`` (401) in OpenAI's words otherwise.
    ///
    /// >>> from embedguard import KeySet, AuthenticationError
    /// >>> try:
    /// ...     KeySet(["sk-gateway-abcd1234"]).check_header(None)
    /// ... except AuthenticationError as err:
    /// ...     print(err.body)
    /// {"error":{"message":"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).","type":"invalid_request_error","param":null,"code":null}}
    #[pyo3(signature = (value, /))]
    fn check_header(&self, py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
        let header = match value {
            None => None,
            Some(v) => Some(header_bytes(v)?),
        };
        self.inner
            .check_header(header.as_deref())
            .map(embedguard::KeyId::index)
            .map_err(|err| request_error(py, &err))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        match self.inner.len() {
            1 => "KeySet(<1 key>)".to_owned(),
            n => format!("KeySet(<{n} keys>)"),
        }
    }
}

fn with_key(
    py: Python<'_>,
    keys: embedguard::KeySet,
    key: &Bound<'_, PyAny>,
    index: usize,
) -> PyResult<embedguard::KeySet> {
    let Ok(key) = key.cast::<PyString>() else {
        return Err(PyTypeError::new_err(format!(
            "key {index} is {}, not str",
            type_name(key)
        )));
    };
    // A key with characters outside UTF-8 is malformed anyway.
    let key = key.to_cow().unwrap_or_default();
    keys.with_key(&key)
        .map_err(|err| value_error(py, "MalformedKeyError", format!("key {index}: {err}")))
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
