"""embedguard: check OpenAI-compatible ``POST /v1/embeddings`` requests before a gateway
spends upstream money on them, exactly as OpenAI does.

Is the body valid, how many tokens is each input (cl100k_base, exactly as tiktoken
counts), and if the request is wrong, which exact error does the client get. Every call
that can take long releases the GIL; nothing raises anything but the documented
exceptions, whatever the input.

>>> import embedguard
>>> body = b'{"model": "text-embedding-3-small", "input": ["This is an embedding test.", "h"]}'
>>> checked = embedguard.Policy.openai().check(body)
>>> checked.token_counts, checked.usage.prompt_tokens
([6, 1], 7)
>>> try:
...     embedguard.Policy.openai().check(b'{"model": "gpt-x", "input": "hi"}')
... except embedguard.RequestError as err:
...     print(err.status, err.code)
404 model_not_found
>>> embedguard.cl100k().count("hello world")
2
"""

from embedguard._errors import (
    AuthenticationError,
    BadRequestError,
    KeySetError,
    MalformedKeyError,
    ModelsFileError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitError,
    RequestError,
    ResponseError,
    VectorError,
)
from embedguard._native import (
    ECHO_LIMIT,
    KEY_MIN_SECRET_LEN,
    KEY_PREFIX,
    MAX_BODY_BYTES,
    MAX_DEPTH,
    MAX_INPUT_TOKENS,
    MAX_INPUTS,
    MAX_REQUEST_TOKENS,
    REDIS_SCRIPT,
    Budget,
    Checked,
    Cl100k,
    Decision,
    Embeddings,
    KeyFormat,
    KeyId,
    KeySet,
    Limits,
    MemoryStore,
    Model,
    Operation,
    Part,
    Plan,
    Policy,
    ResponseTarget,
    Usage,
    base64_len,
    cl100k,
    decode_base64,
    decode_response,
    encode_base64,
    encode_float_array,
    encode_response,
    mask_key,
    merge_responses,
    plan,
    shorten,
    transcode_response,
)

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "Budget",
    "Checked",
    "Cl100k",
    "Decision",
    "ECHO_LIMIT",
    "Embeddings",
    "KEY_MIN_SECRET_LEN",
    "KEY_PREFIX",
    "KeyFormat",
    "KeyId",
    "KeySet",
    "KeySetError",
    "Limits",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_INPUT_TOKENS",
    "MAX_INPUTS",
    "MAX_REQUEST_TOKENS",
    "MalformedKeyError",
    "MemoryStore",
    "Model",
    "ModelsFileError",
    "NotFoundError",
    "Operation",
    "Part",
    "PayloadTooLargeError",
    "Plan",
    "Policy",
    "REDIS_SCRIPT",
    "RateLimitError",
    "RequestError",
    "ResponseError",
    "ResponseTarget",
    "Usage",
    "VectorError",
    "base64_len",
    "cl100k",
    "decode_base64",
    "decode_response",
    "encode_base64",
    "encode_float_array",
    "encode_response",
    "mask_key",
    "merge_responses",
    "plan",
    "shorten",
    "transcode_response",
]
