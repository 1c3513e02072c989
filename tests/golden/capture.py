#!/usr/bin/python3
"""capture.py — a tiny fake Kafka broker on 127.0.0.1 that records the raw request frames
real clients send, so they can be kept as golden fixtures for the codec's tests.

It answers just enough for clients to get to their next request: ApiVersions (any version;
unsupported ones get the v0-format error 35 reply), Metadata (one broker: itself; each
requested topic with one partition led by it), Produce (no reply for acks=0), ListOffsets,
Fetch (empty, after a short wait), FindCoordinator (itself), and a one-member consumer group
(JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch, OffsetCommit), the transaction
APIs (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn) and the
admin ones kafkajs uses (CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords,
ListGroups, DescribeGroups, DescribeConfigs, AlterConfigs) and SASL (SaslHandshake,
SaslAuthenticate), all as plain successes. Every request frame
(size prefix included) is saved as OUT/<api>_v<version>.bin the first time that
(api, version) is seen. Responses go out in request order on each connection.

Usage: /usr/bin/python3 capture.py OUT_DIR [--port N] [--seconds S]
Prints "PORT <n>" on stdout once listening. Loopback only.
"""
import os
import socket
import struct
import sys
import threading
import time

API_NAMES = {
    0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 8: "offset_commit",
    9: "offset_fetch", 10: "find_coordinator", 11: "join_group", 12: "heartbeat",
    13: "leave_group", 14: "sync_group", 15: "describe_groups", 16: "list_groups",
    17: "sasl_handshake", 18: "api_versions", 19: "create_topics", 20: "delete_topics",
    21: "delete_records", 22: "init_producer_id", 23: "offset_for_leader_epoch",
    24: "add_partitions_to_txn", 25: "add_offsets_to_txn", 26: "end_txn",
    28: "txn_offset_commit", 32: "describe_configs", 33: "alter_configs",
    36: "sasl_authenticate", 37: "create_partitions",
}
# What this fake broker advertises (PROTOCOL.md surface v1, minus what it cannot answer
# sensibly, which clients then do not use).
ADVERTISED = {
    0: (3, 7), 1: (4, 11), 2: (0, 3), 3: (0, 6), 8: (0, 7), 9: (1, 5), 10: (0, 2),
    11: (0, 5), 12: (0, 3), 13: (0, 3), 14: (0, 3), 15: (0, 4), 16: (0, 2), 18: (0, 2),
    19: (0, 4), 20: (0, 3), 21: (0, 1), 22: (0, 1), 24: (0, 1), 25: (0, 1), 26: (0, 1),
    28: (0, 2), 32: (0, 2), 33: (0, 1), 36: (0, 1), 37: (0, 1), 17: (0, 1),
}
DEFAULT_TOPIC = "golden"


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        if self.p + n > len(self.d):
            raise ValueError("short")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        v, shift = 0, 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def string(self, compact=False):
        n = self.uvarint() - 1 if compact else self.i16()
        return None if n < 0 else self.take(n).decode("utf-8", "replace")

    def bytes_(self, compact=False):
        n = self.uvarint() - 1 if compact else self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn, compact=False):
        n = self.uvarint() - 1 if compact else self.i32()
        return None if n < 0 else [fn() for _ in range(n)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


class Writer:
    def __init__(self):
        self.b = bytearray()

    def i8(self, v): self.b += struct.pack(">b", v); return self
    def i16(self, v): self.b += struct.pack(">h", v); return self
    def i32(self, v): self.b += struct.pack(">i", v); return self
    def i64(self, v): self.b += struct.pack(">q", v); return self

    def uvarint(self, v):
        while v >= 0x80:
            self.b.append((v & 0x7F) | 0x80)
            v >>= 7
        self.b.append(v)
        return self

    def string(self, s, compact=False):
        if s is None:
            return self.uvarint(0) if compact else self.i16(-1)
        e = s.encode()
        (self.uvarint(len(e) + 1) if compact else self.i16(len(e)))
        self.b += e
        return self

    def bytes_(self, b):
        if b is None:
            return self.i32(-1)
        self.i32(len(b))
        self.b += b
        return self

    def array(self, items, fn, compact=False):
        if items is None:
            return self.uvarint(0) if compact else self.i32(-1)
        (self.uvarint(len(items) + 1) if compact else self.i32(len(items)))
        for it in items:
            fn(it)
        return self


class Broker:
    def __init__(self, out_dir, port):
        self.out_dir = out_dir
        self.port = port
        self.lock = threading.Lock()
        self.seen = set()
        self.assignment = b""

    def save(self, key, version, frame):
        name = "%s_v%d.bin" % (API_NAMES.get(key, "api%d" % key), version)
        with self.lock:
            if (key, version) in self.seen:
                return
            self.seen.add((key, version))
            with open(os.path.join(self.out_dir, name), "wb") as f:
                f.write(frame)
        print("captured", name, len(frame), flush=True)

    # --- per-API answers: return the body bytes, or None for no response -------------------

    def api_versions(self, v, r):
        if v > 3:
            w = Writer().i16(35).i32(1).i16(18).i16(0).i16(3)
            return w.b
        keys = sorted(ADVERTISED.items())
        if v >= 3:
            w = Writer().i16(0)
            w.array(keys, lambda k: w.i16(k[0]).i16(k[1][0]).i16(k[1][1]).uvarint(0), True)
            return w.i32(0).uvarint(0).b
        w = Writer().i16(0)
        w.array(keys, lambda k: w.i16(k[0]).i16(k[1][0]).i16(k[1][1]))
        if v >= 1:
            w.i32(0)
        return w.b

    def metadata(self, v, r):
        topics = r.array(lambda: r.string())
        if not topics:
            topics = [DEFAULT_TOPIC]
        w = Writer()
        if v >= 3:
            w.i32(0)

        def broker(_):
            w.i32(0).string("127.0.0.1").i32(self.port)
            if v >= 1:
                w.string(None)
        w.array([0], broker)
        if v >= 2:
            w.string("trial-capture")
        if v >= 1:
            w.i32(0)

        def partition(_):
            w.i16(0).i32(0).i32(0).array([0], w.i32).array([0], w.i32)
            if v >= 5:
                w.array([], w.i32)

        def topic(name):
            w.i16(0).string(name)
            if v >= 1:
                w.i8(0)
            w.array([0], partition)
        w.array(topics, topic)
        return w.b

    def produce(self, v, r):
        r.string()  # transactional id
        acks = r.i16()
        r.i32()
        topics = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.bytes_()))))
        if acks == 0:
            return None
        w = Writer()

        def part(p):
            w.i32(p[0]).i16(0).i64(0)
            if v >= 2:
                w.i64(-1)
            if v >= 5:
                w.i64(0)
        w.array(topics, lambda t: (w.string(t[0]), w.array(t[1], part)))
        if v >= 1:
            w.i32(0)
        return w.b

    def list_offsets(self, v, r):
        r.i32()
        if v >= 2:
            r.i8()

        def rpart():
            idx = r.i32()
            r.i64()
            if v == 0:
                r.i32()
            return idx
        topics = r.array(lambda: (r.string(), r.array(rpart)))
        w = Writer()
        if v >= 2:
            w.i32(0)

        def part(idx):
            w.i32(idx).i16(0)
            if v == 0:
                w.array([0], w.i64)
            else:
                w.i64(-1).i64(0)
        w.array(topics, lambda t: (w.string(t[0]), w.array(t[1], part)))
        return w.b

    def fetch(self, v, r):
        r.i32()
        max_wait = r.i32()
        r.i32()
        r.i32()
        r.i8()
        if v >= 7:
            r.i32()
            r.i32()

        def rpart():
            idx = r.i32()
            if v >= 9:
                r.i32()
            r.i64()
            if v >= 5:
                r.i64()
            r.i32()
            return idx
        topics = r.array(lambda: (r.string(), r.array(rpart)))
        time.sleep(min(max(max_wait, 0), 500) / 1000.0)
        w = Writer().i32(0)
        if v >= 7:
            w.i16(0).i32(0)

        def part(idx):
            w.i32(idx).i16(0).i64(0).i64(0)
            if v >= 5:
                w.i64(0)
            w.array([], None)
            if v >= 11:
                w.i32(-1)
            w.bytes_(b"")
        w.array(topics, lambda t: (w.string(t[0]), w.array(t[1], part)))
        return w.b

    def find_coordinator(self, v, r):
        w = Writer()
        if v >= 1:
            w.i32(0)
        w.i16(0)
        if v >= 1:
            w.string(None)
        return w.i32(0).string("127.0.0.1").i32(self.port).b

    def join_group(self, v, r):
        r.string()
        r.i32()
        if v >= 1:
            r.i32()
        r.string()
        if v >= 5:
            r.string()
        r.string()
        protocols = r.array(lambda: (r.string(), r.bytes_()))
        w = Writer()
        if v >= 2:
            w.i32(0)
        member = "member-1"
        w.i16(0).i32(1).string(protocols[0][0]).string(member).string(member)

        def mem(p):
            w.string(member)
            if v >= 5:
                w.string(None)
            w.bytes_(p[1])
        w.array([protocols[0]], mem)
        return w.b

    def sync_group(self, v, r):
        r.string()
        r.i32()
        r.string()
        if v >= 3:
            r.string()
        assignments = r.array(lambda: (r.string(), r.bytes_()))
        if assignments:
            self.assignment = assignments[0][1]
        w = Writer()
        if v >= 1:
            w.i32(0)
        return w.i16(0).bytes_(self.assignment).b

    def heartbeat(self, v, r):
        w = Writer()
        if v >= 1:
            w.i32(0)
        return w.i16(0).b

    def leave_group(self, v, r):
        w = Writer()
        if v >= 1:
            w.i32(0)
        w.i16(0)
        if v >= 3:
            w.array([], None)
        return w.b

    def offset_fetch(self, v, r):
        r.string()
        topics = r.array(lambda: (r.string(), r.array(r.i32)))
        w = Writer()
        if v >= 3:
            w.i32(0)

        def part(idx):
            w.i32(idx).i64(-1)
            if v >= 5:
                w.i32(-1)
            w.string("").i16(0)
        w.array(topics or [], lambda t: (w.string(t[0]), w.array(t[1], part)))
        if v >= 2:
            w.i16(0)
        return w.b

    def offset_commit(self, v, r):
        r.string()
        if v >= 1:
            r.i32()
            r.string()
        if v >= 7:
            r.string()
        if 2 <= v <= 4:
            r.i64()

        def rpart():
            idx = r.i32()
            r.i64()
            if v >= 6:
                r.i32()
            if v == 1:
                r.i64()
            r.string()
            return idx
        topics = r.array(lambda: (r.string(), r.array(rpart)))
        w = Writer()
        if v >= 3:
            w.i32(0)
        w.array(topics, lambda t: (w.string(t[0]), w.array(t[1], lambda i: w.i32(i).i16(0))))
        return w.b

    def init_producer_id(self, v, r):
        return Writer().i32(0).i16(0).i64(1000).i16(0).b

    def add_partitions_to_txn(self, v, r):
        r.string()
        r.i64()
        r.i16()
        topics = r.array(lambda: (r.string(), r.array(r.i32)))
        w = Writer().i32(0)
        w.array(topics, lambda t: (w.string(t[0]),
                                   w.array(t[1], lambda i: w.i32(i).i16(0))))
        return w.b

    def add_offsets_to_txn(self, v, r):
        return Writer().i32(0).i16(0).b

    def end_txn(self, v, r):
        return Writer().i32(0).i16(0).b

    def txn_offset_commit(self, v, r):
        r.string()
        r.string()
        r.i64()
        r.i16()

        def rpart():
            idx = r.i32()
            r.i64()
            if v >= 2:
                r.i32()
            r.string()
            return idx
        topics = r.array(lambda: (r.string(), r.array(rpart)))
        w = Writer().i32(0)
        w.array(topics, lambda t: (w.string(t[0]), w.array(t[1], lambda i: w.i32(i).i16(0))))
        return w.b

    def create_topics(self, v, r):
        def rtopic():
            name = r.string()
            r.i32()
            r.i16()
            r.array(lambda: (r.i32(), r.array(r.i32)))
            r.array(lambda: (r.string(), r.string()))
            return name
        topics = r.array(rtopic)
        w = Writer()
        if v >= 2:
            w.i32(0)

        def topic(name):
            w.string(name).i16(0)
            if v >= 1:
                w.string(None)
        w.array(topics, topic)
        return w.b

    def delete_topics(self, v, r):
        names = r.array(r.string)
        w = Writer()
        if v >= 1:
            w.i32(0)
        w.array(names, lambda n: w.string(n).i16(0))
        return w.b

    def list_groups(self, v, r):
        w = Writer()
        if v >= 1:
            w.i32(0)
        return w.i16(0).array([("kjs-group", "consumer")],
                              lambda g: w.string(g[0]).string(g[1])).b

    def describe_groups(self, v, r):
        groups = r.array(r.string)
        w = Writer()
        if v >= 1:
            w.i32(0)

        def group(g):
            w.i16(0).string(g).string("Empty").string("consumer").string("")
            w.array([], None)
            if v >= 3:
                w.i32(-2147483648)
        w.array(groups, group)
        return w.b

    def describe_configs(self, v, r):
        resources = r.array(lambda: (r.i8(), r.string(), r.array(r.string)))
        w = Writer().i32(0)

        def res(x):
            w.i16(0).string(None).i8(x[0]).string(x[1])

            def cfg(c):
                w.string(c[0]).string(c[1]).i8(0)
                if v == 0:
                    w.i8(1)
                else:
                    w.i8(5)
                w.i8(0)
                if v >= 1:
                    w.array([], None)
            w.array([("retention.ms", "604800000")], cfg)
        w.array(resources, res)
        return w.b

    def create_partitions(self, v, r):
        names = r.array(lambda: (r.string(), r.i32(), r.array(lambda: r.array(r.i32))))
        w = Writer().i32(0)
        w.array(names, lambda n: w.string(n[0]).i16(0).string(None))
        return w.b

    def delete_records(self, v, r):
        topics = r.array(lambda: (r.string(), r.array(lambda: (r.i32(), r.i64()))))
        w = Writer().i32(0)
        w.array(topics, lambda t: (w.string(t[0]), w.array(
            t[1], lambda p: w.i32(p[0]).i64(p[1]).i16(0))))
        return w.b

    def alter_configs(self, v, r):
        resources = r.array(lambda: (r.i8(), r.string(),
                                     r.array(lambda: (r.string(), r.string()))))
        w = Writer().i32(0)
        w.array(resources, lambda x: w.i16(0).string(None).i8(x[0]).string(x[1]))
        return w.b

    def sasl_handshake(self, v, r):
        r.string()
        w = Writer().i16(0)
        w.array(["PLAIN"], w.string)
        return w.b

    def sasl_authenticate(self, v, r):
        r.bytes_()
        w = Writer().i16(0).string(None).bytes_(b"")
        if v >= 1:
            w.i64(0)
        return w.b

    HANDLERS = {18: "api_versions", 3: "metadata", 0: "produce", 2: "list_offsets",
                1: "fetch", 10: "find_coordinator", 11: "join_group", 14: "sync_group",
                12: "heartbeat", 13: "leave_group", 9: "offset_fetch", 8: "offset_commit",
                22: "init_producer_id", 24: "add_partitions_to_txn",
                25: "add_offsets_to_txn", 26: "end_txn", 28: "txn_offset_commit",
                19: "create_topics", 20: "delete_topics", 16: "list_groups",
                15: "describe_groups", 32: "describe_configs", 37: "create_partitions",
                21: "delete_records", 17: "sasl_handshake", 36: "sasl_authenticate",
                33: "alter_configs"}

    def serve(self, conn):
        buf = b""
        try:
            while True:
                while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                size = struct.unpack(">i", buf[:4])[0]
                frame, buf = buf[:4 + size], buf[4 + size:]
                r = Reader(frame[4:])
                key, version, corr = r.i16(), r.i16(), r.i32()
                r.string()  # client id
                self.save(key, version, frame)
                handler = self.HANDLERS.get(key)
                flexible = key == 18 and version >= 3
                if flexible:
                    r.tags()
                if handler is None:
                    print("no handler for api", key, "closing", flush=True)
                    return
                body = getattr(self, handler)(version, r)
                if body is None:
                    continue
                resp = struct.pack(">i", corr) + bytes(body)
                conn.sendall(struct.pack(">i", len(resp)) + resp)
        except (ValueError, OSError) as e:
            print("connection ended:", e, flush=True)
        finally:
            conn.close()


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    out_dir = args[0]
    port = int(args[args.index("--port") + 1]) if "--port" in args else 0
    seconds = float(args[args.index("--seconds") + 1]) if "--seconds" in args else 60.0
    os.makedirs(out_dir, exist_ok=True)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    broker = Broker(out_dir, ls.getsockname()[1])
    print("PORT", broker.port, flush=True)
    ls.settimeout(0.2)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=broker.serve, args=(conn,), daemon=True).start()
    ls.close()


if __name__ == "__main__":
    main()
