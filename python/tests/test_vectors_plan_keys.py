"""Vectors (base64 <-> float32 through buffers, shortening), planning and merging, keys,
limits and policies."""

from __future__ import annotations

import array
import base64
import json
import math
import random
import struct

import pytest

import embedguard

MODEL = "text-embedding-3-small"


def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def special_values() -> list[float]:
    rng = random.Random(3)
    values = [0.0, -0.0, 1.0, -1.0, 1e-45, -1e-45, 3.4028235e38, -3.4028235e38, 1.17549435e-38]
    values += [struct.unpack("<f", struct.pack("<I", rng.getrandbits(32) & 0x7F7FFFFF))[0] for _ in range(200)]
    return [f32(x) for x in values]


# ---------------------------------------------------------------------------- vectors


def test_base64_is_little_endian_float32_and_round_trips_bit_for_bit():
    values = special_values()
    text = embedguard.encode_base64(values)
    assert text == base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    back = embedguard.decode_base64(text)
    assert isinstance(back, array.array) and back.typecode == "f"
    assert back.tobytes() == struct.pack(f"={len(values)}f", *values)
    assert embedguard.base64_len(len(values)) == len(text)


def test_nan_and_infinities_travel_in_base64_but_have_no_json_form():
    values = [math.nan, math.inf, -math.inf]
    back = embedguard.decode_base64(embedguard.encode_base64(values))
    assert math.isnan(back[0]) and back[1] == math.inf and back[2] == -math.inf
    with pytest.raises(embedguard.VectorError, match="value 0 is NaN, which has no JSON form"):
        embedguard.encode_float_array(values)


def test_every_buffer_and_sequence_gives_the_same_base64():
    values = [f32(x) for x in (0.1, -2.5, 3.25, 1e-7)]
    want = embedguard.encode_base64(values)
    forms = [
        values,
        tuple(values),
        array.array("f", values),
        array.array("d", values),
        memoryview(array.array("f", values)),
        memoryview(struct.pack("<4f", *values)).cast("f"),
    ]
    for form in forms:
        assert embedguard.encode_base64(form) == want, type(form)
    with pytest.raises(TypeError, match="not bytes"):
        embedguard.encode_base64(struct.pack("<4f", *values))
    with pytest.raises(TypeError, match="format 'i'"):
        embedguard.encode_base64(array.array("i", [1, 2]))
    with pytest.raises(TypeError):
        embedguard.encode_base64("AACAPw==")


def test_numpy_arrays_go_in_and_come_back_without_numpy_as_a_dependency():
    np = pytest.importorskip("numpy", reason="numpy is not installed: the buffer path is tested with array and memoryview")
    v = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    text = embedguard.encode_base64(v)
    assert text == base64.b64encode(v.astype("<f4").tobytes()).decode()
    assert embedguard.encode_base64(v.astype(np.float64)) == text
    assert embedguard.encode_base64(v.astype(">f4")) == text  # big-endian buffers too
    assert embedguard.encode_base64(np.arange(6, dtype=np.float32)[::2]) == embedguard.encode_base64([0, 2, 4])
    back = np.asarray(embedguard.decode_base64(text))
    assert back.dtype == np.float32 and (back == v).all()
    with pytest.raises(ValueError, match="one dimension, this buffer has 2"):
        embedguard.encode_base64(np.zeros((2, 2), dtype=np.float32))
    short = np.asarray(embedguard.shorten(np.array([3, 4, 12], dtype=np.float32), 2))
    assert short.tolist() == [f32(0.6), f32(0.8)]


def test_strict_base64_errors_word_for_word():
    cases = {
        "AACAPw": "invalid base64: padding is missing or not canonical",
        "AACAP": "invalid base64: 5 symbols leave one over, which holds no whole byte",
        "AACA-w==": "invalid base64: unexpected byte 0x2d at offset 4",
        "AACAPx==": "invalid base64: the symbol 0x78 at offset 5 has non-zero trailing bits",
        "AAA=": "base64 byte count 2 is not a multiple of 4 (float32 values are 4 bytes each)",
    }
    for text, message in cases.items():
        with pytest.raises(embedguard.VectorError) as caught:
            embedguard.decode_base64(text)
        assert str(caught.value) == message, text
    assert isinstance(caught.value, ValueError)


def test_shortening_keeps_the_first_values_at_unit_norm():
    rng = random.Random(8)
    for _ in range(50):
        v = [rng.uniform(-1, 1) for _ in range(rng.randint(1, 64))]
        d = rng.randint(0, len(v))
        s = embedguard.shorten(v, d)
        assert len(s) == d
        norm = math.sqrt(sum(x * x for x in v[:d]))
        if norm:
            assert all(abs(a - f32(b / norm)) <= 1e-6 for a, b in zip(s, v[:d]))
    assert list(embedguard.shorten([0.0, 0.0, 0.0], 2)) == [0.0, 0.0]
    with pytest.raises(embedguard.VectorError, match="cannot shorten a vector of length 2 to length 3"):
        embedguard.shorten([1.0, 2.0], 3)


def test_float_arrays_are_the_shortest_float32_decimals():
    assert embedguard.encode_float_array([1.0, -0.0, 0.1, 1e-7]) == "[1.0,-0.0,0.1,1e-7]"
    values = special_values()
    text = embedguard.encode_float_array(values)
    assert [f32(x) for x in json.loads(text)] == values


# ---------------------------------------------------------------------- plan and merge


def answer(vectors, fmt="float", usage=None):
    data = []
    for i, v in enumerate(vectors):
        emb = embedguard.encode_base64(v) if fmt == "base64" else v
        data.append({"object": "embedding", "index": i, "embedding": emb})
    out = {"object": "list", "data": data, "model": "upstream"}
    if usage is not None:
        out["usage"] = {"prompt_tokens": usage, "total_tokens": usage}
    return json.dumps(out).encode()


def test_plan_parts_respect_the_caps_and_merge_back_in_order():
    rng = random.Random(4)
    texts = [" ".join("word" for _ in range(rng.randint(1, 30))) for _ in range(57)]
    body = json.dumps({"model": MODEL, "input": texts, "user": "u", "encoding_format": "base64", "dimensions": 2}).encode()
    checked = embedguard.Policy.openai().check(body)
    calls = embedguard.plan(checked, max_inputs=10, max_tokens=200, encoding_format="float")
    assert sum(len(p) for p in calls) == 57
    assert [p.start for p in calls] == sorted(p.start for p in calls)
    for part in calls:
        sent = json.loads(part.body)
        assert isinstance(part.body, bytes)
        assert sent["input"] == texts[part.start : part.stop]
        assert sent["encoding_format"] == "float" and sent["user"] == "u" and sent["dimensions"] == 2
        assert len(part) <= 10 and sum(part.token_counts) <= 200
        assert part.token_counts == checked.token_counts[part.start : part.stop]
        assert part.usage.total_tokens == sum(part.token_counts)
    assert calls.usage == checked.usage
    assert calls[-1] is calls.parts[-1] or calls[-1].start == calls.parts[-1].start
    with pytest.raises(IndexError):
        calls[len(calls)]
    vectors = [[float(i), 1.0] for i in range(57)]
    answers = [answer(vectors[p.start : p.stop]) for p in calls]
    merged = json.loads(calls.merge(answers))
    assert [d["index"] for d in merged["data"]] == list(range(57))
    assert [list(embedguard.decode_base64(d["embedding"])) for d in merged["data"]] == vectors
    assert merged["usage"] == checked.usage.to_dict()
    assert merged["model"] == MODEL
    same = embedguard.merge_responses([(p.start, a) for p, a in zip(calls, answers)], checked)
    assert json.loads(same) == merged
    with pytest.raises(ValueError, match="2 responses for"):
        calls.merge(answers[:2])


def test_an_input_over_the_upstream_cap_is_the_contracts_400():
    checked = embedguard.Policy.openai().check(json.dumps({"model": MODEL, "input": ["a b c d", "e"]}).encode())
    with pytest.raises(embedguard.BadRequestError) as caught:
        embedguard.plan(checked, max_tokens=3)
    assert caught.value.message == "Invalid 'input': maximum context length is 3 tokens."


def test_dimensions_unsupported_upstream_are_shortened_by_merge():
    policy = embedguard.Policy.empty().with_model(embedguard.Model("m3", 3, dimensions=True))
    checked = policy.check(json.dumps({"model": "m3", "input": ["a"], "dimensions": 2}).encode())
    calls = embedguard.plan(checked, dimensions=False, model="my-upstream-name")
    assert calls.shorten_to == 2
    assert json.loads(calls[0].body) == {"model": "my-upstream-name", "input": ["a"], "encoding_format": "float"}
    with pytest.raises(embedguard.ResponseError):
        calls.merge([answer([[3.0]])])  # neither the native length nor the client's
    merged = json.loads(calls.merge([answer([[3.0, 4.0, 12.0]])]))
    assert [f32(x) for x in merged["data"][0]["embedding"]] == [f32(0.6), f32(0.8)]


def test_response_errors_word_for_word():
    target = embedguard.ResponseTarget("m", [1, 1], 1)
    cases = [
        ([(0, answer([[1.0]]))], "upstream response 0 has no item with index 1"),
        ([(0, b"{")], "upstream response 0 is not a valid embeddings response: EOF while parsing an object at line 1 column 1"),
        ([], "no upstream responses to merge"),
        ([(1, answer([[1.0]]))], "upstream response 0 starts at input 1: responses must start at input 0 and go up, each answering at least one input, all below input 2"),
        ([(0, answer([[1.0], [1.0, 2.0]]))], "the vector for input 1 has length 2, expected 1"),
        ([(0, answer([[1.0], [float("nan")]], fmt="base64"))], "the vector for input 1: value 0 is NaN, which has no JSON form"),
    ]
    for parts, message in cases:
        with pytest.raises(embedguard.ResponseError) as caught:
            embedguard.merge_responses(parts, target)
        assert str(caught.value) == message
    # An exact model's usage is the gateway's count, never the upstream's.
    merged = json.loads(embedguard.merge_responses([(0, answer([[1.0], [1.0]], usage=999999999))], target))
    assert merged["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    with pytest.raises(TypeError, match="not a .start, body. tuple"):
        embedguard.merge_responses([answer([[1.0]])], target)
    with pytest.raises(TypeError, match="a target is a Checked request or a ResponseTarget"):
        embedguard.transcode_response(answer([[1.0]]), "m")


def test_transcode_decode_and_encode_round_trip():
    checked = embedguard.Policy.openai().check(json.dumps({"model": MODEL, "input": ["a", "b"], "encoding_format": "base64", "dimensions": 2}).encode())
    vectors = [[0.1, 0.2], [f32(1e-7), -3.0]]
    out = embedguard.transcode_response(answer(vectors, usage=0), checked)
    read = embedguard.decode_response(out)
    assert [list(v) for v in read.vectors] == [[f32(x) for x in v] for v in vectors]
    assert read.usage == checked.usage and read.model == MODEL
    assert embedguard.encode_response(read.vectors, checked) == out
    target = embedguard.ResponseTarget(MODEL, [1, 1], 2, encoding_format="float", dimensions=1)
    assert json.loads(embedguard.encode_response(vectors, target))["data"][1]["embedding"] == [1.0]
    assert repr(target) == "ResponseTarget('text-embedding-3-small', [1, 1], 2, encoding_format='float', dimensions=1)"
    assert target.native_dimensions == 2 and target.usage == "counted"


# ------------------------------------------------------------------------------- keys


def test_keys():
    keys = embedguard.KeySet(["sk-gateway-abcd1234", "sk-gateway-ZZZZ9999"])
    found = keys.check_header("Bearer sk-gateway-ZZZZ9999")
    assert (found.index, found.name, str(found)) == (1, "key #1", "key #1")
    assert keys.check_header(b"bearer   sk-gateway-abcd1234  ").index == 0
    assert "abcd" not in repr(keys) and keys.names == ["key #0", "key #1"]
    missing = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    cases = [
        (None, missing, None),
        ("Basic xyz", missing, None),
        ("Bearer sk-gateway-abcd1235", "Incorrect API key provided: sk-g***********1235.", "invalid_api_key"),
        ("Bearer " + "k" * 100, "Incorrect API key provided.", "invalid_api_key"),
        ("Bearer sk-\ud800", "Incorrect API key provided.", "invalid_api_key"),
    ]
    for header, message, code in cases:
        with pytest.raises(embedguard.AuthenticationError) as caught:
            keys.check_header(header)
        err = caught.value
        assert (err.status, err.message, err.code, err.type) == (401, message, code, "invalid_request_error")
    with pytest.raises(embedguard.MalformedKeyError, match="key 1: a gateway key is `sk-gateway-` followed by at least 8 ASCII letters or digits"):
        embedguard.KeySet(["sk-gateway-abcd1234", "sk-gateway-short"])
    with pytest.raises(embedguard.KeySetError, match="key 1: the same key is already in the set, named `key #0`"):
        embedguard.KeySet(["sk-gateway-abcd1234", "sk-gateway-abcd1234"])
    with pytest.raises(TypeError):
        embedguard.KeySet("sk-gateway-abcd1234")
    with pytest.raises(TypeError):
        keys.check_header(5)
    assert len(keys.with_key("sk-gateway-third333", "third")) == 3 and len(keys) == 2


def test_named_keys_formats_and_key_files():
    fmt = embedguard.KeyFormat("sk-live-", min_secret_len=4)
    named = embedguard.KeySet({"team-a": "sk-live-abcd"}, format=fmt)
    assert named.check_header("Bearer sk-live-abcd") == named.check_header(b"Bearer sk-live-abcd")
    assert named.check_header("Bearer sk-live-abcd").name == "team-a"
    assert named.format.prefix == "sk-live-" and named.format.min_secret_len == 4
    with pytest.raises(embedguard.MalformedKeyError, match="a gateway key is `sk-live-` followed by at least 4"):
        named.with_key("sk-gateway-abcd1234")
    line = named.digest_line("sk-live-wxyz", "team b")
    assert line.startswith("sha256:") and "wxyz" not in line
    both = named.with_key_file("# keys\n\n" + line + "\n")
    assert both.check_header("Bearer sk-live-abcd").name == "team-a"
    assert both.check_header("Bearer sk-live-wxyz").name == "team b"
    with pytest.raises(embedguard.KeySetError) as caught:
        embedguard.KeySet(key_file="# keys\nsk-gateway-team0001 team one\n")
    assert str(caught.value) == "line 2: expected `sha256:` then the key's digest in 64 hex digits (not the key itself)"
    assert "team0001" not in str(caught.value)
    with pytest.raises(embedguard.KeySetError, match="a key format uses printable ASCII"):
        embedguard.KeyFormat("sk live")


# ---------------------------------------------------------------- limits and policies


def test_limits_and_policy_options():
    limits = embedguard.Limits(max_inputs=3)
    assert limits.replace(max_depth=4) == embedguard.Limits(max_inputs=3, max_depth=4)
    assert hash(limits) == hash(embedguard.Limits(max_inputs=3))
    policy = embedguard.Policy.openai(limits=limits, max_request_tokens=5)
    assert policy.limits == embedguard.Limits(max_inputs=3, max_request_tokens=5)
    with pytest.raises(embedguard.BadRequestError) as caught:
        policy.check(json.dumps({"model": MODEL, "input": ["a"] * 4}).encode())
    assert caught.value.message == "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
    with pytest.raises(embedguard.BadRequestError) as caught:
        policy.check(json.dumps({"model": MODEL, "input": ["a b c", "d e f"]}).encode())
    assert caught.value.message == "Requested 6 tokens, max 5 tokens per request"
    assert caught.value.type == "max_tokens_per_request"
    with pytest.raises(ValueError, match="over_limit is 'reject' or 'truncate'"):
        embedguard.Policy.openai(over_limit="cut")
    extra = embedguard.Policy.openai(allow_members=["input_type"]).check(b'{"model":"text-embedding-3-small","input":"a","input_type":{"x": 1}}')
    assert extra.extra_members == {"input_type": '{"x": 1}'}
    with pytest.raises(embedguard.PayloadTooLargeError) as caught:
        embedguard.Policy.openai(max_body_bytes=10).check(b" " * 11)
    assert caught.value.code == "request_too_large"
    assert embedguard.Policy.openai().model("text-embedding-ada-002").dimensions_allowed is False
    assert embedguard.Policy.empty().model(MODEL) is None


def test_truncation_cuts_at_the_limit_and_keeps_counts_exact():
    enc = embedguard.cl100k()
    policy = embedguard.Policy.openai(max_input_tokens=5).with_over_limit("truncate")
    assert policy.over_limit == "truncate"
    text = "one two three four five six seven"
    checked = policy.check(json.dumps({"model": MODEL, "input": [text, "ok"]}).encode())
    assert checked.truncated == [0]
    cut, ok = checked.inputs
    assert text.startswith(cut) and enc.count(cut) == 5 == checked.token_counts[0]
    assert ok == "ok" and checked.token_counts[1] == 1
    checked = policy.check(json.dumps({"model": MODEL, "input": [list(range(9)), [1]]}).encode())
    assert checked.truncated == [0] and checked.inputs == [list(range(5)), [1]]
    assert checked.input_form == "token_arrays"


def test_model_profiles():
    model = embedguard.Model("bge", 1024, aliases=["b"], max_input_tokens=512, max_inputs=4, token_arrays=False)
    assert (model.aliases, model.max_input_tokens, model.max_inputs, model.token_arrays) == (["b"], 512, 4, False)
    assert (model.tokenizer, model.exact, model.max_request_tokens, model.max_input_bytes) == ("cl100k_base", True, None, None)
    policy = embedguard.Policy.empty().with_model(model)
    assert [m.name for m in policy.models] == ["bge"]
    assert policy.check(b'{"model":"b","input":"hello world"}').token_counts == [2]
    with pytest.raises(embedguard.BadRequestError) as caught:
        policy.check(json.dumps({"model": "bge", "input": "a " * 600}).encode())
    assert caught.value.message == "Invalid 'input': maximum context length is 512 tokens."
    with pytest.raises(embedguard.BadRequestError):
        policy.check(b'{"model":"bge","input":[1,2]}')
    estimated = embedguard.Policy.empty().with_model(embedguard.Model("gemini", 3072, tokenizer="estimate"))
    checked = estimated.check(b'{"model":"gemini","input":"hello world"}')
    assert checked.exact is False and checked.token_counts[0] >= 1
    assert [m.name for m in embedguard.Model.openai()] == ["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"]
    with pytest.raises(ValueError, match="tokenizer is 'cl100k_base' or 'estimate'"):
        embedguard.Model("x", 1, tokenizer="o200k")


# ------------------------------------------------------------------------ models files


def test_models_file(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text("""
[[model]]
name = "text-embedding-3-small"
aliases = ["small"]
dimensions = 1536
shorten = true

[[model]]
name = "gemini-embedding-001"
dimensions = 3072
tokenizer = "estimate"
max_input_tokens = 2048
max_inputs = 100
""")
    policy = embedguard.Policy.from_models_file(models, max_request_tokens=50)
    assert sorted(m.name for m in policy.models) == ["gemini-embedding-001", "text-embedding-3-small"]
    checked = policy.check(b'{"model":"small","input":["hello world","h"],"dimensions":8}')
    assert checked.token_counts == [2, 1] and checked.exact and checked.model_spec.name == "text-embedding-3-small"
    estimated = policy.check(b'{"model":"gemini-embedding-001","input":"hello world"}')
    assert estimated.exact is False and estimated.token_counts == [3]
    with pytest.raises(embedguard.BadRequestError) as caught:
        policy.check(json.dumps({"model": "gemini-embedding-001", "input": ["a"] * 101}).encode())
    assert caught.value.message == INVALID_INPUT_MESSAGE
    with pytest.raises(embedguard.BadRequestError) as caught:
        policy.check(json.dumps({"model": "small", "input": " ".join(["a"] * 60)}).encode())
    assert caught.value.message == "Requested 60 tokens, max 50 tokens per request"
    with pytest.raises(embedguard.NotFoundError):
        policy.check(b'{"model":"text-embedding-3-large","input":"x"}')


INVALID_INPUT_MESSAGE = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."


def test_models_file_errors_name_the_line_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[model]]\nname = "m"\ndimensions = "many"\n')
    with pytest.raises(embedguard.ModelsFileError) as caught:
        embedguard.Policy.from_models_file(bad)
    assert str(caught.value) == f'{bad}:3: model `m`, field `dimensions`: invalid type: string "many", expected a non-negative integer'
    with pytest.raises(embedguard.ModelsFileError):
        embedguard.Policy.from_models_file(tmp_path / "missing.toml")
    with pytest.raises(embedguard.ModelsFileError):
        embedguard.Policy.from_models_toml('[[model]]\nname = "m"\n')


def test_models_file_with_huggingface_tokenizers_counts_as_tokenizers_does(tmp_path):
    from conftest import SHARED, skip_loudly

    qwen = SHARED / "tokenizers" / "qwen3" / "tokenizer.json"
    minilm = SHARED / "tokenizers" / "minilm" / "tokenizer.json"
    if not qwen.exists() or not minilm.exists():
        skip_loudly(f"no tokenizer.json files under {SHARED / 'tokenizers'}")
    try:
        import tokenizers
    except ImportError:
        skip_loudly("the tokenizers package is not installed (pip install tokenizers)")
    models = tmp_path / "models.toml"
    models.write_text(f"""
[[model]]
name = "qwen3-embedding"
dimensions = 1024
tokenizer = "{qwen}"

[[model]]
name = "all-minilm"
dimensions = 384
tokenizer = "{minilm}"
max_input_tokens = 512
""")
    policy = embedguard.Policy.from_models_file(models)
    texts = ["Hello, world!", "日本語の文章です。", "Привет мир", "  spaces\tand\nlines  ", "emoji 🙂 ok", "<|endoftext|> [CLS]"]
    for name, path in (("qwen3-embedding", qwen), ("all-minilm", minilm)):
        oracle = tokenizers.Tokenizer.from_file(str(path))
        oracle.no_truncation()
        oracle.no_padding()
        want = [len(oracle.encode(t, add_special_tokens=True).ids) for t in texts]
        checked = policy.check(json.dumps({"model": name, "input": texts}, ensure_ascii=False).encode())
        assert checked.token_counts == want, name
