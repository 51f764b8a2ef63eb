"""The LiteLLM example (examples/litellm_hook.py), run in-process: LiteLLM's real proxy
app with the hook configured as a callback, in front of a fake OpenAI upstream on the
loopback. Rejected requests get embedguard's exact envelope and never reach the upstream;
accepted ones carry their exact counts."""

from __future__ import annotations

import json
import os
import pathlib
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import embedguard
from conftest import envelope_text, load_cases, skip_loudly

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
MASTER_KEY = "sk-" + "5eed" * 16
MODEL = "text-embedding-3-small"


class Upstream(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Upstream.received.append(request)
        given = request["input"]
        n = len(given) if isinstance(given, list) and given and not isinstance(given[0], int) else 1
        vector = embedguard.encode_base64([0.5, 0.25]) if request.get("encoding_format") == "base64" else [0.5, 0.25]
        body = json.dumps({
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(n)],
            "model": request["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    saved = {k: os.environ.get(k) for k in ("CONFIG_FILE_PATH", "LITELLM_MASTER_KEY", "LITELLM_LOCAL_MODEL_COST_MAP")}
    # No network: LiteLLM's own copy of its model map, not a download.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    try:
        import litellm  # noqa: F401
        from fastapi.testclient import TestClient
    except ImportError as err:
        skip_loudly(f"LiteLLM's proxy is not installed (pip install 'litellm[proxy]'): {err}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path_factory.mktemp("litellm") / "config.yaml"
    models = "".join(
        f"""
  - model_name: {name}
    litellm_params:
      model: openai/{name}
      api_base: http://127.0.0.1:{server.server_port}/v1
      api_key: sk-upstream-not-a-real-key"""
        for name in (MODEL, "text-embedding-3-large", "text-embedding-ada-002")
    )
    config.write_text(f"""
model_list:{models}
litellm_settings:
  callbacks: litellm_hook.proxy_handler_instance
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
""")
    os.environ.update(CONFIG_FILE_PATH=str(config), LITELLM_MASTER_KEY=MASTER_KEY)
    sys.path.insert(0, str(EXAMPLES))
    from litellm.proxy.proxy_server import app

    import litellm_hook

    seen = []  # what the hook returned (accepted requests)
    calls = []  # every request the hook saw
    real = litellm_hook.EmbedguardHook.async_pre_call_hook

    async def spy(self, *args, **kwargs):
        calls.append(("hook", threading.get_ident()))
        out = await real(self, *args, **kwargs)
        seen.append(out)
        return out

    real_check = litellm_hook.EmbedguardHook.check

    def check_spy(self, data):
        calls.append(("check", threading.get_ident()))
        return real_check(self, data)

    litellm_hook.EmbedguardHook.async_pre_call_hook = spy
    litellm_hook.EmbedguardHook.check = check_spy
    try:
        # LiteLLM's own failures are answers (500s) here, not exceptions in the test.
        with TestClient(app, raise_server_exceptions=False) as client:

            def post(body: bytes):
                Upstream.received.clear()
                seen.clear()
                calls.clear()
                return client.post(
                    "/v1/embeddings",
                    content=body,
                    headers={"Authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
                )

            yield post, seen, calls
    finally:
        litellm_hook.EmbedguardHook.async_pre_call_hook = real
        litellm_hook.EmbedguardHook.check = real_check
        server.shutdown()
        sys.path.remove(str(EXAMPLES))
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_an_accepted_request_goes_upstream_with_its_exact_counts(proxy):
    post, seen, _ = proxy
    r = post(json.dumps({"model": MODEL, "input": ["This is an embedding test.", "h"]}).encode())
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 2
    assert Upstream.received == [{"model": MODEL, "input": ["This is an embedding test.", "h"]}]
    assert seen[-1]["metadata"]["embedguard"] == {
        "token_counts": [6, 1],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
        "truncated": [],
    }


def test_rejections_are_openais_envelopes_word_for_word_and_never_reach_upstream(proxy):
    post, _, calls = proxy
    bodies = {
        "empty input": {"model": MODEL, "input": ""},
        "dimensions 0": {"model": MODEL, "input": "x", "dimensions": 0},
        "unknown model": {"model": "no-such-model", "input": "x"},
        "too long": {"model": MODEL, "input": "a " * 9000},
        "too many tokens": {"model": MODEL, "input": ["a " * 8000] * 40},
        "unknown member": {"model": MODEL, "input": "x", "temperature": 1},
        "bad format": {"model": MODEL, "input": "x", "encoding_format": "int8"},
    }
    for name, request in bodies.items():
        body = json.dumps(request).encode()
        with pytest.raises(embedguard.RequestError) as caught:
            embedguard.Policy.openai().check(body)
        r = post(body)
        assert r.status_code == caught.value.status, name
        assert r.text == caught.value.body, name
        assert Upstream.received == [], name


def test_the_conformance_cases_through_the_proxy(proxy):
    """Every case that reaches the hook gets the contract's answer through the proxy, word
    for word. LiteLLM answers some bodies itself before any hook runs (malformed JSON, a
    model that is not a string, ...): those are listed, and must stay a minority."""
    post, _, calls = proxy
    import litellm_hook
    import orjson

    reached, answered_by_litellm, parsed_away = 0, [], []
    for case in load_cases():
        r = post(case["body"].encode())
        expect = case["expect"]
        if not calls:
            answered_by_litellm.append(f"{case['name']} ({r.status_code})")
            assert Upstream.received == [], case["name"]
            continue
        if answer(case["body"].encode()) != answer(litellm_hook.client_body(orjson.loads(case["body"]))):
            # The hook sees LiteLLM's parse, which lost what decided the case: a
            # duplicate member, a token id written -0, ...
            parsed_away.append(f"{case['name']} ({r.status_code})")
            continue
        reached += 1
        assert r.status_code == expect["status"], (case["name"], r.text)
        if expect["status"] == 200:
            assert len(r.json()["data"]) == len(expect["token_counts"]), case["name"]
        else:
            assert r.text == envelope_text(expect["error"]), case["name"]
            assert Upstream.received == [], case["name"]
    print(f"{reached} cases reached the hook and were answered exactly; LiteLLM answered "
          f"{len(answered_by_litellm)} itself: {answered_by_litellm}; its parser changed "
          f"{len(parsed_away)} before the hook: {parsed_away}")
    assert reached >= 50, (reached, answered_by_litellm)


def answer(body: bytes):
    try:
        return embedguard.Policy.openai().check(body).token_counts
    except embedguard.RequestError as err:
        return err.body


def test_truncation_cuts_before_upstream(proxy):
    import litellm_hook

    post, seen, _ = proxy
    hook = litellm_hook.proxy_handler_instance
    saved = hook.policy
    hook.policy = embedguard.Policy.openai(max_input_tokens=3, over_limit="truncate")
    try:
        r = post(json.dumps({"model": MODEL, "input": ["one two three four five", "ok"]}).encode())
    finally:
        hook.policy = saved
    assert r.status_code == 200, r.text
    assert Upstream.received[0]["input"] == ["one two three", "ok"]
    assert seen[-1]["metadata"]["embedguard"]["truncated"] == [0]


def test_a_large_body_is_checked_off_the_event_loop(proxy):
    post, seen, calls = proxy
    texts = ["word " * 2000] * 30  # 300 KB, over the inline threshold
    r = post(json.dumps({"model": MODEL, "input": texts}).encode())
    assert r.status_code == 200, r.text
    assert seen[-1]["metadata"]["embedguard"]["usage"]["total_tokens"] == 30 * embedguard.cl100k().count(texts[0])
    (hook, loop_thread), (check, worker) = calls
    assert (hook, check) == ("hook", "check") and worker != loop_thread
    # A small one is checked inline: a thread hop would cost more than the check.
    r = post(json.dumps({"model": MODEL, "input": "small"}).encode())
    assert r.status_code == 200, r.text
    (_, loop_thread), (_, checker) = calls
    assert checker == loop_thread
