//! Python values in and out: bodies, texts, float vectors, and when to let go of the
//! interpreter.

use pyo3::exceptions::{PyTypeError, PyUnicodeEncodeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString};

/// Work on fewer bytes than this runs attached: it takes a few microseconds, less than
/// handing the interpreter to another thread and waiting to get it back can cost.
const DETACH_BYTES: usize = 1024;

/// Runs `f` detached from the interpreter when it works on `len` bytes or more, so
/// other Python threads run meanwhile.
pub fn run<T, F>(py: Python<'_>, len: usize, f: F) -> T
where
    F: Send + FnOnce() -> T,
    T: Send,
{
    if len >= DETACH_BYTES {
        py.detach(f)
    } else {
        f()
    }
}

/// A request or response body: `bytes` and `bytearray` as they are (a `bytearray` is
/// copied, as it can change), a `str` as UTF-8, any other buffer (`memoryview`, numpy
/// array of bytes) copied. Readable without the interpreter.
pub fn body(obj: &Bound<'_, PyAny>) -> PyResult<PyBackedBytes> {
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        return Ok(obj.extract::<PyBackedBytes>()?);
    }
    if let Ok(text) = obj.cast::<PyString>() {
        // Lone surrogates become the bytes a server would see from a client that sent
        // them: not UTF-8, so the body is invalid JSON, as it would be.
        let bytes = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
        return Ok(bytes.extract::<PyBackedBytes>()?);
    }
    match PyMemoryView::from(obj) {
        Ok(view) => Ok(view.call_method0("tobytes")?.extract::<PyBackedBytes>()?),
        Err(_) => Err(PyTypeError::new_err(format!(
            "a body is bytes, bytearray, str or another buffer, not {}",
            type_name(obj)
        ))),
    }
}

/// A text as UTF-8 readable without the interpreter. Lone surrogates, which UTF-8 cannot
/// hold, are mended as tiktoken mends them: a pair written as two surrogates becomes its
/// character, a lone one U+FFFD.
pub fn text(text: &Bound<'_, PyString>) -> PyResult<PyBackedStr> {
    match PyBackedStr::try_from(text.clone()) {
        Ok(text) => Ok(text),
        Err(err) if err.is_instance_of::<PyUnicodeEncodeError>(text.py()) => {
            let mended = text
                .call_method1("encode", ("utf-16", "surrogatepass"))?
                .call_method1("decode", ("utf-16", "replace"))?;
            PyBackedStr::try_from(mended.cast_into::<PyString>()?)
        }
        Err(err) => Err(err),
    }
}

/// The texts of an iterable of `str` (a lone `str` is refused: it would count each
/// character as an input).
pub fn texts(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PyBackedStr>> {
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "expected an iterable of str, not a str (wrap one text in a list)",
        ));
    }
    let mut out = Vec::with_capacity(obj.len().unwrap_or(0));
    for item in obj.try_iter()? {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(text(s)?),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "text {} is {}, not str",
                    out.len(),
                    type_name(&item)
                )));
            }
        }
    }
    Ok(out)
}

/// Float32 values from a buffer of float32 or float64 values (`array.array('f')`, numpy
/// arrays, `memoryview`), one-dimensional, or from any iterable of numbers.
pub fn floats(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyByteArray>()
    {
        return Err(PyTypeError::new_err(format!(
            "a vector is a buffer of float32 or float64 values or a sequence of numbers, not {}",
            type_name(obj)
        )));
    }
    let Ok(view) = PyMemoryView::from(obj) else {
        return obj.extract::<Vec<f32>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "a vector is a buffer of float32 or float64 values or a sequence of numbers, not {}",
                type_name(obj)
            ))
        });
    };
    let ndim: usize = view.getattr("ndim")?.extract()?;
    if ndim != 1 {
        return Err(PyValueError::new_err(format!(
            "a vector has one dimension, this buffer has {ndim}"
        )));
    }
    let format: String = view.getattr("format")?.extract()?;
    let bytes = view.call_method0("tobytes")?;
    let bytes = bytes.cast::<PyBytes>()?.as_bytes();
    // struct-module codes: '@' '=' native, '<' little, '>' '!' big endian.
    let (order, code) = match format.as_bytes() {
        [b'@' | b'=', code] | [code] => (Order::Native, *code),
        [b'<', code] => (Order::Little, *code),
        [b'>' | b'!', code] => (Order::Big, *code),
        _ => (Order::Native, 0),
    };
    match code {
        b'f' => Ok(bytes
            .chunks_exact(4)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                f32::from_bits(order.read_u32(b))
            })
            .collect()),
        b'd' => Ok(bytes
            .chunks_exact(8)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
                f64::from_bits(order.read_u64(b)) as f32
            })
            .collect()),
        _ => Err(PyTypeError::new_err(format!(
            "a vector buffer holds float32 ('f') or float64 ('d') values, not format {}",
            quote(&format)
        ))),
    }
}

#[derive(Clone, Copy)]
enum Order {
    Native,
    Little,
    Big,
}

impl Order {
    fn read_u32(self, b: [u8; 4]) -> u32 {
        match self {
            Order::Native => u32::from_ne_bytes(b),
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        }
    }

    fn read_u64(self, b: [u8; 8]) -> u64 {
        match self {
            Order::Native => u64::from_ne_bytes(b),
            Order::Little => u64::from_le_bytes(b),
            Order::Big => u64::from_be_bytes(b),
        }
    }
}

/// `array.array('f', values)`: a buffer of float32 that numpy reads without a copy
/// (`numpy.asarray(vector)`) and without being a dependency.
pub fn float_array<'py>(py: Python<'py>, values: &[f32]) -> PyResult<Bound<'py, PyAny>> {
    static ARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let array = ARRAY.get_or_try_init(py, || {
        PyResult::Ok(py.import("array")?.getattr("array")?.unbind())
    })?;
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_ne_bytes());
    }
    array.bind(py).call1(("f", PyBytes::new(py, &bytes)))
}

/// The name of an object's type, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "an object".to_owned(), |n| n.to_string())
}

/// A string as Python's `repr` writes it, for the plain strings reprs show (names,
/// formats); anything unusual falls back to Rust's escaping in double quotes.
pub fn quote(s: &str) -> String {
    if s.chars().all(|c| c != '\'' && c != '\\' && !c.is_control()) {
        format!("'{s}'")
    } else {
        format!("{s:?}")
    }
}
