#!/usr/bin/python3
"""xcheck_kafka_python.py — an independent oracle for the C codec: kafka-python's own
protocol schemas (kafka.protocol.*) decode the bodies that our encoder wrote, and the values
must match the C values field by field.

Usage: xcheck_kafka_python.py DIR
DIR holds, per sample, <key>_<version>_<req|resp>_<n>.bin (a body without header) and .txt
(the C side's flattened values, one per line). Exits 1 on any mismatch or leftover byte,
0 otherwise; prints how many samples were checked and how many had no kafka-python schema.
"""
import importlib
import io
import os
import pkgutil
import sys

import kafka.protocol
from kafka.protocol.api import Request, Response


# Where kafka-python 2.0.2's schema contradicts Apache Kafka's message JSON (the authority),
# found by this very check; those samples are skipped, and counted.
KAFKA_PYTHON_BUGS = {
    (10, 1, False): "FindCoordinatorResponse v1 lacks ThrottleTimeMs (Kafka: versions 1+)",
    (15, 3, False): "DescribeGroupsResponse v3 puts authorized_operations after the groups "
                    "array; Kafka has AuthorizedOperations inside each group",
    (32, 1, False): "DescribeConfigsResponse v1 has is_default; Kafka has IsDefault only in "
                    "v0 and ConfigSource int8 from v1",
    (2, 4, True): "OffsetRequest v4 has current_leader_epoch as Int64; Kafka: int32",
}
for _v in range(7, 12):
    KAFKA_PYTHON_BUGS[(1, _v, True)] = ("FetchRequest v7+ forgotten_topics_data uses the String "
                                        "class uninstantiated (cannot decode)")


def schemas():
    found = {}
    for m in pkgutil.iter_modules(kafka.protocol.__path__):
        mod = importlib.import_module("kafka.protocol." + m.name)
        for name in dir(mod):
            c = getattr(mod, name)
            if (isinstance(c, type) and issubclass(c, (Request, Response))
                    and c not in (Request, Response) and hasattr(c, "API_KEY")):
                try:
                    found[(c.API_KEY, c.API_VERSION, issubclass(c, Request))] = c.SCHEMA
                except AttributeError:
                    pass
    return found


def flatten(value, out):
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append(str(int(value)))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, str):
        out.append("s:" + value)
    elif isinstance(value, (bytes, bytearray)):
        out.append("b:" + bytes(value).hex())
    elif isinstance(value, list):
        out.append("n=%d" % len(value))
        for v in value:
            flatten(v, out)
    elif isinstance(value, tuple):
        for v in value:
            flatten(v, out)
    else:
        raise TypeError(type(value))


def main():
    d = sys.argv[1]
    table = schemas()
    checked = missing = failed = skipped = 0
    for f in sorted(os.listdir(d)):
        if not f.endswith(".bin"):
            continue
        key, version, kind, _ = f[:-4].split("_")
        ident = (int(key), int(version), kind == "req")
        if ident in KAFKA_PYTHON_BUGS:
            skipped += 1
            continue
        schema = table.get(ident)
        if schema is None:
            missing += 1
            continue
        data = open(os.path.join(d, f), "rb").read()
        expect = open(os.path.join(d, f[:-4] + ".txt")).read().split("\n")[:-1]
        buf = io.BytesIO(data)
        try:
            got = []
            flatten(schema.decode(buf), got)
        except Exception as e:  # noqa: BLE001 — any failure to parse is a mismatch
            print("FAIL", f, "kafka-python could not decode:", e)
            failed += 1
            continue
        left = len(data) - buf.tell()
        got = ["null" if g == "null" else g for g in got]
        expect = ["null" if e == "n=-1" else e for e in expect]
        if got != expect or left:
            failed += 1
            print("FAIL", f, "left", left)
            for i, (a, b) in enumerate(zip(expect, got)):
                if a != b:
                    print("  first difference at value", i, "C:", a, "kafka-python:", b)
                    break
            else:
                print("  lengths", len(expect), len(got))
        checked += 1
    print("xcheck: %d samples checked, %d without a kafka-python schema, %d skipped for known "
          "kafka-python bugs, %d failed" % (checked, missing, skipped, failed))
    sys.exit(1 if failed or checked == 0 else 0)


if __name__ == "__main__":
    main()
