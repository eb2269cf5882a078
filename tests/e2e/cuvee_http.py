"""Talking to a cuvee process's HTTP API from the tests and benches: a JSON request,
waiting for `/health` after a start, and waiting for a condition to hold."""

import json
import time
import urllib.request


def http(port, method, path, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
    return json.loads(text) if text.strip().startswith((b"{", b"[")) else text.decode()


def wait_for_health(port, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            http(port, "GET", "/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}")


def wait_for(condition, what, timeout=60):
    """The first truthy result of `condition`, polled until `timeout` seconds pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
