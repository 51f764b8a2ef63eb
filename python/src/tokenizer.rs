//! Counting cl100k_base tokens.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString};

use crate::convert::{self, run};

/// The cl100k_base tokenizer, exactly as tiktoken's ``encode_ordinary``: special-token
/// text is ordinary text. Get it with ``cl100k()``.
///
/// Calls on texts over a kilobyte release the GIL, so threads count in parallel and an
/// event loop's other tasks go on. Lone surrogates count as U+FFFD, as in tiktoken.
///
/// >>> from embedguard import cl100k
/// >>> enc = cl100k()
/// >>> enc.count("hello world")
/// 2
/// >>> enc.encode("Hello, world!")
/// [9906, 11, 1917, 0]
/// >>> enc.count("<|endoftext|>")
/// 7
/// >>> print(enc.count_up_to("a" * 100_000, 8192))
/// None
/// >>> enc.count_many(["hello world", "h", ""])
/// [2, 1, 0]
#[pyclass(module = "embedguard", frozen)]
pub struct Cl100k;

#[pymethods]
impl Cl100k {
    /// The number of tokens in ``text``.
    fn count(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<usize> {
        let text = convert::text(text)?;
        Ok(run(py, text.len(), || embedguard::cl100k().count(&text)))
    }

    /// The number of tokens in ``text`` if it is at most ``limit``, else ``None``.
    ///
    /// Stops as soon as the count passes the limit, so a long text costs little more
    /// than its first ``limit`` tokens.
    ///
    /// >>> from embedguard import cl100k
    /// >>> cl100k().count_up_to("Hello, world!", 4), cl100k().count_up_to("Hello, world!", 3)
    /// (4, None)
    fn count_up_to(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        limit: usize,
    ) -> PyResult<Option<usize>> {
        let text = convert::text(text)?;
        Ok(run(py, text.len(), || {
            embedguard::cl100k().count_up_to(&text, limit)
        }))
    }

    /// The token ids of ``text``.
    fn encode(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Vec<u32>> {
        let text = convert::text(text)?;
        Ok(run(py, text.len(), || embedguard::cl100k().encode(&text)))
    }

    /// The number of tokens of each text of an iterable of ``str``, in one call that
    /// releases the GIL once.
    fn count_many(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        let texts = convert::texts(texts)?;
        let len = texts.iter().map(|t| t.len()).sum();
        Ok(run(py, len, || {
            let cl100k = embedguard::cl100k();
            texts.iter().map(|t| cl100k.count(t)).collect()
        }))
    }

    /// Whether ``id`` is a cl100k_base token (ordinary or special).
    ///
    /// >>> from embedguard import cl100k
    /// >>> [cl100k().is_token_id(i) for i in (0, 100255, 100256, 100257, -1)]
    /// [True, True, False, True, False]
    fn is_token_id(&self, id: i64) -> bool {
        u32::try_from(id).is_ok_and(|id| embedguard::cl100k().is_token_id(id))
    }

    /// The bytes of token ``id``, or ``None`` if it is not a token. An ordinary token may
    /// be part of a UTF-8 character.
    ///
    /// >>> from embedguard import cl100k
    /// >>> cl100k().token_bytes(9906), cl100k().token_bytes(100257), cl100k().token_bytes(100256)
    /// (b'Hello', b'<|endoftext|>', None)
    fn token_bytes<'py>(&self, py: Python<'py>, id: i64) -> Option<Bound<'py, PyBytes>> {
        let bytes = embedguard::cl100k().token_bytes(u32::try_from(id).ok()?)?;
        Some(PyBytes::new(py, bytes))
    }

    /// ``"cl100k_base"``.
    #[getter]
    fn name(&self) -> &'static str {
        "cl100k_base"
    }

    fn __repr__(&self) -> &'static str {
        "embedguard.cl100k()"
    }
}

/// The cl100k_base tokenizer (the same object on every call).
///
/// >>> from embedguard import cl100k
/// >>> cl100k() is cl100k()
/// True
#[pyfunction]
pub fn cl100k(py: Python<'_>) -> PyResult<Py<Cl100k>> {
    static ONE: PyOnceLock<Py<Cl100k>> = PyOnceLock::new();
    ONE.get_or_try_init(py, || Py::new(py, Cl100k))
        .map(|one| one.clone_ref(py))
}
