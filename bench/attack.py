"""Hostile requests against `gatekeeper-py serve` on loopback, each followed by a request the server must deny.

    python bench/attack.py [--fail-closed] [--workers W] [--max-depth D] [--quick]
    python bench/attack.py --url http://127.0.0.1:PORT --deny REVIEW.json [--cacert CA.pem]

Without --url it starts the real server (`python -m gatekeeper_py serve --insecure` on 127.0.0.1, a free port,
one policy: Pods need an `owner` label; one worker by default, where a lost worker shows at once; --max-depth
2000 lets the 700-level object past the depth limit, to the pickling it used to break). With --url it
talks to a server already running on this machine: only loopback addresses are accepted, and --deny must name
an AdmissionReview (JSON) that server denies.

Each probe is sent once, in a fixed order (a fixed count, each bounded by a client timeout; --quick skips the
probes that take seconds by design): objects nested too deep for pickling, for the depth limit and for the JSON
parser; bodies over the size limit, declared and streamed; a body cut off mid-way; a body dribbled slower than
the body timeout; a 5,000-digit integer; fields of the wrong type (kind as a list, namespace as a number);
invalid UTF-8; a very wide object; more concurrent connections than the server takes. For each it prints the
HTTP status, the answer (allowed, code, the start of the message or warning), the time taken, and whether the
known-deny request sent right after is still denied (and how fast): a "NO" there means the probe broke the
server, e.g. cost it a worker so that later requests get the failure policy. Exit 1 when any "NO" is seen.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
OWNER_REGO = """package owner
violation contains {"msg": sprintf("%v has no owner label", [input.review.object.metadata.name])} if {
  not input.review.object.metadata.labels.owner
}
"""
TIMEOUT = 30.0  # seconds a probe's client waits for an answer


def review(obj: Any, **request: Any) -> dict[str, Any]:
    req = {
        "uid": "9f3c0e2a-0000-4000-8000-000000000001",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "probe",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "attacker"},
        "object": obj,
        "oldObject": None,
    }
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {**req, **request}}


def pod(**extra: Any) -> dict[str, Any]:
    spec = {"containers": [{"name": "c", "image": "x"}], **extra}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": "default"}, "spec": spec}


def nested_body(depth: int) -> bytes:
    """A review whose Pod carries a mapping nested `depth` levels (built as text: json.dumps stops near 1,000)."""
    text = json.dumps(review(pod(extra="NEST")))
    return text.replace('"NEST"', '{"a": ' * depth + "{}" + "}" * depth).encode()


class Target:
    def __init__(self, url: str, verify: ssl.SSLContext | bool, deny: dict[str, Any]) -> None:
        self.url, self.verify, self.deny = url, verify, deny
        self.client = httpx.Client(verify=verify, timeout=TIMEOUT)
        parsed = urlparse(url)
        self.host, self.port, self.tls = parsed.hostname or "", parsed.port or 443, parsed.scheme == "https"

    def post(self, body: bytes | Iterator[bytes], **headers: str) -> httpx.Response:
        return self.client.post(f"{self.url}/v1/admit", content=body, headers=headers)

    def raw(self) -> socket.socket:
        """A connection for hand-made HTTP."""
        sock = socket.create_connection((self.host, self.port), timeout=TIMEOUT)
        if not self.tls:
            return sock
        context = self.verify if isinstance(self.verify, ssl.SSLContext) else ssl.create_default_context()
        if self.verify is False:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return context.wrap_socket(sock, server_hostname=self.host)

    def still_denies(self) -> tuple[bool, float]:
        started = time.perf_counter()
        try:
            answer = self.client.post(f"{self.url}/v1/admit", json=self.deny).json()["response"]
        except (httpx.HTTPError, ValueError, KeyError):
            return False, time.perf_counter() - started
        return answer.get("allowed") is False and answer.get("status", {}).get("code") == 403, (
            time.perf_counter() - started
        )


def summary(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:80]
    answer = body.get("response") if isinstance(body, dict) else None
    if not isinstance(answer, dict):
        return json.dumps(body)[:100]
    text = (answer.get("status") or {}).get("message") or " | ".join(answer.get("warnings") or [])
    return f"allowed={answer.get('allowed')} code={(answer.get('status') or {}).get('code')} {text[:90]}"


# -- the probes: each returns (HTTP status or a word, what came back) ---------------------------------------------


def deep_pickle(t: Target) -> tuple[Any, str]:
    r = t.post(nested_body(700), **{"content-type": "application/json"})
    return r.status_code, summary(r)


def deep_limit(t: Target) -> tuple[Any, str]:
    r = t.post(nested_body(300))
    return r.status_code, summary(r)


def deep_parser(t: Target) -> tuple[Any, str]:
    r = t.post(nested_body(5000))
    return r.status_code, summary(r)


def big_declared(t: Target) -> tuple[Any, str]:
    r = t.post(b'{"pad": "' + b"x" * (8 * 1024 * 1024) + b'"}')
    return r.status_code, summary(r)


def big_review(t: Target) -> tuple[Any, str]:
    obj = pod()
    obj["metadata"]["annotations"] = {"pad": "x" * (8 * 1024 * 1024)}
    r = t.post(json.dumps(review(obj)).encode())
    return r.status_code, summary(r)


def big_streamed(t: Target) -> tuple[Any, str]:
    chunk = b"x" * 65536
    r = t.post(iter([b'{"pad": "'] + [chunk] * 128 + [b'"}']))
    return r.status_code, summary(r)


def cut_off(t: Target) -> tuple[Any, str]:
    with t.raw() as sock:
        sock.sendall(b"POST /v1/admit HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"{" * 1000)
    return "sent", "announced 100,000 bytes, sent 1,000, closed"


def dribble(t: Target) -> tuple[Any, str]:
    body = json.dumps(review(pod())).encode()
    with t.raw() as sock:
        sock.sendall(b"POST /v1/admit HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        deadline = time.monotonic() + 15
        for i in range(len(body)):
            try:
                sock.sendall(body[i : i + 1])
            except OSError:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
            sock.settimeout(0.01)
            try:
                head = sock.recv(200)
            except (TimeoutError, ssl.SSLError, BlockingIOError):
                continue
            finally:
                sock.settimeout(TIMEOUT)
            return head.split(b"\r\n", 1)[0].decode(errors="replace"), f"answered after {i + 1} bytes"
    return "no answer", "the server waited for the whole dribble"


def huge_integer(t: Target) -> tuple[Any, str]:
    r = t.post(json.dumps(review(pod(extra="N"))).replace('"N"', "9" * 5000).encode())
    return r.status_code, summary(r)


def kind_list(t: Target) -> tuple[Any, str]:
    r = t.post(json.dumps(review(pod(), kind=["Pod"], namespace=7)).encode())
    return r.status_code, summary(r)


def bad_utf8(t: Target) -> tuple[Any, str]:
    r = t.post(json.dumps(review(pod(extra="U"))).encode().replace(b'"U"', b'"\xff\xfe"'))
    return r.status_code, summary(r)


def wide(t: Target) -> tuple[Any, str]:
    r = t.post(json.dumps(review(pod(extra={f"k{i}": i for i in range(200_000)}))).encode())
    return r.status_code, summary(r)


def many_connections(t: Target) -> tuple[Any, str]:
    """Hold 400 connections that send nothing; see how /healthz answers meanwhile (every second, up to 40 s):
    over --max-connections it is 503, until the server closes the idle ones (--idle-timeout)."""
    opened: list[socket.socket] = []
    try:
        for _ in range(400):
            try:
                opened.append(t.raw())
            except OSError:
                break
        started, seen = time.monotonic(), []
        while time.monotonic() - started < 40:
            try:
                status = str(httpx.get(f"{t.url}/healthz", verify=t.verify, timeout=5).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if not seen or seen[-1][0] != status:
                seen.append((status, time.monotonic() - started))
            if status == "200":
                break
            time.sleep(1)
        told = ", then ".join(f"{status} from {at:.0f}s" for status, at in seen)
        return len(opened), f"connections held open; /healthz meanwhile: {told}"
    finally:
        for sock in opened:
            sock.close()


PROBES: list[tuple[str, Callable[[Target], tuple[Any, str]], bool]] = [
    ("nested 700 levels (pickling)", deep_pickle, False),
    ("nested 300 levels (depth limit)", deep_limit, False),
    ("nested 5000 levels (JSON parser)", deep_parser, False),
    ("8 MiB body, Content-Length", big_declared, False),
    ("8 MiB AdmissionReview", big_review, False),
    ("8 MiB body, chunked", big_streamed, False),
    ("body cut off, client gone", cut_off, False),
    ("5,000-digit integer", huge_integer, False),
    ("kind a list, namespace a number", kind_list, False),
    ("invalid UTF-8", bad_utf8, False),
    ("200,000 keys in one mapping", wide, False),
    ("400 idle connections", many_connections, True),
    ("body dribbled 1 byte / 0.5 s", dribble, True),
]


def start_server(
    directory: Path, workers: int, fail_closed: bool, max_depth: int | None
) -> tuple[subprocess.Popen[bytes], str]:
    template = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8sowner"},
        "spec": {
            "crd": {"spec": {"names": {"kind": "K8sOwner"}}},
            "targets": [
                {
                    "target": "admission.k8s.gatekeeper.sh",
                    "code": [{"engine": "Rego", "source": {"rego": OWNER_REGO, "version": "v1"}}],
                }
            ],
        },
    }
    constraint = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sOwner",
        "metadata": {"name": "owner"},
        "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}},
    }
    (directory / "policies.yaml").write_text(yaml.safe_dump_all([template, constraint]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "gatekeeper_py", "serve", "-f", str(directory), "--insecure"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--fail-closed"] if fail_closed else []
    command += ["--max-depth", str(max_depth)] if max_depth else []
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server did not start; its log: {directory / 'server.log'}")


def loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server on this machine (default: start one)")
    parser.add_argument("--deny", type=Path, help="with --url: an AdmissionReview (JSON) that server denies")
    parser.add_argument("--cacert", type=Path, help="with an https --url: the CA to trust")
    parser.add_argument("--workers", type=int, default=1, help="workers of the server started here")
    parser.add_argument("--fail-closed", action="store_true", help="start the server with --fail-closed")
    parser.add_argument("--max-depth", type=int, help="start the server with this --max-depth")
    parser.add_argument("--quick", action="store_true", help="skip the probes that take seconds by design")
    args = parser.parse_args()
    process = None
    with tempfile.TemporaryDirectory(prefix="gatekeeper-py-attack-") as tmp:
        if args.url:
            if not loopback(args.url):
                parser.error("--url must be a loopback address (127.0.0.0/8, ::1 or localhost)")
            if not args.deny:
                parser.error("--url needs --deny REVIEW.json")
            url, deny = args.url.rstrip("/"), json.loads(args.deny.read_text())
        else:
            process, url = start_server(Path(tmp), args.workers, args.fail_closed, args.max_depth)
            deny = review(pod())
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(args.cacert)) if args.cacert else True
        target = Target(url, verify, deny)
        broken = 0
        try:
            ok, _ = target.still_denies()
            print(f"server {url}: the known-deny request is {'denied' if ok else 'NOT denied'} before any probe")
            print(f"{'probe':34} {'status':>7} {'time':>7}  still denies  answer")
            for name, probe, slow in PROBES:
                if slow and args.quick:
                    continue
                started = time.perf_counter()
                try:
                    status, what = probe(target)
                except (httpx.HTTPError, OSError) as exc:
                    status, what = "error", f"{type(exc).__name__}: {exc}"[:100]
                took = time.perf_counter() - started
                denied, deny_time = target.still_denies()
                broken += not denied
                verdict = f"{'yes' if denied else 'NO':3} {deny_time * 1000:5.0f} ms"
                print(f"{name:34} {status!s:>7} {took:6.2f}s  {verdict}  {what}")
        finally:
            target.client.close()
            if process is not None:
                process.terminate()
                process.wait(15)
                log = (Path(tmp) / "server.log").read_text(errors="replace")
                print(f"server log: {log.count('Traceback')} tracebacks, {len(log.splitlines())} lines")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
