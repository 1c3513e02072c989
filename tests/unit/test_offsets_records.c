/*
 * test_offsets_records.c — proves the __consumer_offsets record formats and the group ->
 * partition rule: keys and values of every supported version round-trip field for field,
 * the bytes match Kafka's layout (checked against hand-assembled buffers), truncated or
 * padded input is refused instead of read past, and the partition of a group id equals
 * Kafka's abs(String.hashCode()) % partitions, including non-ASCII ids and the one id whose
 * hash is INT32_MIN; and consumer-protocol assignments are walked partition by partition
 * only when well-formed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/group_records.h"

static void test_offset_key_bytes_and_round_trip(void **state) {
    (void)state;
    uint8_t buf[64];
    size_t n = group_record_offset_key_encode(buf, sizeof(buf), "g", "tp", 7);
    /* version 1 | "g" | "tp" | partition 7 */
    const uint8_t want[] = {0, 1, 0, 1, 'g', 0, 2, 't', 'p', 0, 0, 0, 7};
    assert_int_equal(n, sizeof(want));
    assert_int_equal(n, group_record_offset_key_size("g", "tp"));
    assert_memory_equal(buf, want, sizeof(want));

    struct group_record_key key;
    assert_int_equal(group_record_key_decode(buf, n, &key), 0);
    assert_int_equal(key.version, GROUP_RECORD_KEY_OFFSET_V1);
    assert_true(group_str_eq(key.group, "g"));
    assert_true(group_str_eq(key.topic, "tp"));
    assert_int_equal(key.partition, 7);

    /* Version 0 has the same layout and is still read. */
    uint8_t v0[sizeof(want)];
    memcpy(v0, want, sizeof(want));
    v0[1] = 0;
    assert_int_equal(group_record_key_decode(v0, sizeof(v0), &key), 0);
    assert_int_equal(key.version, 0);
    assert_int_equal(key.partition, 7);
}

static void test_group_key(void **state) {
    (void)state;
    uint8_t buf[64];
    size_t n = group_record_group_key_encode(buf, sizeof(buf), "grp");
    const uint8_t want[] = {0, 2, 0, 3, 'g', 'r', 'p'};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    struct group_record_key key;
    assert_int_equal(group_record_key_decode(buf, n, &key), 0);
    assert_int_equal(key.version, GROUP_RECORD_KEY_GROUP);
    assert_true(group_str_eq(key.group, "grp"));
    assert_int_equal(key.topic.len, -1);
}

static void test_key_rejects_malformed(void **state) {
    (void)state;
    uint8_t buf[64];
    size_t n = group_record_offset_key_encode(buf, sizeof(buf), "group", "topic", 3);
    struct group_record_key key;
    for (size_t cut = 0; cut < n; cut++) {
        assert_int_equal(group_record_key_decode(buf, cut, &key), -EINVAL);
    }
    uint8_t padded[65];
    memcpy(padded, buf, n);
    padded[n] = 0;
    assert_int_equal(group_record_key_decode(padded, n + 1, &key), -EINVAL);
    const uint8_t v9[] = {0, 9, 0, 0};
    assert_int_equal(group_record_key_decode(v9, sizeof(v9), &key), -ENOTSUP);
    const uint8_t null_group[] = {0, 2, 0xff, 0xff};
    assert_int_equal(group_record_key_decode(null_group, sizeof(null_group), &key), -EINVAL);
    const uint8_t neg_partition[] = {0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(group_record_key_decode(neg_partition, sizeof(neg_partition), &key), -EINVAL);
}

static void test_offset_value_versions(void **state) {
    (void)state;
    for (int16_t version = 0; version <= 3; version++) {
        struct group_offset_value in = {
            .version = version,
            .offset = 0x0102030405060708LL,
            .leader_epoch = version == 3 ? 9 : -1,
            .metadata = group_str_c("meta"),
            .commit_timestamp_ms = 1700000000123LL,
            .expire_timestamp_ms = version == 1 ? 1700000999000LL : -1,
        };
        uint8_t buf[64];
        size_t n = group_record_offset_value_encode(buf, sizeof(buf), &in);
        assert_int_equal(n, group_record_offset_value_size(&in));
        size_t want_len = 2 + 8 + 2 + 4 + 8 + (version == 1 ? 8 : 0) + (version == 3 ? 4 : 0);
        assert_int_equal(n, want_len);
        /* The offset always follows the version directly. */
        assert_int_equal(buf[2], 1);
        assert_int_equal(buf[9], 8);
        if (version == 3) assert_int_equal(buf[13], 9); /* leader epoch before metadata */

        struct group_offset_value out;
        assert_int_equal(group_record_offset_value_decode(buf, n, &out), 0);
        assert_int_equal(out.version, version);
        assert_int_equal(out.offset, in.offset);
        assert_int_equal(out.leader_epoch, in.leader_epoch);
        assert_true(group_str_eq(out.metadata, "meta"));
        assert_int_equal(out.commit_timestamp_ms, in.commit_timestamp_ms);
        assert_int_equal(out.expire_timestamp_ms, in.expire_timestamp_ms);
        for (size_t cut = 0; cut < n; cut++) {
            assert_int_equal(group_record_offset_value_decode(buf, cut, &out), -EINVAL);
        }
    }
    const uint8_t v4[] = {0, 4, 0};
    struct group_offset_value out;
    assert_int_equal(group_record_offset_value_decode(v4, sizeof(v4), &out), -ENOTSUP);
}

static void test_group_value_versions(void **state) {
    (void)state;
    const uint8_t sub1[] = {1, 2, 3};
    const uint8_t asg1[] = {4, 5};
    struct group_member_value members[2] = {
        {.member_id = group_str_c("m1"),
         .group_instance_id = group_str_c("inst"),
         .client_id = group_str_c("c1"),
         .client_host = group_str_c("/1.2.3.4"),
         .rebalance_timeout_ms = 60000,
         .session_timeout_ms = 10000,
         .subscription = sub1,
         .subscription_len = 3,
         .assignment = asg1,
         .assignment_len = 2},
        {.member_id = group_str_c("m2"),
         .group_instance_id = group_str_c(NULL),
         .client_id = group_str_c("c2"),
         .client_host = group_str_c("/5.6.7.8"),
         .rebalance_timeout_ms = 30000,
         .session_timeout_ms = 45000,
         .subscription = NULL,
         .subscription_len = 0,
         .assignment = NULL,
         .assignment_len = 0},
    };
    for (int16_t version = 0; version <= 3; version++) {
        struct group_metadata_value in = {
            .version = version,
            .protocol_type = group_str_c("consumer"),
            .generation = 5,
            .protocol = group_str_c("range"),
            .leader = group_str_c("m1"),
            .current_state_timestamp_ms = version >= 2 ? 1234 : -1,
        };
        uint8_t buf[256];
        size_t n = group_record_group_value_encode(buf, sizeof(buf), &in, members, 2);
        assert_int_equal(n, group_record_group_value_size(&in, members, 2));
        struct group_metadata_value out;
        assert_int_equal(group_record_group_value_decode(buf, n, &out), 0);
        assert_int_equal(out.version, version);
        assert_true(group_str_eq(out.protocol_type, "consumer"));
        assert_int_equal(out.generation, 5);
        assert_true(group_str_eq(out.protocol, "range"));
        assert_true(group_str_eq(out.leader, "m1"));
        assert_int_equal(out.current_state_timestamp_ms, version >= 2 ? 1234 : -1);
        assert_int_equal(out.member_count, 2);

        size_t pos = 0;
        struct group_member_value m;
        assert_int_equal(group_record_member_next(&out, &pos, &m), 0);
        assert_true(group_str_eq(m.member_id, "m1"));
        assert_true(group_str_eq(m.group_instance_id, version >= 3 ? "inst" : NULL));
        assert_true(group_str_eq(m.client_id, "c1"));
        assert_true(group_str_eq(m.client_host, "/1.2.3.4"));
        /* v0 had no rebalance timeout: it reads back as the session timeout. */
        assert_int_equal(m.rebalance_timeout_ms, version >= 1 ? 60000 : 10000);
        assert_int_equal(m.session_timeout_ms, 10000);
        assert_int_equal(m.subscription_len, 3);
        assert_memory_equal(m.subscription, sub1, 3);
        assert_int_equal(m.assignment_len, 2);
        assert_memory_equal(m.assignment, asg1, 2);
        assert_int_equal(group_record_member_next(&out, &pos, &m), 0);
        assert_true(group_str_eq(m.member_id, "m2"));
        assert_true(group_str_eq(m.group_instance_id, NULL));
        assert_int_equal(m.session_timeout_ms, 45000);
        assert_int_equal(m.subscription_len, 0);
        assert_int_equal(group_record_member_next(&out, &pos, &m), -ENOENT);

        for (size_t cut = 0; cut < n; cut++) {
            assert_int_equal(group_record_group_value_decode(buf, cut, &out), -EINVAL);
        }
    }
}

static void test_group_value_empty_group_bytes(void **state) {
    (void)state;
    /* The record an Empty group writes: no protocol, no leader, no members (v0 layout). */
    struct group_metadata_value in = {.version = 0,
                                      .protocol_type = group_str_c(""),
                                      .generation = 1,
                                      .protocol = group_str_c(NULL),
                                      .leader = group_str_c(NULL)};
    uint8_t buf[32];
    size_t n = group_record_group_value_encode(buf, sizeof(buf), &in, NULL, 0);
    const uint8_t want[] = {0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    struct group_metadata_value out;
    assert_int_equal(group_record_group_value_decode(buf, n, &out), 0);
    assert_int_equal(out.protocol.len, -1);
    assert_int_equal(out.leader.len, -1);
    assert_int_equal(out.member_count, 0);

    /* A member count larger than the bytes can hold is refused, not trusted. */
    uint8_t huge[sizeof(want)];
    memcpy(huge, want, sizeof(want));
    huge[12] = 0x7f;
    assert_int_equal(group_record_group_value_decode(huge, sizeof(huge), &out), -EINVAL);
    huge[12] = 0xff; /* negative */
    assert_int_equal(group_record_group_value_decode(huge, sizeof(huge), &out), -EINVAL);
}

struct walked {
    int count;
    char seen[8][16];
};

static void on_partition(void *arg, struct group_str topic, int32_t partition) {
    struct walked *w = arg;
    snprintf(w->seen[w->count++], sizeof(w->seen[0]), "%.*s/%d", (int)topic.len, topic.ptr,
             partition);
}

static void test_consumer_assignment_walk(void **state) {
    (void)state;
    /* version 1, [("ab", [3, 0]), ("c", [])], user_data null */
    const uint8_t buf[] = {0, 1, 0, 0, 0, 2, 0, 2,   'a', 'b', 0, 0, 0,    2,    0,    0,   0,
                           3, 0, 0, 0, 0, 0, 1, 'c', 0,   0,   0, 0, 0xff, 0xff, 0xff, 0xff};
    struct walked w = {0};
    assert_int_equal(group_record_consumer_assignment_walk(buf, sizeof(buf), on_partition, &w), 2);
    assert_int_equal(w.count, 2);
    assert_string_equal(w.seen[0], "ab/3");
    assert_string_equal(w.seen[1], "ab/0");
    /* Any truncation is refused before a single callback. */
    for (size_t cut = 0; cut < sizeof(buf); cut++) {
        struct walked none = {0};
        assert_int_equal(group_record_consumer_assignment_walk(buf, cut, on_partition, &none),
                         -EINVAL);
        assert_int_equal(none.count, 0);
    }
    /* A topic count the bytes cannot hold is refused, not trusted. */
    uint8_t lying[sizeof(buf)];
    memcpy(lying, buf, sizeof(buf));
    lying[2] = 0x7f;
    assert_int_equal(group_record_consumer_assignment_walk(lying, sizeof(lying), on_partition, &w),
                     -EINVAL);
}

static void test_java_hash_and_partition(void **state) {
    (void)state;
    /* Values computed with Java's String.hashCode semantics (UTF-16 code units). */
    assert_int_equal(group_record_java_hash("", 0), 0);
    assert_int_equal(group_record_java_hash("a", 1), 97);
    assert_int_equal(group_record_java_hash("hello", 5), 99162322);
    assert_int_equal(group_record_java_hash("my-group", 8), -1906497762);
    assert_int_equal(group_record_java_hash("test-consumer-group", 19), -1793216381);
    assert_int_equal(group_record_java_hash("gr\xc3\xbcppe", 7), -1233264812);
    /* U+1F600 is a surrogate pair in Java: two code units in the hash. */
    assert_int_equal(group_record_java_hash("g\xf0\x9f\x98\x80", 5), 1871882);

    assert_int_equal(group_record_partition_for("a", 50), 47);
    assert_int_equal(group_record_partition_for("hello", 50), 22);
    assert_int_equal(group_record_partition_for("my-group", 50), 12);
    assert_int_equal(group_record_partition_for("test-consumer-group", 50), 31);
    assert_int_equal(group_record_partition_for("gr\xc3\xbcppe", 50), 12);
    assert_int_equal(group_record_partition_for("g\xf0\x9f\x98\x80", 50), 32);
    /* The famous string whose hash is INT32_MIN: Utils.abs maps it to 0, not negative. */
    assert_int_equal(group_record_java_hash("polygenelubricants", 18), INT32_MIN);
    assert_int_equal(group_record_partition_for("polygenelubricants", 50), 0);
    assert_int_equal(group_record_partition_for("polygenelubricants", 7), 0);
    assert_int_equal(group_record_partition_for("anything", 1), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offset_key_bytes_and_round_trip),
        cmocka_unit_test(test_group_key),
        cmocka_unit_test(test_key_rejects_malformed),
        cmocka_unit_test(test_offset_value_versions),
        cmocka_unit_test(test_group_value_versions),
        cmocka_unit_test(test_group_value_empty_group_bytes),
        cmocka_unit_test(test_consumer_assignment_walk),
        cmocka_unit_test(test_java_hash_and_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
