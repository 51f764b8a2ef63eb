# Type stubs of the native module (python/src/*.rs); the docstrings live there, and
# help() shows them.
import array
import os
from typing import Iterable, Iterator, Literal, Mapping, Optional, Sequence, Tuple, Union, final

from typing_extensions import Buffer, Self  # only for type checkers

from embedguard._errors import RateLimitError

__all__ = [
    "Limits",
    "Model",
    "Policy",
    "Checked",
    "Usage",
    "KeySet",
    "KeyFormat",
    "KeyId",
    "Cl100k",
    "Plan",
    "Part",
    "ResponseTarget",
    "Embeddings",
    "Budget",
    "Operation",
    "Decision",
    "MemoryStore",
    "cl100k",
    "mask_key",
    "plan",
    "merge_responses",
    "transcode_response",
    "encode_response",
    "decode_response",
    "encode_base64",
    "decode_base64",
    "encode_float_array",
    "shorten",
    "base64_len",
    "MAX_INPUTS",
    "MAX_INPUT_TOKENS",
    "MAX_REQUEST_TOKENS",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "ECHO_LIMIT",
    "KEY_PREFIX",
    "KEY_MIN_SECRET_LEN",
    "REDIS_SCRIPT",
]

_Body = Union[bytes, bytearray, memoryview, str]
"""A request or response body: bytes as sent, or a str (encoded as UTF-8)."""

_Vector = Union["Buffer", Sequence[float]]
"""A buffer of float32 or float64 values (array.array, numpy arrays), or numbers."""

_EncodingFormat = Literal["float", "base64"]
_OverLimit = Literal["reject", "truncate"]
_InputForm = Literal["string", "strings", "token_array", "token_arrays"]

MAX_INPUTS: int
MAX_INPUT_TOKENS: int
MAX_REQUEST_TOKENS: int
MAX_BODY_BYTES: int
MAX_DEPTH: int
ECHO_LIMIT: int
KEY_PREFIX: str
KEY_MIN_SECRET_LEN: int
REDIS_SCRIPT: str

@final
class Limits:
    """The limits a Policy enforces; immutable (replace makes a changed copy)."""

    def __new__(
        cls,
        *,
        max_inputs: int = ...,
        max_input_tokens: int = ...,
        max_request_tokens: int = ...,
        max_body_bytes: int = ...,
        max_depth: int = ...,
    ) -> Self: ...
    @staticmethod
    def openai() -> Limits: ...
    def replace(
        self,
        *,
        max_inputs: Optional[int] = None,
        max_input_tokens: Optional[int] = None,
        max_request_tokens: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        max_depth: Optional[int] = None,
    ) -> Limits: ...
    @property
    def max_inputs(self) -> int: ...
    @property
    def max_input_tokens(self) -> int: ...
    @property
    def max_request_tokens(self) -> int: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Model:
    """An embedding model a policy accepts: names, vectors, tokenizer, own limits."""

    def __new__(
        cls,
        name: str,
        native_dimensions: int,
        *,
        dimensions: bool = False,
        aliases: Optional[Iterable[str]] = None,
        tokenizer: Literal["cl100k_base", "estimate"] = "cl100k_base",
        token_arrays: bool = True,
        max_inputs: Optional[int] = None,
        max_input_tokens: Optional[int] = None,
        max_request_tokens: Optional[int] = None,
        max_input_bytes: Optional[int] = None,
    ) -> Self: ...
    @staticmethod
    def openai() -> list[Model]: ...
    @property
    def name(self) -> str: ...
    @property
    def aliases(self) -> list[str]: ...
    @property
    def native_dimensions(self) -> int: ...
    @property
    def dimensions_allowed(self) -> bool: ...
    @property
    def tokenizer(self) -> str: ...
    @property
    def exact(self) -> bool: ...
    @property
    def token_arrays(self) -> bool: ...
    @property
    def max_inputs(self) -> Optional[int]: ...
    @property
    def max_input_tokens(self) -> Optional[int]: ...
    @property
    def max_request_tokens(self) -> Optional[int]: ...
    @property
    def max_input_bytes(self) -> Optional[int]: ...
    def answers_to(self, name: str) -> bool: ...

@final
class Policy:
    """What a gateway accepts; immutable. The entry point: check()."""

    @staticmethod
    def openai(
        *,
        limits: Optional[Limits] = None,
        max_inputs: Optional[int] = None,
        max_input_tokens: Optional[int] = None,
        max_request_tokens: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        max_depth: Optional[int] = None,
        over_limit: _OverLimit = "reject",
        allow_members: Optional[Iterable[str]] = None,
    ) -> Policy: ...
    @staticmethod
    def empty(
        *,
        limits: Optional[Limits] = None,
        max_inputs: Optional[int] = None,
        max_input_tokens: Optional[int] = None,
        max_request_tokens: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        max_depth: Optional[int] = None,
        over_limit: _OverLimit = "reject",
        allow_members: Optional[Iterable[str]] = None,
    ) -> Policy: ...
    @staticmethod
    def from_models_file(
        path: Union[str, "os.PathLike[str]"],
        *,
        limits: Optional[Limits] = None,
        max_inputs: Optional[int] = None,
        max_input_tokens: Optional[int] = None,
        max_request_tokens: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        max_depth: Optional[int] = None,
        over_limit: _OverLimit = "reject",
        allow_members: Optional[Iterable[str]] = None,
    ) -> Policy: ...
    @staticmethod
    def from_models_toml(
        text: str,
        dir: Union[str, "os.PathLike[str]", None] = None,
        *,
        limits: Optional[Limits] = None,
        over_limit: _OverLimit = "reject",
        allow_members: Optional[Iterable[str]] = None,
    ) -> Policy: ...
    def with_model(self, model: Model) -> Policy: ...
    def with_limits(self, limits: Limits) -> Policy: ...
    def with_over_limit(self, over_limit: _OverLimit) -> Policy: ...
    def allow_member(self, name: str) -> Policy: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def over_limit(self) -> _OverLimit: ...
    @property
    def models(self) -> list[Model]: ...
    def model(self, name: str) -> Optional[Model]: ...
    def check(self, body: _Body) -> Checked:
        """Checks a request body; raises RequestError (a subclass per status)."""

@final
class Usage:
    """A request's token usage, as OpenAI reports it."""

    def __new__(cls, prompt_tokens: int, total_tokens: int) -> Self: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def total_tokens(self) -> int: ...
    def to_dict(self) -> dict[str, int]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Checked:
    """A request that passed every check, with each input's exact token count."""

    @property
    def token_counts(self) -> list[int]: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def model(self) -> str: ...
    @property
    def model_spec(self) -> Model: ...
    @property
    def encoding_format(self) -> _EncodingFormat: ...
    @property
    def dimensions(self) -> Optional[int]: ...
    @property
    def user(self) -> Optional[str]: ...
    @property
    def input_form(self) -> _InputForm: ...
    @property
    def inputs(self) -> list[Union[str, list[int]]]: ...
    @property
    def truncated(self) -> list[int]: ...
    @property
    def exact(self) -> bool: ...
    @property
    def extra_members(self) -> dict[str, str]: ...
    def __len__(self) -> int: ...

@final
class KeyFormat:
    """What a gateway key looks like: a prefix, then enough characters from a set."""

    def __new__(
        cls,
        prefix: str = ...,
        *,
        secret_chars: Optional[str] = None,
        min_secret_len: Optional[int] = None,
    ) -> Self: ...
    @property
    def prefix(self) -> str: ...
    @property
    def min_secret_len(self) -> int: ...
    def matches(self, key: Union[str, bytes]) -> bool: ...

@final
class KeyId:
    """Who a key belongs to: its name and position, never the key."""

    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class KeySet:
    """The gateway's keys as SHA-256 digests, checked in constant time."""

    def __new__(
        cls,
        keys: Union[Iterable[str], Mapping[str, str], None] = None,
        *,
        format: Optional[KeyFormat] = None,
        key_file: Optional[str] = None,
    ) -> Self: ...
    def with_key(self, key: str, name: Optional[str] = None) -> KeySet: ...
    def with_key_file(self, text: str) -> KeySet: ...
    def digest_line(self, key: str, name: str) -> str: ...
    @property
    def format(self) -> KeyFormat: ...
    @property
    def names(self) -> list[str]: ...
    def check_header(self, value: Union[str, bytes, bytearray, None], /) -> KeyId:
        """Who the key belongs to; raises AuthenticationError (401)."""
    def __len__(self) -> int: ...

def mask_key(key: Union[str, bytes, bytearray]) -> Optional[str]: ...

@final
class Cl100k:
    """The cl100k_base tokenizer, as tiktoken's encode_ordinary."""

    @property
    def name(self) -> str: ...
    def count(self, text: str) -> int: ...
    def count_up_to(self, text: str, limit: int) -> Optional[int]: ...
    def encode(self, text: str) -> list[int]: ...
    def count_many(self, texts: Iterable[str]) -> list[int]: ...
    def is_token_id(self, id: int) -> bool: ...
    def token_bytes(self, id: int) -> Optional[bytes]: ...

def cl100k() -> Cl100k: ...

@final
class Part:
    """One upstream call: a run of consecutive inputs and its request body."""

    @property
    def start(self) -> int: ...
    @property
    def stop(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def token_counts(self) -> list[int]: ...
    @property
    def usage(self) -> Usage: ...
    def __len__(self) -> int: ...

@final
class Plan:
    """A request split into upstream calls, in input order."""

    @property
    def parts(self) -> list[Part]: ...
    @property
    def encoding_format(self) -> _EncodingFormat: ...
    @property
    def shorten_to(self) -> Optional[int]: ...
    @property
    def usage(self) -> Usage: ...
    def merge(self, responses: Iterable[_Body]) -> str: ...
    def __len__(self) -> int: ...
    def __getitem__(self, index: int, /) -> Part: ...
    def __iter__(self) -> Iterator[Part]: ...

def plan(
    checked: Checked,
    *,
    max_inputs: int = ...,
    max_tokens: int = ...,
    max_body_bytes: Optional[int] = None,
    model: Optional[str] = None,
    encoding_format: Optional[_EncodingFormat] = None,
    dimensions: bool = True,
) -> Plan: ...

@final
class ResponseTarget:
    """What a response must follow: model, token counts, native length, encoding, dimensions."""

    def __new__(
        cls,
        model: str,
        token_counts: Sequence[int],
        native_dimensions: int,
        *,
        encoding_format: _EncodingFormat = "float",
        dimensions: Optional[int] = None,
        usage: Literal["counted", "upstream"] = "counted",
    ) -> Self: ...
    @property
    def model(self) -> str: ...
    @property
    def native_dimensions(self) -> int: ...
    @property
    def usage(self) -> Literal["counted", "upstream"]: ...
    @property
    def token_counts(self) -> list[int]: ...
    @property
    def encoding_format(self) -> _EncodingFormat: ...
    @property
    def dimensions(self) -> Optional[int]: ...

_Target = Union[Checked, ResponseTarget]

@final
class Embeddings:
    """An upstream's embeddings response, read."""

    @property
    def vectors(self) -> list[array.array[float]]: ...
    @property
    def model(self) -> Optional[str]: ...
    @property
    def usage(self) -> Optional[Usage]: ...

def merge_responses(responses: Iterable[Tuple[int, _Body]], target: _Target) -> str: ...
def transcode_response(body: _Body, target: _Target) -> str: ...
def encode_response(vectors: Iterable[_Vector], target: _Target) -> str: ...
def decode_response(body: _Body) -> Embeddings: ...
def encode_base64(values: _Vector) -> str: ...
def decode_base64(text: str) -> array.array[float]: ...
def encode_float_array(values: _Vector) -> str: ...
def shorten(values: _Vector, dimensions: int) -> array.array[float]: ...
def base64_len(dims: int) -> int: ...

_Refusal = Literal["tokens", "requests", "too_large"]

@final
class Budget:
    """Requests and tokens per minute for one key: exact token buckets."""

    def __new__(
        cls,
        *,
        requests_per_minute: Optional[int] = None,
        tokens_per_minute: Optional[int] = None,
    ) -> Self: ...
    @property
    def requests_per_minute(self) -> Optional[int]: ...
    @property
    def tokens_per_minute(self) -> Optional[int]: ...
    @property
    def unlimited(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Operation:
    """One step on a key's buckets: admit, refund or settle."""

    @staticmethod
    def admit(tokens: int) -> Operation: ...
    @staticmethod
    def refund(tokens: int) -> Operation: ...
    @staticmethod
    def settle(estimated: int, actual: int) -> Operation: ...
    def redis_args(self, budget: Budget, now_ms: Optional[int] = None) -> list[str]: ...
    def decision_from_redis(self, budget: Budget, reply: Sequence[int]) -> Decision: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class Decision:
    """An admission's outcome, its headers and, when refused, the exact 429."""

    @property
    def admitted(self) -> bool: ...
    @property
    def refusal(self) -> Optional[_Refusal]: ...
    @property
    def tokens(self) -> int: ...
    @property
    def remaining_requests(self) -> Optional[int]: ...
    @property
    def remaining_tokens(self) -> Optional[int]: ...
    @property
    def retry_after_ms(self) -> Optional[int]: ...
    def headers(self) -> list[Tuple[str, str]]: ...
    def error(self, model: str, org: str) -> Optional[RateLimitError]: ...

@final
class MemoryStore:
    """Budgets kept in this process: thread-safe, bounded, each step atomic."""

    def __new__(cls) -> Self: ...
    def admit(self, key: str, budget: Budget, tokens: int, now_ms: Optional[int] = None) -> Decision: ...
    def refund(self, key: str, budget: Budget, tokens: int, now_ms: Optional[int] = None) -> None: ...
    def settle(
        self,
        key: str,
        budget: Budget,
        estimated: int,
        actual: int,
        now_ms: Optional[int] = None,
    ) -> None: ...
    def apply(
        self,
        key: str,
        budget: Budget,
        operation: Operation,
        now_ms: Optional[int] = None,
    ) -> Decision: ...
    def __len__(self) -> int: ...
