"""The hostile catalogue (tests/common/mod.rs), rebuilt in Python, through every entry
point: each body gets the contract's exact answer, and nothing ever raises anything but
the package's documented exceptions (never pyo3's PanicException, a BaseException)."""

from __future__ import annotations

import array
import json
import random

import pytest

import embedguard
from conftest import tiktoken_cl100k

MODEL = "text-embedding-3-small"
MIB = 1024 * 1024
INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
    "contact us through our help center at help.openai.com.)"
)
INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
TOO_LONG = "Invalid 'input': maximum context length is 8192 tokens."
ALLOWED = (
    embedguard.RequestError,
    embedguard.ResponseError,
    embedguard.VectorError,
    embedguard.MalformedKeyError,
    TypeError,
    OverflowError,
)


def echo(value: str) -> str:
    raw = value.encode()
    if len(raw) <= 64:
        return value
    return raw[:64].decode("utf-8", "ignore") + "..."


def with_input(raw_input: str) -> bytes:
    return f'{{"model":"{MODEL}","input":{raw_input}}}'.encode()


def text_body(text: str) -> bytes:
    return with_input(json.dumps(text, ensure_ascii=False))


def texts_body(texts) -> bytes:
    return with_input(json.dumps(list(texts), ensure_ascii=False))


def cjk(rng: random.Random, chars: int) -> str:
    out, left = [], chars
    while left > 0:
        word = min(left, rng.randint(1, 4))
        out.append("".join(chr(0x4E00 + rng.randrange(0x9FFF - 0x4E00 + 1)) for _ in range(word)))
        left -= word
    return "".join(a + rng.choice("，。") for a in out)[:-1]


def short_names(n: int):
    alphabet = [chr(b) for b in range(ord("!"), ord("~") + 1) if chr(b) not in '"\\']
    length, made = 1, 0
    while True:
        for i in range(len(alphabet) ** length):
            name = ""
            for _ in range(length):
                name += alphabet[i % len(alphabet)]
                i //= len(alphabet)
            yield name
            made += 1
            if made == n:
                return
        length += 1


def splice(body: bytes, at: int, raw: bytes) -> bytes:
    return body[:at] + raw + body[at + 1 :]


COUNT = object()  # the answer is the oracle's count of the one text


def catalogue():
    rng = random.Random(7)
    spaces = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u1680", "\u2000", "\u2001",
              "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
              "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "\u200b"]
    yield "a_65536", text_body("a" * 65536), [8192]
    yield "underscore_524288", text_body("_" * 524288), [8192]
    yield "spaces_one_mib", text_body(" " * MIB), [8192]
    yield "spaces_one_mib_plus_one", text_body(" " * (MIB + 1)), (400, TOO_LONG)
    yield "spaces_999_999_then_x", text_body(" " * 999_999 + "x"), [7814]
    for name, text in [
        ("tabs_100k", "\t" * 100_000),
        ("no_break_spaces_100k", "\xa0" * 100_000),
        ("newlines_100k", "\n" * 100_000),
        ("crlf_50k", "\r\n" * 50_000),
        ("mixed_unicode_whitespace", "".join(rng.choice(spaces) for _ in range(60_000)) + "word"),
        ("random_cjk", "".join(chr(0x4E00 + rng.randrange(20992)) for _ in range(4000))),
        ("zwj_emoji_families", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 " * 300),
        ("special_token_text", "<|endoftext|><|fim_prefix|><|fim_middle|><|fim_suffix|><|endofprompt|>" * 100),
        ("escaped_nul_is_counted", "a\0b\0" * 1000),
        ("letters_20kb_no_spaces", "".join(chr(97 + rng.randrange(26)) for _ in range(20_000))),
        ("combining_marks_20k", "a" + "\u0301" * 20_000),
    ]:
        yield name, text_body(text), COUNT
    yield "letters_one_mib_no_spaces", text_body("".join(chr(97 + rng.randrange(26)) for _ in range(MIB))), (400, TOO_LONG)
    dense = [cjk(rng, 1500) for _ in range(70)]
    yield "dense_cjk_70_inputs", texts_body(dense), "each"
    yield "dense_cjk_100_inputs", texts_body(dense + dense[:30]), "each"
    first = [cjk(rng, 9000)] + [cjk(rng, 1500) for _ in range(2047)]
    yield "dense_cjk_first_input_too_long", texts_body(first), (400, TOO_LONG)
    yield "dense_cjk_one_mib_input", text_body(cjk(rng, 340_000).encode()[:MIB].decode("utf-8", "ignore")), (400, TOO_LONG)
    one = json.dumps([i % 10 for i in range(8109)])
    yield "token_arrays_37_of_8109", with_input("[" + ",".join([one] * 37) + "]"), (400, "Requested 300033 tokens, max 300000 tokens per request")
    one = json.dumps([i % 10 for i in range(4096)])
    yield "token_arrays_2048_of_4096", with_input("[" + ",".join([one] * 2048) + "]"), (400, f"Requested {2048 * 4096} tokens, max 300000 tokens per request")
    yield "nesting_100k_in_input", with_input("[" * 100_000), (400, INVALID_JSON)
    yield "nesting_100k_closed_in_input", with_input("[" * 100_000 + "]" * 100_000), (400, INVALID_JSON)
    nested = '{"a":' * 100_000 + "}" * 100_000
    yield "nesting_100k_in_unknown_member", f'{{"model":"{MODEL}","input":"x","extra":{nested}}}'.encode(), (400, INVALID_JSON)
    yield "lone_high_surrogate", with_input(r'"a\ud800b"'), (400, INVALID_JSON)
    yield "lone_low_surrogate", with_input(r'"a\udc00b"'), (400, INVALID_JSON)
    yield "high_surrogate_then_non_low", with_input(r'"\ud800\u0041"'), (400, INVALID_JSON)
    yield "lone_surrogate_in_key", f'{{"model":"{MODEL}","input":"x","\\udfff":1}}'.encode(), (400, INVALID_JSON)
    b = with_input('"ab"')
    yield "invalid_utf8_in_string", splice(b, len(b) - 3, b"\xff"), (400, INVALID_JSON)
    yield "overlong_encoding", f'{{"model":"{MODEL}","input":"a'.encode() + b'\xc0\xaf"}', (400, INVALID_JSON)
    yield "encoded_surrogate", f'{{"model":"{MODEL}","input":"a'.encode() + b'\xed\xa0\x80"}', (400, INVALID_JSON)
    yield "invalid_utf8_in_unknown_member", f'{{"model":"{MODEL}","input":"a","x":"'.encode() + b'\xf8\x88\x80\x80\x80"}', (400, INVALID_JSON)
    yield "byte_order_mark", b"\xef\xbb\xbf" + text_body("x"), (400, INVALID_JSON)
    yield "trailing_data", text_body("x") + b" x", (400, INVALID_JSON)
    yield "trailing_second_object", text_body("x") + b"{}", (400, INVALID_JSON)
    b = text_body("ab")
    yield "raw_control_character", splice(b, len(b) - 3, b"\x01"), (400, INVALID_JSON)
    yield "duplicate_members", f'{{"model":"{MODEL}","input":"x","model":"{MODEL}"}}'.encode(), (400, "Duplicate parameter: 'model'.")
    yield "duplicate_unknown_members", f'{{"model":"{MODEL}","input":"x","foo":1,"bar":2,"foo":3}}'.encode(), (400, "Duplicate parameter: 'foo'.")
    n = "9" * 1_000_000
    yield "number_one_mb_as_dimensions", f'{{"model":"{MODEL}","input":"x","dimensions":{n}}}'.encode(), (
        400, f"Invalid 'dimensions': integer above maximum value. Expected a value <= 1536, but got {echo(n)} instead.")
    n = "-" + "1" * 1_000_000
    yield "negative_number_one_mb_as_dimensions", f'{{"model":"{MODEL}","input":"x","dimensions":{n}}}'.encode(), (
        400, f"Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got {echo(n)} instead.")
    yield "number_one_mb_as_token_id", with_input("[" + "7" * 1_000_000 + "]"), (400, INVALID_INPUT)
    yield "number_one_mb_as_model", ('{"model":' + "1" * 1_000_000 + ',"input":"x"}').encode(), (
        400, "Invalid type for 'model': expected a string, but got an integer instead.")
    model = "m" + "\u20ac" * (MIB // 3)
    yield "model_name_one_mib", json.dumps({"model": model, "input": "x"}, ensure_ascii=False).encode(), (
        404, f"The model `{echo(model)}` does not exist or you do not have access to it.")
    yield "user_one_mib", f'{{"model":"{MODEL}","input":"x","user":"{"u" * MIB}"}}'.encode(), [1]
    v = "b" * MIB
    yield "encoding_format_one_mib", f'{{"model":"{MODEL}","input":"x","encoding_format":"{v}"}}'.encode(), (
        400, f"Invalid value for 'encoding_format' = {echo(v)}. Supported values: ['float', 'base64'].")
    v = "[" + "1," * (MIB // 2) + "1]"
    yield "encoding_format_one_mib_array", f'{{"model":"{MODEL}","input":"x","encoding_format":{v}}}'.encode(), (
        400, f"Invalid value for 'encoding_format' = {echo(v)}. Supported values: ['float', 'base64'].")
    k = "k" * MIB
    yield "unknown_member_name_one_mib", f'{{"model":"{MODEL}","input":"x","{k}":1}}'.encode(), (
        400, f"Unrecognized request argument supplied: {echo(k)}")
    yield "ids_not_integers", with_input("[1, 2, 1.0]"), (400, INVALID_INPUT)
    yield "empty_body", b"", (400, INVALID_JSON)
    yield "null_body", b"null", (400, "'$' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
    yield "empty_strings_100k", texts_body([""] * 100_000), (400, INVALID_INPUT)
    yield "strings_100k", texts_body(["a"] * 100_000), (400, INVALID_INPUT)
    yield "body_over_64_mib", b" " * (64 * MIB + 1), (413, f"Request body too large: {64 * MIB + 1} bytes exceeds the limit of {64 * MIB} bytes.")
    yield "syntax_error_after_too_long_input", text_body("a" * 70_000) + b",", (400, INVALID_JSON)
    members = "".join(f',"{name}":0' for name in short_names(300_000))
    yield "many_unknown_members", f'{{"model":"{MODEL}","input":"x"{members}}}'.encode(), (400, "Unrecognized request argument supplied: !")
    yield "many_unknown_members_then_a_duplicate", f'{{"model":"{MODEL}","input":"x"{members},"~~":0}}'.encode(), (400, "Duplicate parameter: '~~'.")
    yield "many_duplicate_members", (f'{{"model":"{MODEL}","input":"x"' + ',"model":0' * 200_000 + "}").encode(), (400, "Duplicate parameter: 'model'.")


ENTRIES = list(catalogue())


def expected_counts(body: bytes, expect) -> list[int] | tuple:
    if expect is COUNT:
        text = json.loads(body)["input"]
        counts = [len(tiktoken_cl100k().encode_ordinary(text))]
    elif expect == "each":
        counts = [len(tiktoken_cl100k().encode_ordinary(t)) for t in json.loads(body)["input"]]
    else:
        return expect
    if any(c > 8192 for c in counts):
        return (400, TOO_LONG)
    if sum(counts) > 300_000:
        return (400, f"Requested {sum(counts)} tokens, max 300000 tokens per request")
    return counts


def never_panics(call, *args, **kwargs):
    """Calls `call`; returns its value or the exception, which must be a documented one."""
    try:
        return call(*args, **kwargs)
    except BaseException as err:  # PanicException derives from BaseException
        assert isinstance(err, ALLOWED), f"{call}: {type(err).__module__}.{type(err).__name__}: {err}"
        return err


@pytest.mark.parametrize("name,body,expect", ENTRIES, ids=[e[0] for e in ENTRIES])
def test_entry(name, body, expect):
    want = expected_counts(body, expect)
    got = never_panics(embedguard.Policy.openai().check, body)
    if isinstance(want, list):
        assert not isinstance(got, BaseException), f"{name}: {got!r}"
        assert got.token_counts == want
        assert got.usage.total_tokens == sum(want)
        # Every entry point that takes what a check gives.
        for part in never_panics(embedguard.plan, got, max_inputs=7, max_tokens=9000):
            assert json.loads(part.body)["model"] == MODEL
    else:
        status, message = want
        assert isinstance(got, embedguard.RequestError), f"{name}: {got!r}"
        assert (got.status, got.message) == (status, message)
        assert json.loads(got.body)["error"]["message"] == message
    # Under truncation too: an answer, never a crash.
    cut = never_panics(embedguard.Policy.openai(over_limit="truncate").check, body)
    if not isinstance(cut, BaseException):
        assert all(n <= 8192 for n in cut.token_counts)
        assert sum(cut.token_counts) <= 300_000


SMALL = [e for e in ENTRIES if len(e[1]) <= 2 * MIB]


@pytest.mark.parametrize("name,body,expect", SMALL, ids=[e[0] for e in SMALL])
def test_entry_as_an_upstream_response_a_text_a_header_and_a_vector(name, body, expect):
    target = embedguard.ResponseTarget(MODEL, [1], 1536)
    assert isinstance(never_panics(embedguard.transcode_response, body, target), embedguard.ResponseError)
    assert isinstance(never_panics(embedguard.decode_response, body), embedguard.ResponseError)
    assert isinstance(never_panics(embedguard.merge_responses, [(0, body)], target), embedguard.ResponseError)
    text = body.decode("utf-8", "surrogateescape")  # lone surrogates where bytes are not UTF-8
    enc = embedguard.cl100k()
    n = never_panics(enc.count, text)
    assert len(never_panics(enc.encode, text)) == n
    assert never_panics(enc.count_up_to, text, 100) in (None, n)
    assert never_panics(enc.count_many, [text, text[:100]])[0] == n
    keys = embedguard.KeySet(["sk-gateway-abcd1234"])
    for header in (body, text, b"Bearer " + body, "Bearer " + text):
        assert isinstance(never_panics(keys.check_header, header), embedguard.AuthenticationError)
    never_panics(embedguard.mask_key, body)
    assert isinstance(never_panics(embedguard.decode_base64, text), (embedguard.VectorError, array.array))
    never_panics(embedguard.KeySet, [text])
