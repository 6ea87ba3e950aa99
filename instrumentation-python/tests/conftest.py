"""Fixtures: a real ``promptline serve`` (a child process, as test/helpers/server.ts starts it), an
OpenAI-compatible fake on loopback, a settable clock, and node for the TS parity checks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = ROOT / "node_modules" / ".bin" / "node"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    data_dir: str
    process: subprocess.Popen[bytes]
    admin_key: str | None = None
    _out: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self._out)

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    # The registry's HTTP API, as an editor would use it.
    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.admin_key:
            headers["authorization"] = f"Bearer {self.admin_key}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as res:
                text = res.read().decode()
                return res.status, json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            text = err.read().decode()
            try:
                return err.code, json.loads(text)
            except ValueError:
                return err.code, text

    def register_version(self, name: str, template: str | dict[str, Any], message: str = "test") -> dict[str, Any]:
        status, body = self.request("POST", f"/v1/prompts/{urllib.parse.quote(name)}/versions", {"template": template, "commitMessage": message})
        assert status == 201, body
        return dict(body)

    def set_alias(self, name: str, alias: str, *, version: int | None = None, split: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        target: dict[str, Any] = {"version": version} if split is None else {"split": split}
        status, body = self.request("PUT", f"/v1/prompts/{urllib.parse.quote(name)}/aliases/{alias}", {**target, "reason": "test"})
        assert status in (200, 201), body
        return dict(body)


def start_server(admin_key: str | None = None) -> Server:
    """``admin_key``: run with authentication on, as in production, with that bootstrap admin key."""
    data_dir = tempfile.mkdtemp(prefix="promptline-pytest-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("NEO4J_URL", "NEO4J_USER", "NEO4J_PASSWORD", "CLICKHOUSE_URL", "PROMPTLINE_API_KEY")}
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        PROMPTLINE_DATA_DIR=data_dir,
        PROMPTLINE_DEV_NO_AUTH="1",
        PROMPTLINE_GRPC_PORT="off",
        PROMPTLINE_FLUSH_INTERVAL_MS="20",
        PROMPTLINE_RATE_LIMIT_PER_SECOND="100000",
        PROMPTLINE_RATE_LIMIT_BURST="100000",
        PROMPTLINE_INGEST_RATE_PER_SECOND="100000",
        PROMPTLINE_INGEST_RATE_BURST="100000",
    )
    if admin_key:
        env.update(PROMPTLINE_DEV_NO_AUTH="", PROMPTLINE_API_KEY=admin_key)
    proc = subprocess.Popen([str(NODE), "--conditions=@promptline/source", "src/cli.ts", "serve"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir, process=proc, admin_key=admin_key)
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace")
            server._out.append(line)
            if "ready in" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 90
    while not ready.wait(0.1):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"promptline serve did not start (exit {proc.returncode}):\n{server.output()}")
    return server


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """One server for the session; tests use prompt names of their own."""
    s = start_server()
    yield s
    s.stop()
    shutil.rmtree(s.data_dir, ignore_errors=True)


@pytest.fixture
def auth_server() -> Iterator[Server]:
    """A server with authentication on (keys and roles, as in production)."""
    s = start_server(admin_key="pl-pytest-bootstrap-admin-key-0123456789")
    yield s
    s.stop()
    shutil.rmtree(s.data_dir, ignore_errors=True)


@pytest.fixture
def own_server() -> Iterator[Server]:
    """A server of the test's own, which the test may stop (the outage tests)."""
    s = start_server()
    yield s
    s.stop()
    shutil.rmtree(s.data_dir, ignore_errors=True)


class FakeClock:
    """Seconds, set by the test: the cache's TTL without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class FakeOpenAI:
    url: str
    requests: list[dict[str, Any]]
    counter: list[int]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible chat.completions endpoint on loopback: realistic id, dated model, usage."""
    requests: list[dict[str, Any]] = []
    counter = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            requests.append({"path": self.path, "body": body})
            if not self.path.endswith("/chat/completions"):
                self.send_response(404)
                self.end_headers()
                return
            counter[0] += 1
            answer = {
                "id": f"chatcmpl-pytest{os.getpid()}x{counter[0]}x{time.time_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": f"{body.get('model', 'gpt-4o')}-2024-08-06",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Your order shipped."}, "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26},
                "system_fingerprint": "fp_test",
            }
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield FakeOpenAI(url=f"http://127.0.0.1:{httpd.server_address[1]}/v1", requests=requests, counter=counter)
    httpd.shutdown()
    httpd.server_close()


def run_node(script: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """Runs an ES module script with the repository's Node 24 (TS sources through type stripping and
    the @promptline/source condition) and returns the JSON it prints last. The script imports the
    repository's modules by absolute path: ``{ROOT}`` in it is replaced by the repository root."""
    script = script.replace("{ROOT}", str(ROOT))
    with tempfile.NamedTemporaryFile("w", suffix=".ts", prefix="promptline-parity-", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        res = subprocess.run([str(NODE), "--conditions=@promptline/source", path, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    finally:
        os.unlink(path)
    assert res.returncode == 0, f"node failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return json.loads(res.stdout.strip().split("\n")[-1])


def eventually(fn: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Polls ``fn`` until it returns something other than None (the server's writer is asynchronous)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            v = fn()
            if v is not None:
                return v
        except Exception as err:  # noqa: BLE001
            last = err
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f": {last!r}" if last else ""))
        time.sleep(0.05)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.time_ns() % 10**9}"
