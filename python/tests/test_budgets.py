"""Rate limits from Python: budgets admitted or refused exactly, the 429 word for word,
the headers, and the Redis script shared by replicas, run on a real redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

import embedguard
from embedguard import Budget, Decision, MemoryStore, Operation, RateLimitError
from conftest import skip_loudly

MODEL = "text-embedding-3-small"


def test_the_contract_scenario_word_for_word():
    store = MemoryStore()
    budget = Budget(requests_per_minute=100, tokens_per_minute=1000)
    first = store.admit("key-1", budget, 800, now_ms=0)
    assert first.admitted and first.refusal is None and first.error(MODEL, "org-acme") is None
    refused = store.admit("key-1", budget, 300, now_ms=0)
    assert not refused.admitted
    assert refused.refusal == "tokens"
    assert refused.retry_after_ms == 6000
    err = refused.error(MODEL, "org-acme")
    assert isinstance(err, RateLimitError) and err.status == 429
    assert err.message == (
        "Rate limit reached for text-embedding-3-small in organization org-acme on tokens per "
        "min (TPM): Limit 1000, Used 800, Requested 300. Please try again in 6s. Visit "
        "https://platform.openai.com/account/rate-limits to learn more."
    )
    with pytest.raises(RateLimitError):
        raise err
    store.refund("key-1", budget, 800, now_ms=0)
    after = store.admit("key-1", budget, 300, now_ms=0)
    assert after.admitted
    assert (after.remaining_tokens, after.remaining_requests) == (700, 99)
    assert len(store) == 1


def test_buckets_refill_with_time_and_settle_to_the_actual_usage():
    store = MemoryStore()
    budget = Budget(tokens_per_minute=600)
    assert store.admit("k", budget, 600, now_ms=0).admitted
    assert not store.admit("k", budget, 10, now_ms=0).admitted
    # 600 a minute is 10 a second: 10 tokens are back after one second, not before.
    assert not store.admit("k", budget, 10, now_ms=999).admitted
    assert store.admit("k", budget, 10, now_ms=1000).admitted
    # Charged 100, the upstream reported 40: 60 come back.
    assert store.admit("j", budget, 100, now_ms=0).remaining_tokens == 500
    store.settle("j", budget, 100, 40, now_ms=0)
    assert store.admit("j", budget, 0, now_ms=0).remaining_tokens == 560


def test_too_large_requests_and_request_limits():
    store = MemoryStore()
    too_large = store.admit("k", Budget(tokens_per_minute=100), 101, now_ms=0)
    # No wait cures it: the wait is until the bucket is full, which it already is.
    assert (too_large.refusal, too_large.retry_after_ms) == ("too_large", 0)
    budget = Budget(requests_per_minute=1)
    assert store.admit("r", budget, 5, now_ms=0).admitted
    refused = store.admit("r", budget, 5, now_ms=0)
    assert refused.refusal == "requests"
    err = refused.error(MODEL, "org-x")
    assert err is not None and "on requests per min (RPM): Limit 1, Used 1, Requested 1." in err.message


def test_headers_name_both_buckets():
    decision = MemoryStore().admit("k", Budget(requests_per_minute=10, tokens_per_minute=100), 40, now_ms=0)
    headers = dict(decision.headers())
    assert headers["x-ratelimit-limit-requests"] == "10"
    assert headers["x-ratelimit-limit-tokens"] == "100"
    assert headers["x-ratelimit-remaining-requests"] == "9"
    assert headers["x-ratelimit-remaining-tokens"] == "60"
    assert "retry-after" not in headers
    assert Budget().unlimited and MemoryStore().admit("k", Budget(), 10**9).headers() == []


def test_operations_and_bad_replies():
    budget = Budget(tokens_per_minute=1000)
    assert Operation.admit(7).redis_args(budget) == ["admit", "", "0", "1000", "7"]
    assert Operation.settle(5, 3).redis_args(budget, now_ms=9) == ["settle", "9", "0", "1000", "5", "3"]
    assert Operation.refund(2) == Operation.refund(2) != Operation.admit(2)
    with pytest.raises(embedguard.ResponseError, match="not a reply of the rate-limit script"):
        Operation.admit(1).decision_from_redis(budget, [1, 2])
    with pytest.raises(OverflowError):
        MemoryStore().admit("k", budget, -1)


class Redis:
    """A redis-server of the test's own on a free loopback port, and a few lines of RESP."""

    def __init__(self):
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("EMBEDGUARD_REQUIRE_SHARED"):
                pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
            skip_loudly("redis-server is not installed (apt-get install -y redis-server)")
        for _ in range(8):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            self.process = subprocess.Popen(
                [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                except OSError:
                    time.sleep(0.02)
                    continue
                self.file = self.sock.makefile("rb")
                info = self.call("INFO", "server")
                if f"process_id:{self.process.pid}" in info:
                    return
                self.sock.close()  # another test's server: ours lost the port
                break
            self.process.kill()
            self.process.wait()
        pytest.fail("could not start redis-server on a free port")

    def call(self, *args: str):
        out = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        self.sock.sendall(out.encode())
        return self.read()

    def read(self):
        line = self.file.readline().decode().rstrip("\r\n")
        kind, rest = line[:1], line[1:]
        if kind == ":":
            return int(rest)
        if kind == "+":
            return rest
        if kind == "-":
            raise RuntimeError(rest)
        if kind == "$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode()
        if kind == "*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def close(self):
        self.sock.close()
        self.process.kill()
        self.process.wait()


@pytest.fixture
def redis():
    server = Redis()
    yield server
    server.close()


def test_the_redis_script_decides_as_the_memory_store(redis):
    sha = redis.call("SCRIPT", "LOAD", embedguard.REDIS_SCRIPT)
    budget = Budget(requests_per_minute=100, tokens_per_minute=1000)
    memory = MemoryStore()
    steps = [
        (Operation.admit(800), 0), (Operation.admit(300), 0), (Operation.refund(800), 0),
        (Operation.admit(300), 0), (Operation.admit(900), 1000), (Operation.settle(300, 100), 1500),
        (Operation.admit(850), 2000), (Operation.admit(1001), 2000),
    ]
    for operation, now in steps:
        reply = redis.call("EVALSHA", sha, "1", "eg:key-1", *operation.redis_args(budget, now_ms=now))
        shared: Decision = operation.decision_from_redis(budget, reply)
        local = memory.apply("eg:key-1", budget, operation, now_ms=now)
        assert (shared.admitted, shared.refusal, shared.remaining_tokens, shared.remaining_requests) == (
            local.admitted, local.refusal, local.remaining_tokens, local.remaining_requests
        ), operation
        assert shared.headers() == local.headers(), operation
    refused = Operation.admit(1001).decision_from_redis(
        budget, redis.call("EVALSHA", sha, "1", "eg:key-2", *Operation.admit(1001).redis_args(budget, now_ms=0))
    )
    assert refused.refusal == "too_large"
