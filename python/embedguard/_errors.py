"""The exceptions embedguard raises."""

from __future__ import annotations

from typing import Optional

__all__ = [
    "RequestError",
    "BadRequestError",
    "AuthenticationError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RateLimitError",
    "ResponseError",
    "VectorError",
    "KeySetError",
    "MalformedKeyError",
    "ModelsFileError",
]


class RequestError(Exception):
    """A request the contract rejects, with OpenAI's exact answer.

    Answer the client with ``status`` and ``body`` (the JSON envelope, word for word);
    ``message``, ``type``, ``param`` and ``code`` are the envelope's fields, ``detail``
    says for logs which input and why. Each status has its subclass:
    ``BadRequestError`` (400), ``AuthenticationError`` (401), ``NotFoundError`` (404),
    ``PayloadTooLargeError`` (413), ``RateLimitError`` (429).

    >>> import embedguard
    >>> try:
    ...     embedguard.Policy.openai().check(b'{"input": "x"}')
    ... except embedguard.RequestError as err:
    ...     print(err.status, err.type, err.param, err.code)
    ...     print(err.body)
    400 invalid_request_error None None
    {"error":{"message":"you must provide a model parameter","type":"invalid_request_error","param":null,"code":null}}
    """

    status: int
    body: str
    message: str
    type: str
    param: Optional[str]
    code: Optional[str]
    detail: str

    def __init__(
        self,
        status: int,
        body: str,
        message: str,
        type: str,
        param: Optional[str] = None,
        code: Optional[str] = None,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.detail = detail

    def __reduce__(self):  # pickles with every field, e.g. across processes
        return (
            type(self),
            (self.status, self.body, self.message, self.type, self.param, self.code, self.detail),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"


class BadRequestError(RequestError):
    """400: the body is not a valid embeddings request, or is over a limit."""


class AuthenticationError(RequestError):
    """401: no API key, or not one of the gateway's."""


class NotFoundError(RequestError):
    """404: the model does not exist (for this policy)."""


class PayloadTooLargeError(RequestError):
    """413: the body is larger than the policy allows."""


class RateLimitError(RequestError):
    """429: over a rate limit or budget."""


class ResponseError(ValueError):
    """An upstream response that could not be read, transcoded or merged."""


class VectorError(ValueError):
    """A vector that could not be encoded, decoded or shortened."""


class KeySetError(ValueError):
    """A key, key name, key format or key file line that a ``KeySet`` refuses."""


class MalformedKeyError(KeySetError):
    """A gateway key without the set's format (by default ``sk-gateway-`` and 8+ letters or digits)."""


class ModelsFileError(ValueError):
    """A models file that cannot be read or loaded; the message names the line, the model and the field."""
