#!/usr/bin/env python3
"""Writes the seed inputs of tests/fuzz/fuzz_mqtt_persist.c: valid records of
MQTT's persistent state (src/mqtt/ne_mqtt_persist.c, record formats 1 and 2)
in the harness's input format (its head comment says it).

    python3 tools/mqtt_persist_seeds.py tests/fuzz/corpus/fuzz_mqtt_persist
"""
import os
import struct
import sys

SESSION, MESSAGE, RETAINED = 0, 1, 2
V311, V5 = 4, 5
NO_USER = 0xFFFF  # user index -1: no authentication configured
QUEUED, SENT = 1, 2


def record(kind, key, value):
    assert len(key) < 256 and len(value) < 65536
    return bytes([kind, len(key)]) + key + struct.pack(">H", len(value)) + value


def message(fmt, topic, payload, qos=1, retain=False, expiry_s=None, props=b"",
            txn=0, publisher=b""):
    flags = (1 if retain else 0) | (2 if expiry_s is not None else 0)
    head = struct.pack(">BBBBIHHI", fmt, qos, flags, 0, expiry_s or 0, len(topic),
                       len(props), len(payload))
    if fmt >= 2:
        head += struct.pack(">QH", txn, len(publisher)) + publisher
    return head + topic + props + payload


def message_key(msg_id):
    return struct.pack(">Q", msg_id)


def session(fmt, version, filters=(), outs=(), inbound=(), will=(0, 0), expiry_s=0xFFFFFFFF,
            next_id=1, committed=0):
    """filters: (NATS subject, queue group, qos, flags, sub id);
    outs: (message id, packet id, state, qos, flags, shared rank, sub id);
    will: (message id, delay in s; 0: none), or None for a record written before wills
    were kept."""
    head = struct.pack(">BBHIQHHHH", fmt, version, next_id, expiry_s, 0, NO_USER,
                       len(filters), len(outs), len(inbound))
    if fmt >= 2:
        head += struct.pack(">Q", committed)
    body = b""
    for subject, group, qos, flags, sub_id in filters:
        body += struct.pack(">H", len(subject)) + subject + struct.pack(">H", len(group)) + group
        body += struct.pack(">BBI", qos, flags, sub_id)
    for msg_id, packet_id, state, qos, flags, shared, sub_id in outs:
        body += struct.pack(">QHBBBBI", msg_id, packet_id, state, qos, flags, shared, sub_id)
    for packet_id in inbound:
        body += struct.pack(">H", packet_id)
    if will is not None:
        body += struct.pack(">QI", will[0], will[1])
    return head + body


def user_property(key, value):
    return b"\x26" + struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value


def seeds():
    # options: bit 1 take over, bits 2-4 which session, bit 5 watcher, bit 7 boot again;
    # bit 0 a 5.0 client, bit 6 DISCONNECT. clock: (bits 5-7) + 1 ticks of 100 << (bits 0-4) ms.
    take_watch_again = 0x02 | 0x20 | 0x80
    yield "v2_session_will", bytes([take_watch_again, 0x46]) + b"".join([
        record(MESSAGE, message_key(1), message(2, b"a/b", b"hello")),
        record(MESSAGE, message_key(2), message(2, b"w/dev1", b"gone", qos=1)),
        record(SESSION, b"dev1", session(
            2, V311, filters=[(b"a.>", b"", 1, 0, 0)],
            outs=[(1, 0, QUEUED, 1, 0, 0, 0)], inbound=[7], will=(2, 5))),
    ])
    yield "v2_session_v5_inflight", bytes([take_watch_again | 0x01 | 0x40, 0x2a]) + b"".join([
        record(MESSAGE, message_key(10), message(
            2, b"s/x", b"payload", qos=2, expiry_s=3600,
            props=user_property(b"k", b"v"))),
        record(MESSAGE, message_key(11), message(2, b"s/y", b"shared", qos=1)),
        record(SESSION, b"v5dev", session(
            2, V5, expiry_s=3600, next_id=9,
            filters=[(b"s.*", b"", 2, 2, 7), (b"s.>", b"grp", 1, 0, 0)],
            outs=[(10, 5, SENT, 2, 0, 0, 7), (11, 0, QUEUED, 1, 0, 2, 0)])),
    ])
    yield "v2_message_origin", bytes([take_watch_again | 1 << 2, 0x21]) + b"".join([
        record(MESSAGE, message_key(20), message(2, b"q/2", b"committed", qos=2, txn=3,
                                                  publisher=b"pub")),
        record(MESSAGE, message_key(21), message(2, b"q/2", b"not committed", qos=2, txn=4,
                                                  publisher=b"pub")),
        record(MESSAGE, message_key(22), message(2, b"q/2", b"plain", qos=2)),
        record(SESSION, b"pub", session(2, V311, inbound=[1, 2], committed=3)),
        record(SESSION, b"sub", session(
            2, V311, filters=[(b"q.>", b"", 2, 0, 0)],
            outs=[(20, 0, QUEUED, 2, 0, 0, 0), (21, 0, QUEUED, 2, 0, 0, 0),
                  (22, 0, QUEUED, 2, 0, 0, 0)])),
    ])
    yield "retained", bytes([0x20 | 0x80, 0x03]) + b"".join([
        record(MESSAGE, message_key(30), message(2, b"t/r", b"kept", retain=True)),
        record(MESSAGE, message_key(31), message(2, b"t/e", b"expires", retain=True,
                                                  expiry_s=1)),
        record(RETAINED, b"t/r", struct.pack(">Q", 30)),
        record(RETAINED, b"t/e", struct.pack(">Q", 31)),
    ])
    yield "v1_session_message", bytes([take_watch_again, 0x02]) + b"".join([
        record(MESSAGE, message_key(40), message(1, b"old/t", b"from format 1")),
        record(SESSION, b"old", session(
            1, V311, filters=[(b"old.>", b"", 1, 0, 0)],
            outs=[(40, 0, QUEUED, 1, 0, 0, 0)])),
    ])
    yield "v1_session_no_will", bytes([take_watch_again, 0x02]) + b"".join([
        record(MESSAGE, message_key(41), message(1, b"old/u", b"in flight", qos=1)),
        # A format-1 record written before wills were kept: it ends after the inbound ids.
        record(SESSION, b"older", session(
            1, V311, filters=[(b"old.>", b"", 1, 0, 0)],
            outs=[(41, 3, SENT, 1, 0, 0, 0)], inbound=[4], will=None)),
    ])


def damaged():
    """Records no server writes, each of which the loader once took back:
    a queued message whose topic is not a topic name (it went out as a
    PUBLISH no client decodes), a pending will whose properties exceed
    NE_MQTT_MAX_PROPS_BYTES (publishing it overran its buffer) and a
    message keyed by the last id (the next id wrapped to 0)."""
    yield "damaged_topic", bytes([0x02 | 0x20 | 0x80, 0x02]) + b"".join([
        record(MESSAGE, message_key(50), message(2, b"a/+", b"wildcard")),
        record(MESSAGE, message_key(51), message(2, b"a/b", b"valid")),
        record(SESSION, b"s", session(
            2, V311, filters=[(b"a.*", b"", 1, 0, 0)],
            outs=[(50, 0, QUEUED, 1, 0, 0, 0), (51, 0, QUEUED, 1, 0, 0, 0)])),
    ])
    yield "damaged_will_props", bytes([0x20 | 0x80, 0x4a]) + b"".join([
        record(MESSAGE, message_key(60), message(2, b"wills/big", b"last words",
                                                  props=user_property(b"k", b"x" * 600))),
        record(SESSION, b"mortal", session(2, V5, expiry_s=300, will=(60, 1))),
    ])
    yield "damaged_last_id", bytes([0x02 | 0x20 | 0x80, 0x02]) + b"".join([
        record(MESSAGE, message_key(2**64 - 1), message(2, b"x/max", b"max")),
        record(MESSAGE, message_key(1), message(2, b"x/one", b"one")),
        record(SESSION, b"a", session(
            2, V311, filters=[(b"x.>", b"", 1, 0, 0)], outs=[(1, 0, QUEUED, 1, 0, 0, 0)])),
    ])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/fuzz_mqtt_persist"
    os.makedirs(out, exist_ok=True)
    for name, data in list(seeds()) + list(damaged()):
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
