"""A LiteLLM proxy pre-call hook: embedguard checks and counts every embeddings request
before it goes upstream, and rejected requests get OpenAI's exact answer.

Put this file beside the proxy's config and name the instance in it::

    litellm_settings:
      callbacks: litellm_hook.proxy_handler_instance

What it does, for ``/v1/embeddings`` (other routes pass untouched):

- checks the request with an embedguard ``Policy`` (OpenAI's models and limits by default:
  2048 inputs, 8192 tokens an input, 300,000 a request, the exact ``dimensions`` rules);
- a rejected request never reaches the upstream: the client gets the status and envelope
  OpenAI would send, word for word;
- an accepted one carries its exact counts in ``metadata["embedguard"]`` (``token_counts``,
  ``usage``), for budgets and logs, and with ``over_limit="truncate"`` its inputs cut to
  the limit;
- large bodies are checked on a worker thread: embedguard releases the GIL, so the event
  loop keeps serving other requests (and liveness probes) meanwhile.

The JSON itself was already parsed by LiteLLM, which answers malformed JSON its own way;
the hook checks the request as parsed, re-encoded compactly.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import ProxyException

import embedguard

# Members LiteLLM adds to the request (or accepts from clients for its own features):
# let through, never sent to the embeddings check as unknown members.
LITELLM_MEMBERS = (
    "metadata",
    "litellm_metadata",
    "litellm_call_id",
    "litellm_logging_obj",
    "proxy_server_request",
    "secret_fields",
    "tags",
    "mock_response",
    "caching",
    "cache",
    "api_key",
    "api_base",
    "timeout",
    "num_retries",
    "fallbacks",
    "litellm_trace_id",
    "litellm_parent_otel_span",
)
OPENAI_MEMBERS = ("model", "input", "encoding_format", "dimensions", "user")
EMBEDDING_CALLS = ("aembedding", "embeddings", "embedding")
# Bodies below this are checked inline: a thread hop costs more than the check.
INLINE_BYTES = 64 * 1024


class EmbedguardRejection(ProxyException):
    """A request embedguard rejected, as LiteLLM's own OpenAI-error exception, so LiteLLM's
    handler answers it: with the status, and an envelope that is embedguard's word for word
    (LiteLLM's default would put the status where OpenAI puts ``code``)."""

    def __init__(self, err: embedguard.RequestError) -> None:
        super().__init__(message=err.message, type=err.type, param=err.param, code=err.status)
        self.request_error = err

    def to_dict(self) -> dict:
        err = self.request_error
        return {"message": err.message, "type": err.type, "param": err.param, "code": err.code}


def client_body(data: dict) -> bytes:
    """The request as the client sent it, re-encoded: OpenAI's members, then any other
    member the client sent (which the policy rejects, as OpenAI does), leaving out what
    LiteLLM added."""
    out = {k: data[k] for k in OPENAI_MEMBERS if k in data}
    for k, v in data.items():
        if k not in out and k not in LITELLM_MEMBERS:
            out[k] = v
    return json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def size_hint(value: Any) -> int:
    """About how many bytes `input` takes as JSON, without encoding it."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(len(v) if isinstance(v, str) else 8 * len(v) if isinstance(v, list) else 8 for v in value)
    return 0


class EmbedguardHook(CustomLogger):
    """The hook. ``policy`` defaults to ``Policy.openai()``."""

    def __init__(self, policy: Optional[embedguard.Policy] = None) -> None:
        super().__init__()
        self.policy = policy or embedguard.Policy.openai()

    def check(self, data: dict) -> embedguard.Checked:
        return self.policy.check(client_body(data))

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> Any:
        if call_type not in EMBEDDING_CALLS:
            return data
        try:
            if size_hint(data.get("input")) < INLINE_BYTES:
                checked = self.check(data)
            else:  # encoding and checking a large body would stall the loop: a worker does it
                checked = await asyncio.get_running_loop().run_in_executor(None, self.check, data)
        except embedguard.RequestError as err:
            raise EmbedguardRejection(err) from None
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        metadata["embedguard"] = {
            "token_counts": checked.token_counts,
            "usage": checked.usage.to_dict(),
            "truncated": checked.truncated,
        }
        if checked.truncated:
            inputs = checked.inputs
            data["input"] = inputs[0] if checked.input_form in ("string", "token_array") else inputs
        return data


proxy_handler_instance = EmbedguardHook()
