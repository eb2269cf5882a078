"""The Kubernetes manifests (k8s/base), without a cluster: every resource validates strictly
against the Kubernetes API schemas (kubernetes-validate), the kustomization lists them all,
and the containers' own arguments run: a `cuvee server` started with the StatefulSet's
arguments applies the tables ConfigMap, and a `cuvee broker` started with the Deployment's
finds it through DNS (the headless Service's job) and answers for its table.

Needs CUVEE_BIN (the cuvee binary); scripts/test.sh sets it."""

import base64
import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.request

import kubernetes_validate
import pytest
import yaml

from cuvee_http import wait_for_health
from kafka_broker import free_port

BASE = os.path.join(os.path.dirname(__file__), "..", "..", "k8s", "base")
KUBERNETES_VERSION = "1.31.0"


def documents():
    with open(os.path.join(BASE, "kustomization.yaml")) as f:
        kustomization = yaml.safe_load(f)
    out = {}
    for name in kustomization["resources"]:
        with open(os.path.join(BASE, name)) as f:
            out[name] = [d for d in yaml.safe_load_all(f) if d]
    return kustomization, out


def test_the_kustomization_lists_every_manifest():
    kustomization, _ = documents()
    on_disk = sorted(f for f in os.listdir(BASE) if f.endswith(".yaml") and f != "kustomization.yaml")
    assert sorted(kustomization["resources"]) == on_disk


def test_every_resource_validates_against_the_kubernetes_schemas():
    _, manifests = documents()
    kinds = []
    for name, docs in manifests.items():
        for doc in docs:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            kinds.append(doc["kind"])
    assert sorted(kinds) == sorted(["ConfigMap", "ConfigMap", "Service", "Service", "StatefulSet", "PodDisruptionBudget", "Deployment"])


def container(manifests, file):
    (workload,) = manifests[file]
    (c,) = workload["spec"]["template"]["spec"]["containers"]
    return workload, c


def test_probes_and_ports_line_up():
    _, manifests = documents()
    for file in ["server-statefulset.yaml", "broker-deployment.yaml"]:
        _, c = container(manifests, file)
        ports = {p["name"] for p in c["ports"]}
        for probe in ["readinessProbe", "livenessProbe"]:
            assert c[probe]["httpGet"]["port"] in ports and c[probe]["httpGet"]["path"] == "/health"
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    statefulset, _ = container(manifests, "server-statefulset.yaml")
    (service,) = manifests["server-headless-service.yaml"]
    assert service["spec"]["clusterIP"] == "None" and statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    (config,) = manifests["config.yaml"]
    assert int(config["data"]["CUVEE_SERVER_COUNT"]) == statefulset["spec"]["replicas"]
    assert 1 <= int(config["data"]["CUVEE_REPLICAS"]) <= statefulset["spec"]["replicas"]
    _, broker = container(manifests, "broker-deployment.yaml")
    assert f"--servers=dns:{service['metadata']['name']}:8090" in broker["args"]


def local(args, replacements):
    out = []
    for arg in args:
        for old, new in replacements.items():
            arg = arg.replace(old, new)
        out.append(arg)
    return out


def test_the_containers_arguments_run_and_the_broker_finds_servers_by_dns():
    binary = os.environ.get("CUVEE_BIN")
    if not binary:
        pytest.skip("CUVEE_BIN names the cuvee binary")
    _, manifests = documents()
    _, server = container(manifests, "server-statefulset.yaml")
    _, broker = container(manifests, "broker-deployment.yaml")
    (tables,) = manifests["tables.yaml"]
    (config,) = manifests["config.yaml"]
    root = tempfile.mkdtemp(prefix="cuvee-k8s-")
    tables_dir = os.path.join(root, "tables")
    os.makedirs(tables_dir)
    for key, text in tables["data"].items():
        with open(os.path.join(tables_dir, key), "w") as f:
            f.write(text)
    # The cuvee-access Secret the pods mount.
    access_dir = os.path.join(root, "access")
    os.makedirs(access_dir)
    with open(os.path.join(access_dir, "users.json"), "w") as f:
        json.dump({"users": [{"name": "admin", "password": "k8s-admin-pass", "permissions": ["READ", "CREATE", "UPDATE", "DELETE"]}]}, f)
    with open(os.path.join(access_dir, "cluster-token"), "w") as f:
        f.write("0123456789abcdef0123456789abcdef\n")
    auth = {"Authorization": "Basic " + base64.b64encode(b"admin:k8s-admin-pass").decode()}
    http, grpc, broker_http = free_port(), free_port(), free_port()
    env = {**os.environ, **config["data"], "KAFKA_BOOTSTRAP": "127.0.0.1:1", "CUVEE_SERVER_COUNT": "1", "CUVEE_REPLICAS": "1", "HOSTNAME": "cuvee-server-0"}
    env.pop("CUVEE_DEEP_STORE")
    server_args = local(server["args"], {"0.0.0.0:8097": f"127.0.0.1:{http}", "0.0.0.0:8090": f"127.0.0.1:{grpc}", "/var/lib/cuvee": os.path.join(root, "data"), "/etc/cuvee/tables": tables_dir, "/etc/cuvee/access": access_dir})
    broker_args = local(broker["args"], {"dns:cuvee-server:8090": f"dns:localhost:{grpc}", "0.0.0.0:8099": f"127.0.0.1:{broker_http}", "0.0.0.0:5432": "off", "0.0.0.0:8815": "off", "/etc/cuvee/access": access_dir})
    processes = []
    try:
        processes.append(subprocess.Popen([binary, *server_args], env=env, stdout=subprocess.DEVNULL))
        wait_for_health(http)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{http}/tables")
        assert refused.value.code == 401
        listed = json.load(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{http}/tables", headers=auth)))
        assert listed["tables"] == ["events"]
        processes.append(subprocess.Popen([binary, *broker_args], env=env, stdout=subprocess.DEVNULL))
        wait_for_health(broker_http)
        request = urllib.request.Request(f"http://127.0.0.1:{broker_http}/query/sql", data=json.dumps({"sql": "SELECT COUNT(*) FROM events"}).encode(), headers={"Content-Type": "application/json", **auth})
        answer = json.load(urllib.request.urlopen(request))
        assert answer["exceptions"] == [] and answer["resultTable"]["rows"] == [[0]], answer
    finally:
        for p in processes:
            p.terminate()
            p.wait(timeout=20)
