#!/usr/bin/python3
"""Cluster integration tests: three real triald processes on 127.0.0.1 (combined
broker+controller nodes, a three-voter quorum), driven by unmodified Kafka clients.

Each case starts its own cluster in a fresh temporary directory, with ports picked free on
loopback. It proves what a user of a replicated Kafka cluster relies on: topics are created
with replication factor 3 and every replica is in sync; records acked with acks=all survive
the leader being killed with SIGKILL; the killed broker comes back, catches up and rejoins
the ISR. Usage: run_cluster.py --triald PATH CASE... Exit 0 = pass, 77 = skipped (a client
is missing and CI is not set), anything else = failure.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77


def free_ports(count):
    """Distinct free loopback ports (bound briefly, then released)."""
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Node:
    """One triald process of the cluster."""

    def __init__(self, binary, workdir, node_id, port, controller_port, voters, extra):
        self.binary = binary
        self.workdir = workdir
        self.node_id = node_id
        self.port = port
        self.controller_port = controller_port
        self.voters = voters
        self.extra = extra
        self.proc = None
        self.log_path = os.path.join(workdir, "triald.log")

    def write_config(self):
        lines = [
            "process.roles=broker,controller",
            "node.id=%d" % self.node_id,
            "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
            % (self.port, self.controller_port),
            "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
            "controller.listener.names=CONTROLLER",
            "controller.quorum.voters=" + self.voters,
            "log.dirs=" + os.path.join(self.workdir, "data"),
            "default.replication.factor=3",
            "offsets.topic.replication.factor=3",
            "min.insync.replicas=2",
            "broker.session.timeout.ms=3000",
            "broker.heartbeat.interval.ms=500",
            "replica.lag.time.max.ms=5000",
        ]
        lines += ["%s=%s" % kv for kv in self.extra.items()]
        path = os.path.join(self.workdir, "server.properties")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        cfg = self.write_config()
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.binary, cfg], stdout=log, stderr=log)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    def __init__(self, binary, root, size=3, extra=None):
        ports = free_ports(2 * size)
        voters = ",".join("%d@127.0.0.1:%d" % (i + 1, ports[size + i]) for i in range(size))
        self.nodes = [Node(binary, os.path.join(root, "n%d" % (i + 1)), i + 1, ports[i],
                           ports[size + i], voters, extra or {}) for i in range(size)]

    @property
    def bootstrap(self):
        return ",".join("127.0.0.1:%d" % n.port for n in self.nodes)

    def node(self, node_id):
        return self.nodes[node_id - 1]

    def start(self):
        for n in self.nodes:
            n.start()
        wait(lambda: len(self.brokers()) == len(self.nodes), 30, "all brokers registered")

    def stop(self):
        for n in self.nodes:
            n.stop()

    def brokers(self):
        """Broker ids the cluster's metadata lists (asked of any live node)."""
        from kafka import KafkaAdminClient
        live = ",".join("127.0.0.1:%d" % n.port for n in self.nodes if n.alive())
        try:
            admin = KafkaAdminClient(bootstrap_servers=live, request_timeout_ms=3000)
        except Exception:
            return []
        try:
            return sorted(b["node_id"] for b in admin.describe_cluster()["brokers"])
        finally:
            admin.close()

    def describe(self, topic):
        """{partition: (leader, replicas, isr)} from kcat -L -J."""
        import json
        live = ",".join("127.0.0.1:%d" % n.port for n in self.nodes if n.alive())
        out = subprocess.run(["kcat", "-b", live, "-L", "-J", "-t", topic],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            return {}
        meta = json.loads(out.stdout)
        result = {}
        for t in meta.get("topics", []):
            for p in t.get("partitions", []):
                result[p["partition"]] = (p["leader"],
                                          sorted(r["id"] for r in p["replicas"]),
                                          sorted(r["id"] for r in p["isrs"]))
        return result


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def wait(pred, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def create_topic(cluster, topic, partitions):
    from kafka.admin import KafkaAdminClient, NewTopic
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=10000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=3)])
    finally:
        admin.close()
    wait(lambda: len(cluster.describe(topic)) == partitions and
         all(isr == [1, 2, 3] for _, _, isr in cluster.describe(topic).values()),
         30, "topic %s with every replica in sync" % topic)


def consume_values(bootstrap, topic, expected, timeout=60):
    """Every value of the topic (all partitions, from the start) with confluent-kafka."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "verify-%d" % os.getpid(),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    seen = []
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and len(seen) < expected:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            seen.append(m.value())
    finally:
        c.close()
    return seen


# --- cases -------------------------------------------------------------------------------

def case_replicated(cluster, args):
    """RF=3 topic: metadata shows 3 brokers, 3 replicas in sync; acks=all produce is
    readable in full and in order per partition."""
    create_topic(cluster, "rep", 3)
    meta = subprocess.run(["kcat", "-b", cluster.bootstrap, "-L"], capture_output=True,
                          text=True, timeout=30)
    check(meta.returncode == 0 and "3 brokers" in meta.stdout, "kcat -L: " + meta.stdout)
    lines = "".join("k%d:v%d\n" % (i, i) for i in range(3000))
    prod = subprocess.run(["kcat", "-b", cluster.bootstrap, "-P", "-t", "rep", "-K:",
                           "-X", "acks=all"], input=lines, capture_output=True, text=True,
                          timeout=60)
    check(prod.returncode == 0, "kcat produce: " + prod.stderr)
    values = consume_values(cluster.bootstrap, "rep", 3000)
    check(sorted(values) == sorted(b"v%d" % i for i in range(3000)),
          "consumed %d of 3000 values" % len(values))


def case_leader_kill9(cluster, args):
    """Kill -9 the leader while an idempotent acks=all producer runs: every acked record is
    readable afterwards, exactly once; the killed broker restarts and rejoins the ISR."""
    from confluent_kafka import Producer
    create_topic(cluster, "fo", 1)
    leader = cluster.describe("fo")[0][0]
    acked, failed = [], []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            (failed if err is not None else acked).append(msg.value())

    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all",
                  "enable.idempotence": True, "linger.ms": 5,
                  "message.timeout.ms": 30000})
    for i in range(20000):
        if i == 8000:
            p.flush(30)
            cluster.node(leader).kill9()
        while True:
            try:
                p.produce("fo", value=b"%d" % i, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    check(p.flush(60) == 0, "producer did not drain")
    check(len(acked) > 8000, "only %d acked (failed %d)" % (len(acked), len(failed)))
    new_leader = cluster.describe("fo")[0][0]
    check(new_leader not in (leader, -1), "no new leader (was %d, now %d)" % (leader, new_leader))
    values = consume_values(cluster.bootstrap, "fo", len(acked))
    missing = set(acked) - set(values)
    check(not missing, "%d acked records lost, e.g. %s" % (len(missing), sorted(missing)[:5]))
    check(len(values) == len(set(values)), "duplicates with idempotence")
    cluster.node(leader).start()
    wait(lambda: cluster.describe("fo")[0][2] == [1, 2, 3], 60, "the restarted broker in the ISR")


CASES = {"replicated": case_replicated, "leader_kill9": case_leader_kill9}


def clients_required():
    return os.environ.get("CI", "") not in ("", "0", "false") or \
        os.environ.get("TRIAL_REQUIRE_CLIENTS") == "1"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--triald", required=True)
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    missing = []
    for mod in ("kafka", "confluent_kafka"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if shutil.which("kcat") is None:
        missing.append("kcat")
    if missing:
        print("missing clients: " + ", ".join(missing), file=sys.stderr)
        return 1 if clients_required() else SKIP
    rc = 0
    for name in args.cases:
        root = tempfile.mkdtemp(prefix="trial-cluster-")
        cluster = Cluster(args.triald, root)
        try:
            cluster.start()
            CASES[name](cluster, args)
            print("PASS " + name)
            shutil.rmtree(root, ignore_errors=True)
        except Exception as e:
            print("FAIL %s: %s (logs in %s)" % (name, e, root), file=sys.stderr)
            rc = 1
        finally:
            cluster.stop()
    return rc


if __name__ == "__main__":
    sys.exit(main())
