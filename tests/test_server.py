"""`gatekeeper-py serve` as a cluster talks to it: the real server over HTTPS on 127.0.0.1, real AdmissionReview
JSON over an HTTP client; worker deaths and deadlines answered by the failure policy; reloads; faults: requests
too deep or too large, policy files that break the loader, a stalled API server. No fixed sleeps: every wait
is for a condition, with a deadline."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import yaml
from conftest import REPO, admission_review, constraint, exec_review, pod, template

LABEL_REGO = """package owner
violation contains {"msg": sprintf("%v has no owner label", [input.review.object.metadata.name])} if {
  not input.review.object.metadata.labels.owner
}
"""
SLOW_REGO = """package slow
violation contains {"msg": "counted"} if {
  count([x | some x in numbers.range(1, input.parameters.n)]) > 0
}
"""
EXEC_REGO = """package noexec
violation contains {"msg": sprintf("exec into %v by %v", [input.review.name, input.review.userInfo.username])} if {
  input.review.operation == "CONNECT"
}
"""
PODS = {"kinds": [{"apiGroups": [""], "kinds": ["Pod"]}]}


def policies(directory: Path, slow_n: int = 3_000_000) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    docs = [
        template("K8sOwner", LABEL_REGO),
        constraint("K8sOwner", "owner", match={**PODS, "namespaces": ["prod"]}),
        constraint("K8sOwner", "owner-warn", match={**PODS, "namespaces": ["dev"]}, action="warn"),
        constraint("K8sOwner", "owner-dry", match={**PODS, "namespaces": ["lab"]}, action="dryrun"),
        template("K8sSlow", SLOW_REGO, schema={"type": "object", "properties": {"n": {"type": "integer"}}}),
        constraint("K8sSlow", "slow", match={**PODS, "namespaces": ["slow"]}, parameters={"n": slow_n}),
        template("K8sNoExec", EXEC_REGO),
        constraint("K8sNoExec", "no-exec", match={"kinds": [{"apiGroups": [""], "kinds": ["PodExecOptions"]}]}),
    ]
    (directory / "policies.yaml").write_text(yaml.safe_dump_all(docs))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    client: httpx.Client
    process: subprocess.Popen[str]
    policy_dir: Path

    def admit(self, review: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post(f"{self.url}/v1/admit", json=review, timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def ready(self) -> dict[str, Any]:
        return self.client.get(f"{self.url}/readyz").json()


@contextlib.contextmanager
def start_server(tmp_path: Path, *flags: str, extra_files: dict[str, str] | None = None) -> Iterator[Server]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ca.crt"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    policy_dir = tmp_path / "policies"
    policies(policy_dir)
    for name, text in (extra_files or {}).items():
        (policy_dir / name).write_text(text)
    port = free_port()
    command = [sys.executable, "-m", "gatekeeper_py", "serve", "-f", str(policy_dir), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--cert-file", str(cert_file), "--key-file", str(key_file)]
    command += ["--workers", "2", "--reload-interval", "0.5", *flags]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = httpx.Client(verify=ssl.create_default_context(cafile=str(ca_file)))
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if client.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not start: {process.stdout.read() if process.stdout else ''}")
        time.sleep(0.2)
    try:
        yield Server(url, client, process, policy_dir)
    finally:
        client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start_server(tmp_path_factory.mktemp("server"), "--timeout", "20", "--fail-closed") as running:
        yield running


def test_create_denied_with_gatekeepers_response(server: Server) -> None:
    review = admission_review("CREATE", pod("web", "prod"))
    answer = server.admit(review)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    assert answer["response"] == {
        "uid": review["request"]["uid"],
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": "[owner] web has no owner label"},
    }


def test_warn_and_dryrun_and_compliant(server: Server) -> None:
    warned = server.admit(admission_review("CREATE", pod("web", "dev")))["response"]
    assert warned["allowed"] is True and warned["status"] == {"code": 299}
    assert warned["warnings"] == ["[owner-warn] web has no owner label"]
    dry = server.admit(admission_review("CREATE", pod("web", "lab")))["response"]
    assert dry == {"uid": dry["uid"], "allowed": True, "status": {"code": 200}}
    fine = server.admit(admission_review("CREATE", pod("web", "prod", labels={"owner": "me"})))["response"]
    assert fine["allowed"] is True


def test_update_delete_connect_and_dry_run_requests(server: Server) -> None:
    labelled = pod("web", "prod", labels={"owner": "me"})
    assert server.admit(admission_review("UPDATE", pod("web", "prod"), labelled))["response"]["allowed"] is False
    deleted = server.admit(admission_review("DELETE", None, pod("web", "prod")))["response"]
    assert deleted["status"]["message"] == "[owner] web has no owner label"
    connect = server.admit(exec_review("prod"))["response"]
    assert connect["allowed"] is False and connect["status"]["message"].startswith("[no-exec] exec into ")
    dry_run = admission_review("CREATE", pod("web", "prod"))
    dry_run["request"]["dryRun"] = True
    assert server.admit(dry_run)["response"]["allowed"] is False  # judged like any other request
    broken_delete = admission_review("DELETE", None, None)
    answer = server.admit(broken_delete)["response"]
    assert answer["allowed"] is False and answer["status"]["code"] == 500


def test_v1beta1_is_answered_in_v1beta1(server: Server) -> None:
    review = admission_review("CREATE", pod("web", "prod"))
    review["apiVersion"] = "admission.k8s.io/v1beta1"
    assert server.admit(review)["apiVersion"] == "admission.k8s.io/v1beta1"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "the body is not JSON"),
        ('{"kind": "Pod"}', "the body is not an AdmissionReview"),
        (json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v2"}), "unsupported apiVersion"),
        (json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}), "request.uid is required"),
    ],
)
def test_malformed_bodies_get_400_with_a_reason(server: Server, body: str, reason: str) -> None:
    answer = server.client.post(f"{server.url}/v1/admit", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(reason)


def test_health_and_metrics(server: Server) -> None:
    assert server.client.get(f"{server.url}/healthz").text == "ok"
    ready = server.ready()
    assert ready["ready"] is True and len(ready["workers"]) == 2
    server.admit(admission_review("CREATE", pod("web", "prod")))
    metrics = server.client.get(f"{server.url}/metrics").text
    assert 'gatekeeper_py_validation_request_count_total{admission_status="deny"}' in metrics
    assert "gatekeeper_py_validation_request_duration_seconds_bucket" in metrics


def test_a_worker_killed_mid_request_costs_only_that_request(server: Server) -> None:
    import threading

    slow = admission_review("CREATE", pod("big", "slow"))
    answers: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: answers.append(server.admit(slow)))
    before = set(server.ready()["workers"])
    thread.start()
    assert _wait_busy(before)  # the slow review is now running in one worker
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    # dead workers are not listed as ready, even before a request finds them dead
    assert _eventually(lambda: not before & set(server.client.get(f"{server.url}/readyz").json()["workers"]))
    thread.join(timeout=30)
    [answer] = answers
    assert answer["response"]["allowed"] is False  # --fail-closed
    assert "the engine worker died" in answer["response"]["status"]["message"]
    # the server keeps answering, with fresh workers
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        reply = server.admit(admission_review("CREATE", pod("web", "prod")))["response"]
        if reply.get("status", {}).get("code") == 403:
            break
        time.sleep(0.5)
    assert reply["status"]["message"] == "[owner] web has no owner label"
    assert not before & set(server.ready()["workers"])
    assert _eventually(lambda: len(server.ready()["workers"]) == 2)
    assert _metric(server, 'gatekeeper_py_worker_restarts_total{reason="died"}') >= 2
    assert _metric(server, 'gatekeeper_py_failure_policy_answers_total{policy="fail_closed"}') >= 1


def test_an_idle_worker_that_dies_is_replaced_without_waiting_for_a_request(server: Server) -> None:
    assert _eventually(lambda: len(server.ready()["workers"]) == 2)
    victim, other = server.ready()["workers"]
    before = _metric(server, 'gatekeeper_py_worker_restarts_total{reason="died"}')
    os.kill(victim, signal.SIGKILL)
    assert _eventually(lambda: len(server.ready()["workers"]) == 2 and victim not in server.ready()["workers"])
    assert other in server.ready()["workers"]
    assert _metric(server, 'gatekeeper_py_worker_restarts_total{reason="died"}') == before + 1


def test_a_runaway_evaluation_hits_the_deadline_and_fails_open(tmp_path: Path) -> None:
    with start_server(tmp_path, "--timeout", "1", "--fail-open") as running:
        answer = running.admit(admission_review("CREATE", pod("big", "slow")))["response"]
        assert answer["allowed"] is True
        assert answer["warnings"][0].startswith("gatekeeper-py could not evaluate the request: the evaluation did not")
        assert running.admit(admission_review("CREATE", pod("web", "prod")))["response"]["allowed"] is False


def test_exempt_namespaces_and_reload(tmp_path: Path) -> None:
    with start_server(tmp_path, "--exempt-namespace", "kube-*") as running:
        assert running.admit(admission_review("CREATE", pod("web", "kube-system")))["response"]["allowed"] is True
        assert running.admit(admission_review("CREATE", pod("web", "staging")))["response"]["allowed"] is True
        # a new constraint in a new file is picked up...
        extra = constraint("K8sOwner", "owner-staging", match={**PODS, "namespaces": ["staging"]})
        (running.policy_dir / "extra.yaml").write_text(yaml.safe_dump(extra))
        assert _eventually(
            lambda: not running.admit(admission_review("CREATE", pod("web", "staging")))["response"]["allowed"]
        )
        # ... and a broken template is refused: the previous policies stay in force
        (running.policy_dir / "broken.yaml").write_text(
            yaml.safe_dump(template("K8sBroken", "package broken\nviolation {"))
        )
        assert _eventually(lambda: "broken.yaml" in (running.ready()["lastError"] or ""))
        assert running.ready()["stale"] is True
        assert running.admit(admission_review("CREATE", pod("web", "staging")))["response"]["allowed"] is False
        assert "policy reload rejected" in _stop_and_read(running)


def _eventually(check: Any, seconds: float = 30, every: float = 0.3) -> bool:
    """Whether `check()` comes true within `seconds` (asked every `every` seconds)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_busy(pids: set[int], seconds: float = 30) -> bool:
    """Wait until one of `pids` has used 0.05 s of CPU more than now (an idle worker uses none): it is evaluating
    a request."""
    start = {pid: _cpu_seconds(pid) for pid in pids}
    return _eventually(lambda: any(_cpu_seconds(pid) - start[pid] >= 0.05 for pid in pids), seconds, 0.02)


def _metric(running: Server, sample: str) -> float:
    """The value of one Prometheus sample (`name{labels}`) in /metrics, 0 when absent."""
    for line in running.client.get(f"{running.url}/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _stop_and_read(running: Server) -> str:
    running.client.close()
    running.process.send_signal(signal.SIGINT)
    out, _ = running.process.communicate(timeout=15)
    return out


def test_serve_refuses_plain_http_without_insecure() -> None:
    from conftest import run_cli

    run = run_cli("serve", "-f", "templates")
    assert run.returncode == 2
    assert "--cert-file and --key-file" in run.stderr


def test_policies_from_the_cluster_are_reloaded_when_they_change(fake_cluster: Any) -> None:
    from fake_cluster import fake_cluster as fixture_function

    kubeconfig, _ = fake_cluster
    responses = fixture_function.responses
    port = free_port()
    command = [sys.executable, "-m", "gatekeeper_py", "serve", "--cluster", "--kubeconfig", str(kubeconfig)]
    command += ["--insecure", "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--reload-interval", "0.5"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client() as client:
            assert _eventually(lambda: _ready(client, url), 90)

            def allowed(namespace: str) -> bool:
                review = admission_review("CREATE", pod("web", namespace))
                return client.post(f"{url}/v1/admit", json=review, timeout=30).json()["response"]["allowed"]

            assert allowed("shop") is False  # the cluster's K8sOwner constraint matches every Pod
            listed = responses["/apis/constraints.gatekeeper.sh/v1beta1/k8sowner"]
            limited = constraint("K8sOwner", "owner", match={**PODS, "namespaces": ["prod"]})
            limited["metadata"]["resourceVersion"] = "2"
            listed["items"] = [limited]
            assert _eventually(lambda: allowed("shop"))
            assert allowed("prod") is False
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)


def _ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_the_deadline_covers_waiting_for_a_free_worker(tmp_path: Path) -> None:
    """One worker, busy with an 8-second review: a request that has to wait for it is answered within its own
    deadline (by the failure policy, or by the replacement worker if that is up in time), not after 8 seconds."""
    import threading

    with start_server(tmp_path, "--timeout", "1.5", "--fail-closed", "--workers", "1") as running:
        slow: list[dict[str, Any]] = []
        thread = threading.Thread(
            target=lambda: slow.append(running.admit(admission_review("CREATE", pod("b", "slow"))))
        )
        thread.start()
        assert _wait_busy(set(running.ready()["workers"]))
        started = time.monotonic()
        waiting = running.admit(admission_review("CREATE", pod("web", "prod")))["response"]
        elapsed = time.monotonic() - started
        thread.join(timeout=30)
        assert elapsed < 5  # its own 1.5 s deadline and a loaded machine's overhead; not the slow review's 8 s
        assert waiting["allowed"] is False
        message = waiting["status"]["message"]
        assert "no engine worker was free within 1.5s" in message or message == "[owner] web has no owner label"
        assert "did not finish within 1.5s" in slow[0]["response"]["status"]["message"]


def test_workers_are_retired_after_max_reviews(tmp_path: Path) -> None:
    """The retiring worker serves until its replacement is ready: even with one worker, no request meanwhile
    gets the failure policy (here --fail-open, which would admit)."""
    with start_server(tmp_path, "--max-reviews-per-worker", "2", "--workers", "1", "--timeout", "1") as running:
        first = running.ready()["workers"]
        for _ in range(2):
            assert running.admit(admission_review("CREATE", pod("web", "prod")))["response"]["allowed"] is False

        def replaced() -> bool:
            assert running.admit(admission_review("CREATE", pod("web", "prod")))["response"]["allowed"] is False
            workers = running.ready()["workers"]
            return bool(workers) and workers != first

        assert _eventually(replaced, 60, 0.05)
        assert _metric(running, "gatekeeper_py_failure_policy_answers_total") == 0
        assert _metric(running, 'gatekeeper_py_worker_restarts_total{reason="retired"}') >= 1


def test_unreadable_or_bad_certificates_are_one_clear_error(tmp_path: Path) -> None:
    from conftest import run_cli

    missing = run_cli("serve", "-f", "templates", "--cert-file", str(tmp_path / "no.crt"), "--key-file", "x.key")
    assert missing.returncode == 2
    assert missing.stderr == f"error: {tmp_path / 'no.crt'}: cannot read: No such file or directory\n"
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    bad = run_cli("serve", "-f", "templates", "--cert-file", str(empty), "--key-file", str(empty), "--port", "0")
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"error: {empty}, {empty}: not a usable certificate and key: ")


# --- faults: requests too deep or too large, policy files that break the loader, a stalled API server ---


def _nested(depth: int) -> dict[str, Any]:
    """A mapping nested `depth` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _deep_pod_review(depth: int) -> dict[str, Any]:
    obj = pod("deep", "prod")
    obj["spec"]["extra"] = _nested(depth)
    return admission_review("CREATE", obj)


def test_requests_too_deep_or_too_large_are_refused_before_a_worker(server: Server) -> None:
    before = _metric(server, 'gatekeeper_py_engine_failures_total{reason="too_deep"}')
    deep = server.admit(_deep_pod_review(300))["response"]
    assert deep["allowed"] is False  # --fail-closed: refused, with the reason
    assert deep["status"]["message"].endswith("the request is nested deeper than 200 levels")
    assert _metric(server, 'gatekeeper_py_engine_failures_total{reason="too_deep"}') == before + 1
    # deeper than json.loads goes: a 400, as for any body that is no AdmissionReview
    body = json.dumps(admission_review("CREATE", pod("deep", "prod", extra="DEEP")))
    body = body.replace('"DEEP"', '{"a": ' * 2000 + "{}" + "}" * 2000)
    answer = server.client.post(f"{server.url}/v1/admit", content=body, timeout=30)
    assert answer.status_code == 400 and "nested deeper than 200 levels" in answer.json()["error"]
    # over the size limit, declared or streamed in chunks: 413, before anything is parsed...
    big = b'{"kind": "AdmissionReview", "pad": "' + b"x" * (7 * 1024 * 1024) + b'"}'
    assert server.client.post(f"{server.url}/v1/admit", content=big, timeout=30).status_code == 413
    chunks = iter([big[i : i + 65536] for i in range(0, len(big), 65536)])
    assert server.client.post(f"{server.url}/v1/admit", content=chunks, timeout=30).status_code == 413
    # ... but an AdmissionReview as the API server writes it (kind, apiVersion, then the request's uid first) is
    # answered by the failure policy, so the user sees why
    huge = pod("huge", "prod")
    huge["metadata"]["annotations"] = {"pad": "x" * (7 * 1024 * 1024)}
    review = admission_review("CREATE", huge)
    body = json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": review["request"]})
    answer = server.client.post(f"{server.url}/v1/admit", content=body.encode(), timeout=30)
    assert answer.status_code == 200
    assert answer.json()["response"] == {
        "uid": review["request"]["uid"],
        "allowed": False,
        "status": {
            "code": 500,
            "message": "gatekeeper-py could not evaluate the request: the request is larger than 7340032 bytes",
        },
    }
    # and the workers are all still there
    assert server.admit(admission_review("CREATE", pod("web", "prod")))["response"]["status"]["code"] == 403
    assert len(server.ready()["workers"]) == 2


def test_a_request_that_cannot_be_sent_to_a_worker_leaves_the_worker_in_the_pool(tmp_path: Path) -> None:
    """Allowed deeper than pickling goes (--max-depth 2000): sending fails with RecursionError. Before, the worker
    never came back, and with every worker lost all later requests got the failure policy."""
    flags = ("--max-depth", "2000", "--workers", "1", "--fail-open", "--idle-timeout", "1")
    with start_server(tmp_path, *flags) as running:
        _idle_connection_is_closed(running)
        for _ in range(3):
            answer = running.admit(_deep_pod_review(700))["response"]
            assert answer["allowed"] is True  # --fail-open: admitted, with the reason as a warning
            assert answer["warnings"] == [
                "gatekeeper-py could not evaluate the request: the request cannot be handed to an engine worker: "
                "RecursionError"
            ]
        denied = running.admit(admission_review("CREATE", pod("web", "prod")))["response"]
        assert denied["status"]["code"] == 403  # a lost worker would have made it a fail-open admission
        assert _metric(running, 'gatekeeper_py_engine_failures_total{reason="unsendable"}') == 3
        assert _metric(running, 'gatekeeper_py_failure_policy_answers_total{policy="fail_open"}') == 3
        assert _metric(running, "gatekeeper_py_worker_restarts_total") == 0


def _idle_connection_is_closed(running: Server) -> None:
    """A connection that never sends a request is closed after --idle-timeout (uvicorn alone keeps it for ever,
    counted against --max-connections)."""
    host, port = running.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(running.policy_dir.parent / "ca.crt"))
    with socket.create_connection((host, int(port))) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
        tls.settimeout(20)  # the deadline; the server should close it after about 1 s
        started = time.monotonic()
        with contextlib.suppress(ssl.SSLError):  # closed without a TLS close_notify: closed all the same
            assert tls.recv(100) == b""
        assert time.monotonic() - started < 15


BAD_POLICY_FILES = {
    "deep.json": "[" * 100_000 + "]" * 100_000,  # libyaml overflows the C stack on it
    "bigint.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {n: " + "9" * 5000 + "}\n",
    "alias.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: loop}\ndata: &a {a: *a}\n",
    "listkind.yaml": yaml.safe_dump({**constraint("K8sOwner", "listed"), "kind": ["K8sOwner"]}),
}


def test_policy_files_that_break_the_loader_are_named_and_the_rest_loads(tmp_path: Path) -> None:
    from gatekeeper_py.server.policies import PolicySource

    policies(tmp_path)
    for name, text in BAD_POLICY_FILES.items():
        (tmp_path / name).write_text(text)
    docs, errors = PolicySource([str(tmp_path)]).read()
    assert {d.obj["metadata"]["name"] for d in docs} >= {"owner", "k8sowner", "listed"}
    named = [str(tmp_path / n) for n in ("alias.yaml", "bigint.yaml", "deep.json")]
    assert [e.split(": ", 1)[0] for e in errors] == named  # whatever the loader raises (or crashes on)
    assert "5000 di" in errors[1]


def _aborting_reader(conn: Any, paths: list[str]) -> None:
    os.abort()  # as a C extension overflowing its stack would end the process: no exception to catch


def test_a_crash_while_reading_policy_files_costs_only_the_reader_process(tmp_path: Path) -> None:
    from gatekeeper_py.server import policies as source_module

    with pytest.raises(source_module._ReaderCrashed, match=r"the parser crashed \(exit code -6\)"):
        source_module._read_isolated([str(tmp_path)], reader=_aborting_reader)


def test_strict_refuses_to_start_unless_every_policy_loads(tmp_path: Path) -> None:
    from conftest import run_cli

    policies(tmp_path)
    (tmp_path / "listkind.yaml").write_text(BAD_POLICY_FILES["listkind.yaml"])
    run = run_cli("serve", "-f", str(tmp_path), "--insecure", "--strict", "--port", "0")
    assert run.returncode == 2
    assert run.stderr.startswith(f"error: {tmp_path / 'listkind.yaml'}")
    assert run.stderr.count("\n") == 1


def test_reloads_survive_any_loader_failure_and_keep_watching(tmp_path: Path) -> None:
    """At start-up a bad file is reported and the rest serves; later, each bad file is a rejected reload (logged
    with the file and the reason), the previous policies stay, and a good edit after them is still applied."""
    startup_bad = {"listkind.yaml": BAD_POLICY_FILES["listkind.yaml"]}
    with start_server(tmp_path, "--workers", "1", extra_files=startup_bad) as running:
        server_pid = running.process.pid
        ready = running.ready()
        assert ready["lastError"].startswith(f"1 policy not loaded: {running.policy_dir / 'listkind.yaml'}")
        assert running.admit(admission_review("CREATE", pod("web", "prod")))["response"]["allowed"] is False
        (running.policy_dir / "listkind.yaml").unlink()
        for name in ("deep.json", "bigint.yaml", "alias.yaml"):
            (running.policy_dir / name).write_text(BAD_POLICY_FILES[name])
            assert _eventually(lambda n=name: n in (running.ready()["lastError"] or ""))  # type: ignore[misc]
            assert running.ready()["stale"] is True
            assert running.admit(admission_review("CREATE", pod("web", "prod")))["response"]["allowed"] is False
            (running.policy_dir / name).unlink()
        _disconnect_mid_body(running)
        extra = constraint("K8sOwner", "owner-staging", match={**PODS, "namespaces": ["staging"]})
        (running.policy_dir / "extra.yaml").write_text(yaml.safe_dump(extra))
        assert _eventually(
            lambda: not running.admit(admission_review("CREATE", pod("web", "staging")))["response"]["allowed"]
        )
        assert running.ready()["stale"] is False and running.ready()["lastError"] is None
        # no worker left behind by the rejected reloads: the server's one worker is its only spawned child
        assert _eventually(lambda: len(_spawned_children(server_pid)) == 1)
        # (more than 3 when a poll catches a bad file half-written)
        assert _metric(running, 'gatekeeper_py_policy_reloads_total{result="rejected"}') >= 3
        log = _stop_and_read(running)
    for name in BAD_POLICY_FILES:
        assert f"{running.policy_dir / name}" in log
    assert "Traceback" not in log  # nor for the client that went away mid-body


def _spawned_children(pid: int) -> list[int]:
    """The processes `pid` started with multiprocessing's spawn (its workers and policy readers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def _disconnect_mid_body(running: Server) -> None:
    """A client that announces a body and leaves after half of it."""
    host, port = running.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(running.policy_dir.parent / "ca.crt"))
    with socket.create_connection((host, int(port))) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(b"POST /v1/admit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        tls.sendall(b"Content-Length: 1000\r\n\r\n" + b"{" * 500)
    assert running.client.get(f"{running.url}/healthz").text == "ok"


def test_serve_from_a_stalled_cluster_keeps_answering_with_the_last_policies(fake_cluster: Any) -> None:
    """The API server stops answering: health and admission keep answering at once, with the policies last read;
    /readyz says they are stale and why; once the API server answers again the note goes away."""
    from fake_cluster import fake_cluster as fixture_function

    kubeconfig, _ = fake_cluster
    faults = fixture_function.faults
    port = free_port()
    command = [sys.executable, "-m", "gatekeeper_py", "serve", "--cluster", "--kubeconfig", str(kubeconfig)]
    command += ["--insecure", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--reload-interval", "0.3", "--cluster-timeout", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=10) as client:
            assert _eventually(lambda: _ready(client, url), 90)

            def denied() -> bool:
                review = admission_review("CREATE", pod("web", "shop"))
                return client.post(f"{url}/v1/admit", json=review).json()["response"]["allowed"] is False

            assert denied()
            faults.stall.set()
            assert _eventually(lambda: client.get(f"{url}/readyz").json()["stale"], 30, 0.1)
            ready = client.get(f"{url}/readyz")
            assert ready.status_code == 200 and ready.json()["ready"] is True
            assert ready.json()["lastError"].startswith("cannot read the policies: cluster: GET /apis/")
            assert ready.json()["lastError"].endswith("Read timed out. (read timeout=1.0)) (after 3 tries)")
            for _ in range(5):  # answered while a listing hangs in its thread (on the loop, they waited 4.5 s)
                started = time.monotonic()
                assert client.get(f"{url}/healthz").text == "ok" and denied()
                assert time.monotonic() - started < 2
            faults.stall.clear()
            faults.release.set()
            assert _eventually(lambda: not client.get(f"{url}/readyz").json()["stale"], 30, 0.1)
            assert denied()
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
    assert "ERROR gatekeeper_py.server: cannot read the policies: cluster: GET /apis/" in out, out
    assert "the policy source answers again" in out


def test_serve_started_while_the_cluster_is_down_becomes_ready_when_it_answers(fake_cluster: Any) -> None:
    from fake_cluster import fake_cluster as fixture_function

    kubeconfig, _ = fake_cluster
    fixture_function.faults.status["/apis"] = 503
    port = free_port()
    command = [sys.executable, "-m", "gatekeeper_py", "serve", "--cluster", "--kubeconfig", str(kubeconfig)]
    command += ["--insecure", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--reload-interval", "0.3", "--cluster-timeout", "0.5"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=10) as client:

            def readyz() -> httpx.Response | None:
                try:
                    return client.get(f"{url}/readyz")
                except httpx.TransportError:
                    return None

            assert _eventually(lambda: readyz() is not None, 90)
            answer = readyz()
            assert answer is not None and answer.status_code == 503
            assert answer.json()["lastError"] == (
                "cannot read the policies: cluster: GET /apis: 503 Service Unavailable (after 3 tries)"
            )
            review = admission_review("CREATE", pod("web", "shop"))
            refused = client.post(f"{url}/v1/admit", json=review).json()["response"]
            assert refused["warnings"] == ["gatekeeper-py could not evaluate the request: no policies are loaded"]
            del fixture_function.faults.status["/apis"]
            assert _eventually(lambda: _ready(client, url), 60)
            assert client.post(f"{url}/v1/admit", json=review).json()["response"]["allowed"] is False
            assert client.get(f"{url}/readyz").json()["stale"] is False
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
