"""The contract's conformance cases (tests/data/cases.jsonl) through the binding:
counts and usage of accepted bodies, status and envelope, word for word, of rejected ones."""

from __future__ import annotations

import json

import pytest

import embedguard
from conftest import envelope_text, load_cases

CASES = load_cases()
STATUS_CLASS = {
    400: embedguard.BadRequestError,
    401: embedguard.AuthenticationError,
    404: embedguard.NotFoundError,
    413: embedguard.PayloadTooLargeError,
}


def test_the_cases_are_there():
    assert len(CASES) >= 70
    assert any(c["expect"]["status"] == 200 for c in CASES)
    assert any(c["expect"]["status"] != 200 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case):
    body = case["body"].encode("utf-8")
    expect = case["expect"]
    policy = embedguard.Policy.openai()
    if expect["status"] == 200:
        checked = policy.check(body)
        assert checked.token_counts == expect["token_counts"]
        usage = checked.usage
        assert (usage.prompt_tokens, usage.total_tokens) == (
            expect["usage"]["prompt_tokens"],
            expect["usage"]["total_tokens"],
        )
        assert usage.to_dict() == expect["usage"]
        assert len(checked.inputs) == len(checked.token_counts) == len(checked)
        assert checked.exact is True
    else:
        with pytest.raises(embedguard.RequestError) as caught:
            policy.check(body)
        err = caught.value
        assert type(err) is STATUS_CLASS[expect["status"]]
        assert err.status == expect["status"]
        assert json.loads(err.body) == {"error": expect["error"]}
        assert err.body == envelope_text(expect["error"])
        e = expect["error"]
        assert (err.message, err.type, err.param, err.code) == (
            e["message"],
            e["type"],
            e["param"],
            e["code"],
        )
        assert str(err) == e["message"]
        assert err.detail  # which rule, for logs


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, "str"])
def test_every_body_type_gives_the_same_answer(kind):
    for case in CASES:
        raw = case["body"].encode("utf-8")
        body = case["body"] if kind == "str" else kind(raw)
        try:
            got = embedguard.Policy.openai().check(body).token_counts
        except embedguard.RequestError as err:
            got = err.body
        try:
            want = embedguard.Policy.openai().check(raw).token_counts
        except embedguard.RequestError as err:
            want = err.body
        assert got == want, case["name"]


def test_a_body_of_another_type_is_a_type_error():
    with pytest.raises(TypeError, match="a body is bytes, bytearray, str or another buffer, not int"):
        embedguard.Policy.openai().check(5)
    with pytest.raises(TypeError):
        embedguard.Policy.openai().check(None)


def test_request_errors_pickle_with_every_field():
    import pickle

    with pytest.raises(embedguard.RequestError) as caught:
        embedguard.Policy.openai().check(b'{"model":"nope","input":"x"}')
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is embedguard.NotFoundError
    assert (again.status, again.body, again.code) == (404, caught.value.body, "model_not_found")
