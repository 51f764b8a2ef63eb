"""The official OpenAI Python SDK against the example gateway.

Run by gateway/tests/sdk.rs, which starts embedguard-upstream and embedguard-gateway on
loopback ports and passes their URLs and keys in the environment:

  EMBEDGUARD_GATEWAY_URL    e.g. http://127.0.0.1:41234/v1
  EMBEDGUARD_GATEWAY_KEY    a key the gateway accepts
  EMBEDGUARD_UPSTREAM_URL   the upstream the gateway calls, asked directly for reference
  EMBEDGUARD_UPSTREAM_KEY   the upstream's key
  EMBEDGUARD_UPSTREAM_MAX_BATCH  the upstream's cap on inputs per call
  EMBEDGUARD_LIMITED_GATEWAY_URL  a third gateway, with a budget of 6000 tokens a minute
  EMBEDGUARD_SECOND_GATEWAY_URL  a second gateway, run with --upstream-without-dimensions
                            (it shortens vectors itself) and --truncate (it cuts inputs
                            over 8192 tokens instead of rejecting them)

Every vector the gateway answers is compared with the upstream's own answer, bit for bit
as float32. Prints one line per scenario and "N passed, N failed" at the end; exits 1 if
any failed.
"""

import base64
import json
import math
import os
import re
import struct
import sys
import time
import traceback
import urllib.error
import urllib.request

import openai
from openai import OpenAI

GATEWAY_URL = os.environ["EMBEDGUARD_GATEWAY_URL"]
GATEWAY_KEY = os.environ["EMBEDGUARD_GATEWAY_KEY"]
UPSTREAM_URL = os.environ["EMBEDGUARD_UPSTREAM_URL"]
UPSTREAM_KEY = os.environ["EMBEDGUARD_UPSTREAM_KEY"]
MAX_BATCH = int(os.environ["EMBEDGUARD_UPSTREAM_MAX_BATCH"])

SMALL = "text-embedding-3-small"
INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)

# No retries: an error must surface as the exception of its status, at once.
gateway = OpenAI(base_url=GATEWAY_URL, api_key=GATEWAY_KEY, max_retries=0, timeout=120)
second = OpenAI(
    base_url=os.environ["EMBEDGUARD_SECOND_GATEWAY_URL"],
    api_key=GATEWAY_KEY,
    max_retries=0,
    timeout=120,
)
upstream = OpenAI(base_url=UPSTREAM_URL, api_key=UPSTREAM_KEY, max_retries=0, timeout=120)


def f32(values):
    """The float32 bit patterns of a vector, whatever Python float it arrived as."""
    return [struct.unpack("<I", struct.pack("<f", v))[0] for v in values]


def same_vectors(got, want):
    assert len(got) == len(want), f"{len(got)} vectors, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        assert f32(g.embedding) == f32(w.embedding), f"vector {i} differs"
        assert g.index == i, f"item {i} has index {g.index}"


def unit(values):
    norm = math.sqrt(sum(v * v for v in values))
    assert abs(norm - 1.0) < 1e-5, f"norm {norm}"


def reference(**kwargs):
    """The upstream's own answer, asked for as float, in batches it accepts."""
    inputs = kwargs.pop("input")
    if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
        return upstream.embeddings.create(input=inputs, encoding_format="float", **kwargs)
    data, tokens = [], 0
    for start in range(0, len(inputs), MAX_BATCH):
        part = upstream.embeddings.create(
            input=inputs[start : start + MAX_BATCH], encoding_format="float", **kwargs
        )
        data.extend(part.data)
        tokens += part.usage.prompt_tokens
    return data, tokens


def test_default_call_is_base64_under_the_hood():
    got = gateway.embeddings.create(model=SMALL, input="The food was delicious.")
    want = reference(model=SMALL, input="The food was delicious.")
    assert got.object == "list"
    assert got.model == SMALL
    assert len(got.data) == 1 and len(got.data[0].embedding) == 1536
    same_vectors(got.data, want.data)
    unit(got.data[0].embedding)
    assert got.usage.prompt_tokens == got.usage.total_tokens == want.usage.prompt_tokens == 5
    # What the SDK really received: base64.
    raw = gateway.embeddings.with_raw_response.create(model=SMALL, input="The food was delicious.")
    item = json.loads(raw.http_response.text)["data"][0]["embedding"]
    assert isinstance(item, str), "the SDK's default call should be answered in base64"


def test_float():
    texts = ["hello world", "<|endoftext|>", "   "]
    got = gateway.embeddings.create(model=SMALL, input=texts, encoding_format="float")
    want = upstream.embeddings.create(model=SMALL, input=texts, encoding_format="float")
    assert all(isinstance(v, float) for v in got.data[0].embedding)
    same_vectors(got.data, want.data)
    assert got.usage.prompt_tokens == 2 + 7 + 1
    # The same vectors as the default (base64) call, bit for bit.
    default = gateway.embeddings.create(model=SMALL, input=texts)
    same_vectors(default.data, got.data)


def test_dimensions():
    got = gateway.embeddings.create(model="text-embedding-3-large", input=["a b c"], dimensions=256)
    want = upstream.embeddings.create(
        model="text-embedding-3-large", input=["a b c"], dimensions=256, encoding_format="float"
    )
    assert len(got.data[0].embedding) == 256
    unit(got.data[0].embedding)
    same_vectors(got.data, want.data)
    assert got.model == "text-embedding-3-large"
    # A gateway whose upstream cannot shorten does it itself, to the same bits.
    for client in (gateway, second):
        for encoding_format in ("float", "base64"):
            got = client.embeddings.create(
                model="text-embedding-3-small",
                input=["a b c", "d"],
                dimensions=3,
                encoding_format=encoding_format,
            )
            want = upstream.embeddings.create(
                model="text-embedding-3-small",
                input=["a b c", "d"],
                dimensions=3,
                encoding_format="float",
            )
            if encoding_format == "base64":
                for item in got.data:
                    item.embedding = list(struct.unpack("<3f", base64.b64decode(item.embedding)))
            same_vectors(got.data, want.data)


def test_token_arrays():
    arrays = [[15339, 1917], [100257], [1, 2, 3, 4, 5]]
    got = gateway.embeddings.create(model=SMALL, input=arrays)
    want = upstream.embeddings.create(model=SMALL, input=arrays, encoding_format="float")
    same_vectors(got.data, want.data)
    assert got.usage.prompt_tokens == got.usage.total_tokens == 8
    # "hello world" as ids embeds as the text does.
    text = gateway.embeddings.create(model=SMALL, input="hello world")
    same_vectors([got.data[0]], text.data)
    one = gateway.embeddings.create(model=SMALL, input=[15339, 1917], encoding_format="float")
    same_vectors(one.data, text.data)
    assert one.usage.prompt_tokens == 2


def test_truncation_when_the_gateway_chooses_it():
    long_ids = [(i * 7919) % 100000 for i in range(9000)]
    long_text = "word " * 9000
    raw = second.embeddings.with_raw_response.create(
        model=SMALL, input=[long_ids, long_ids[:10]], encoding_format="float"
    )
    assert raw.http_response.headers["x-embedguard-truncated"] == "0"
    got = raw.parse()
    want = upstream.embeddings.create(
        model=SMALL, input=[long_ids[:8192], long_ids[:10]], encoding_format="float"
    )
    same_vectors(got.data, want.data)
    assert got.usage.prompt_tokens == got.usage.total_tokens == 8192 + 10
    got = second.embeddings.create(model=SMALL, input=["hi", long_text])
    assert got.usage.prompt_tokens == 1 + 8192
    # The default gateway rejects what the second one cuts, as OpenAI does.
    expect_error(
        openai.BadRequestError,
        400,
        "Invalid 'input': maximum context length is 8192 tokens.",
        None,
        model=SMALL,
        input=long_text,
    )


def test_2000_inputs_split_and_merged_in_order():
    texts = [f"input {i}: {'x' * (i % 7)} {i * i}" for i in range(2000)]
    # The upstream alone refuses a batch this large.
    try:
        upstream.embeddings.create(model=SMALL, input=texts)
        raise AssertionError("the upstream accepted more than its cap")
    except openai.BadRequestError as err:
        assert err.status_code == 400
    got = gateway.embeddings.create(model=SMALL, input=texts)
    want, tokens = reference(model=SMALL, input=texts)
    assert len(got.data) == 2000
    same_vectors(got.data, want)
    assert got.usage.prompt_tokens == got.usage.total_tokens == tokens
    assert got.model == SMALL


def expect_error(kind, status, message, code, **kwargs):
    client = kwargs.pop("client", gateway)
    try:
        client.embeddings.create(**kwargs)
    except kind as err:
        assert err.status_code == status, err.status_code
        assert err.body["message"] == message, err.body
        assert err.code == code, err.code
        assert err.type == "invalid_request_error", err.type
        assert err.param is None, err.param
        return
    raise AssertionError(f"expected {kind.__name__}")


def test_400_bad_request():
    expect_error(openai.BadRequestError, 400, INVALID_INPUT, None, model=SMALL, input="")
    expect_error(
        openai.BadRequestError,
        400,
        "This model does not support specifying dimensions.",
        None,
        model="text-embedding-ada-002",
        input="x",
        dimensions=8,
    )
    expect_error(
        openai.BadRequestError,
        400,
        "Invalid 'input': maximum context length is 8192 tokens.",
        None,
        model=SMALL,
        input=[[1] * 8193],
    )


def test_401_authentication():
    wrong = OpenAI(base_url=GATEWAY_URL, api_key="sk-gateway-wrongkey99", max_retries=0)
    expect_error(
        openai.AuthenticationError,
        401,
        "Incorrect API key provided: sk-g*************ey99.",
        "invalid_api_key",
        client=wrong,
        model=SMALL,
        input="x",
    )
    # No Authorization header at all: the SDK always sends one, so ask without it.
    request = urllib.request.Request(
        GATEWAY_URL + "/embeddings",
        data=json.dumps({"model": SMALL, "input": "x"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(request)
        raise AssertionError("accepted without a key")
    except urllib.error.HTTPError as err:
        assert err.code == 401
        body = json.loads(err.read())["error"]
        assert body["message"].startswith("You didn't provide an API key."), body
        assert body["code"] is None


def test_404_model_not_found():
    expect_error(
        openai.NotFoundError,
        404,
        "The model `text-embedding-4-huge` does not exist or you do not have access to it.",
        "model_not_found",
        model="text-embedding-4-huge",
        input="x",
    )


RATE_LIMITED = re.compile(
    r"Rate limit reached for text-embedding-3-small in organization key-2 on tokens per min "
    r"\(TPM\): Limit 6000, Used 3\d{3}, Requested 3100\. Please try again in "
    r"(\d+ms|\d+(\.\d{1,3})?s)\. Visit https://platform\.openai\.com/account/rate-limits to "
    r"learn more\."
)


def test_429_rate_limit_and_the_sdks_retries():
    url = os.environ["EMBEDGUARD_LIMITED_GATEWAY_URL"]
    strict = OpenAI(base_url=url, api_key=GATEWAY_KEY, max_retries=0, timeout=120)
    patient = OpenAI(base_url=url, api_key=GATEWAY_KEY, max_retries=3, timeout=120)
    text = " ".join(["a"] * 3100)
    first = strict.embeddings.with_raw_response.create(model=SMALL, input=text)
    headers = first.http_response.headers
    assert headers["x-ratelimit-limit-tokens"] == "6000", dict(headers)
    assert headers["x-ratelimit-remaining-tokens"] == "2900", dict(headers)
    assert first.parse().usage.prompt_tokens == 3100
    try:
        strict.embeddings.create(model=SMALL, input=text)
        raise AssertionError("admitted over the budget")
    except openai.RateLimitError as err:
        assert err.status_code == 429
        assert RATE_LIMITED.fullmatch(err.body["message"]), err.body["message"]
        assert err.code == "rate_limit_exceeded", err.code
        assert err.type == "tokens", err.type
        assert err.param is None
        wait_ms = int(err.response.headers["retry-after-ms"])
        assert 0 < wait_ms <= 2000, wait_ms
        assert err.response.headers["retry-after"] == str(max(1, -(-wait_ms // 1000)))
    # The SDK's own retries wait for retry-after-ms, then succeed.
    started = time.monotonic()
    got = patient.embeddings.create(model=SMALL, input=text)
    waited = time.monotonic() - started
    assert len(got.data) == 1
    assert waited >= wait_ms / 1000 * 0.8, (waited, wait_ms)


def main():
    tests = [(name, f) for name, f in globals().items() if name.startswith("test_")]
    passed = failed = 0
    for name, test in tests:
        try:
            test()
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"sdk: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
