//! The library's errors as the package's exceptions (defined in Python, in
//! `embedguard/_errors.py`, so they pickle and document like any other).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

fn errors(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    ERRORS
        .get_or_try_init(py, || {
            PyResult::Ok(py.import("embedguard._errors")?.unbind())
        })
        .map(|m| m.bind(py))
}

/// A rejected request as `RequestError`, or the subclass for its status.
pub fn request_error(py: Python<'_>, err: &embedguard::RequestError) -> PyErr {
    let class = match err.status() {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        404 => "NotFoundError",
        413 => "PayloadTooLargeError",
        429 => "RateLimitError",
        _ => "RequestError",
    };
    let made = errors(py).and_then(|m| {
        m.getattr(class)?.call1((
            err.status(),
            err.to_json(),
            err.message(),
            err.error_type(),
            err.param(),
            err.code(),
            format!("{:?}", err.kind()),
        ))
    });
    match made {
        Ok(value) => PyErr::from_value(value),
        Err(failed) => failed,
    }
}

/// An error of one of the package's `ValueError` subclasses, with this message.
pub fn value_error(py: Python<'_>, class: &str, message: String) -> PyErr {
    match errors(py).and_then(|m| m.getattr(class)?.call1((message,))) {
        Ok(value) => PyErr::from_value(value),
        Err(failed) => failed,
    }
}

/// A response that could not be built, read, transcoded or merged.
pub fn response_error(py: Python<'_>, err: &embedguard::ResponseError) -> PyErr {
    value_error(py, "ResponseError", err.to_string())
}

/// A vector that could not be encoded, decoded or shortened.
pub fn vector_error(py: Python<'_>, err: &embedguard::VectorError) -> PyErr {
    value_error(py, "VectorError", err.to_string())
}
