"""The catalogue's CEL stays within cel-cpp's 10,000 comprehension iterations per evaluation on big but legitimate
objects: each template whose message lists are sorted in CEL gives, on such an object, the same messages under
`--engine auto` (its CEL) as under `--engine rego`, and no evaluation error. (Over the budget, CEL either fails
or falls back to the plain `message`, so the two engines disagree.)"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import REPO

from gatekeeper_py import Client

LIBRARY = REPO / "library"
# Linux capability names, shuffled so that no list below is already sorted.
CAPABILITIES = [
    "SYS_TIME", "AUDIT_WRITE", "NET_RAW", "SYS_PTRACE", "BPF", "LEASE", "SETUID", "SYS_MODULE", "IPC_LOCK",
    "MKNOD", "SYS_NICE", "PERFMON", "CHOWN", "SYS_BOOT", "DAC_OVERRIDE", "WAKE_ALARM", "NET_ADMIN", "SETGID",
    "SYS_RAWIO", "FOWNER", "SYSLOG", "KILL", "SYS_CHROOT", "MAC_ADMIN", "AUDIT_READ", "SETPCAP", "FSETID",
    "SYS_RESOURCE", "IPC_OWNER", "NET_BROADCAST", "SYS_TTY_CONFIG", "MAC_OVERRIDE", "SETFCAP", "AUDIT_CONTROL",
    "DAC_READ_SEARCH", "LINUX_IMMUTABLE", "SYS_PACCT", "BLOCK_SUSPEND", "CHECKPOINT_RESTORE", "SYS_ADMIN",
]  # fmt: skip


def _constraint(kind: str, parameters: dict[str, Any] | None = None, kinds: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"match": {"kinds": [{"apiGroups": [""], "kinds": kinds or ["Pod"]}]}}
    if parameters is not None:
        spec["parameters"] = parameters
    return {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": kind,
        "metadata": {"name": "big"},
        "spec": spec,
    }


def _pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    annotations = spec.pop("annotations", {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "big", "namespace": "default", "annotations": annotations},
        "spec": {"containers": containers, **spec},
    }


def _container(name: str, add: list[str] | None = None, drop: list[str] | None = None) -> dict[str, Any]:
    capabilities = {k: v for k, v in (("add", add), ("drop", drop)) if v is not None}
    return {"name": name, "image": "registry.example.com/app:1", "securityContext": {"capabilities": capabilities}}


def _messages(engine: str, template: str, constraint: dict[str, Any], thing: dict[str, Any]) -> list[str]:
    client = Client(engine=engine)
    client.add_template(yaml.safe_load((LIBRARY / template / "template.yaml").read_text()))
    client.add_constraint(constraint)
    results = client.review(thing).results
    assert not [r.msg for r in results if r.error]
    return sorted(r.msg for r in results)


def _parts(messages: list[str]) -> set[str]:
    """The "; "-separated parts of the messages. A CEL validation gives one message naming every offender (joined
    by "; ", as a ValidatingAdmissionPolicy does), where Rego gives one per offender, each with the same tail."""
    return {part for message in messages for part in message.split("; ")}


def _same_under_both_engines(template: str, constraint: dict[str, Any], thing: dict[str, Any]) -> list[str]:
    """The CEL messages, after checking that they say what Rego's say and that nothing failed to evaluate."""
    cel = _messages("auto", template, constraint, thing)
    assert cel, "the object is meant to violate the constraint"
    assert not [m for m in cel if "resulted in error" in m or "Iteration budget" in m]
    rego = _messages("rego", template, constraint, thing)
    assert _parts(cel) == _parts(rego)
    return cel


CASES = {
    # The case first reported: 30 distinct drops, none of them ALL (27,000 iterations before).
    "capabilities-restricted: one container drops 30": (
        "pod-security/capabilities-restricted",
        _constraint("K8sPssCapabilitiesRestricted"),
        _pod([_container("app", drop=CAPABILITIES[:30])]),
    ),
    "capabilities-restricted: 20 containers add 10 and drop 10": (
        "pod-security/capabilities-restricted",
        _constraint("K8sPssCapabilitiesRestricted"),
        _pod(
            [_container(f"c{i}", add=CAPABILITIES[i : i + 10], drop=CAPABILITIES[i + 10 : i + 20]) for i in range(20)]
        ),
    ),
    "capabilities: one container adds 30": (
        "general/capabilities",
        _constraint("K8sCapabilities", {"allowedCapabilities": ["CHOWN"], "requiredDropCapabilities": ["NET_RAW"]}),
        _pod([_container("app", add=CAPABILITIES[:30], drop=["NET_RAW"])]),
    ),
    "capabilities: 20 containers add 10, half of them missing 3 required drops": (
        "general/capabilities",
        _constraint(
            "K8sCapabilities",
            {"allowedCapabilities": ["NET_BIND_SERVICE"], "requiredDropCapabilities": CAPABILITIES[20:26]},
        ),
        _pod(
            [
                _container(f"c{i}", add=CAPABILITIES[i : i + 10], drop=CAPABILITIES[20 : 23 + i % 2 * 3])
                for i in range(20)
            ],
            initContainers=[_container(f"init{i}", add=CAPABILITIES[:10], drop=["ALL"]) for i in range(5)],
        ),
    ),
    "capabilities-baseline: 20 containers add 12 outside the default set": (
        "pod-security/capabilities-baseline",
        _constraint("K8sPssCapabilitiesBaseline"),
        _pod([_container(f"c{i}", add=CAPABILITIES[i % 5 : i % 5 + 20]) for i in range(20)]),
    ),
    "volume-types: 100 volumes of refused types": (
        "pod-security/volume-types",
        _constraint("K8sPssVolumeTypes"),
        _pod(
            [_container("app")],
            volumes=[
                {"name": f"v{i:03d}", "hostPath": {"path": f"/data/{i}"}}
                if i % 2
                else {"name": f"v{i:03d}", "nfs": {"server": "nfs.example.com", "path": "/"}}
                for i in range(100)
            ],
        ),
    ),
    "apparmor: 40 containers with unconfined annotations": (
        "pod-security/apparmor",
        _constraint("K8sPssAppArmor"),
        _pod(
            [_container(f"c{i:02d}") for i in range(40)],
            annotations={
                f"container.apparmor.security.beta.kubernetes.io/c{i * 7 % 40:02d}": "unconfined" for i in range(40)
            },
        ),
    ),
    "security-profile: 20 containers, capabilities, volumes, annotations": (
        "general/security-profile",
        _constraint(
            "K8sSecurityProfile",
            {
                "allowedCapabilities": ["NET_BIND_SERVICE"],
                "requiredDropCapabilities": CAPABILITIES[30:38],
                "allowedVolumes": ["configMap", "secret"],
                "allowedAppArmor": ["runtime/default"],
            },
        ),
        _pod(
            [
                _container(f"c{i:02d}", add=CAPABILITIES[i % 10 : i % 10 + 10], drop=CAPABILITIES[30 : 33 + i % 2 * 5])
                for i in range(20)
            ],
            volumes=[{"name": f"v{i:02d}", "emptyDir": {}} for i in range(50)],
            annotations={f"container.apparmor.security.beta.kubernetes.io/c{i:02d}": "unconfined" for i in range(20)},
        ),
    ),
    # Small, but with repeats: each name once, sorted, as Rego shows a set (CEL showed the list as written).
    "security-profile: repeated capability names": (
        "general/security-profile",
        _constraint(
            "K8sSecurityProfile",
            {"allowedCapabilities": ["CHOWN"], "requiredDropCapabilities": ["SYS_TIME", "NET_RAW", "SYS_TIME", "BPF"]},
        ),
        _pod([_container("app", add=["SYS_TIME", "BPF", "SYS_TIME", "AUDIT_WRITE"], drop=["BPF"])]),
    ),
    "security-profile: 50 containers with 10 mounts, 30 read-only host paths": (
        "general/security-profile",
        _constraint("K8sSecurityProfile", {"allowedHostPaths": [{"pathPrefix": "/var/log", "readOnly": True}]}),
        _pod(
            [
                {
                    "name": f"c{i:02d}",
                    "image": "registry.example.com/app:1",
                    "volumeMounts": [{"name": f"logs{i % 30:02d}", "mountPath": "/logs", "readOnly": i % 10 != 0}]
                    + [{"name": f"scratch{j}", "mountPath": f"/scratch/{j}"} for j in range(9)],
                }
                for i in range(50)
            ],
            volumes=[{"name": f"logs{k:02d}", "hostPath": {"path": f"/var/log/app{k}"}} for k in range(30)]
            + [{"name": f"scratch{j}", "emptyDir": {}} for j in range(9)],
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_big_object_gives_the_same_messages_under_cel_and_rego(case: str) -> None:
    template, constraint, pod = CASES[case]
    _same_under_both_engines(template, constraint, pod)


def test_the_first_reported_case_lists_every_drop_sorted() -> None:
    """Not the plain `message` fallback: the messageExpression's full, sorted list."""
    template, constraint, pod = CASES["capabilities-restricted: one container drops 30"]
    (message,) = _same_under_both_engines(template, constraint, pod)
    assert f'container "app" drops only {", ".join(sorted(CAPABILITIES[:30]))};' in message


def test_exec_by_a_user_in_40_listed_groups_names_them_sorted() -> None:
    groups = [f"team-{(i * 7) % 40:02d}" for i in range(40)]
    request = {
        "uid": "1",
        "kind": {"group": "", "version": "v1", "kind": "PodExecOptions"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "subResource": "exec",
        "name": "web",
        "namespace": "dev",
        "operation": "CONNECT",
        "userInfo": {"username": "bob", "groups": ["system:authenticated", *groups, groups[0]]},
        "object": {"apiVersion": "v1", "kind": "PodExecOptions", "command": ["sh"]},
    }
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    constraint = _constraint("K8sDenyExec", {"groups": groups}, kinds=["PodExecOptions"])
    (message,) = _same_under_both_engines("general/deny-exec", constraint, review)
    assert message.endswith("; ".join(f'group "{g}" is listed in groups' for g in sorted(groups)))
