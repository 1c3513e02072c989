/*
 * test_metadata.c — proves the metadata log's record format and the image built from it:
 * every record type round-trips field for field through encode/decode, the bytes of one
 * record match the documented layout, malformed input (short, padded, wrong type or
 * version, key/value mismatch, bad booleans, too many ids, strings with NUL) is refused,
 * the trace events carry the value's CRC-32C and partition state only for applied records,
 * and metadata_image_apply handles every record type — registration (fenced until
 * unfenced, epoch = offset), fence/unfence of the current and a stale registration, topics
 * kept sorted, partitions added and changed (eligible leader replicas outside the ISR),
 * configs set and deleted, topic removal —
 * refuses contradicting records without changing the image, and copies are independent.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controller/metadata.h"
#include "controller/metadata_records.h"
#include "io/io.h"
#include "log/crc32c.h"

/* --- A minimal io: only memory (the image allocates nothing else). ------------------- */

static void *t_alloc(void *ctx, size_t size) {
    (void)ctx;
    void *p = malloc(size);
    assert_non_null(p);
    return p;
}
static void *t_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
    (void)ctx;
    (void)old_size;
    void *p = realloc(ptr, new_size);
    assert_non_null(p);
    return p;
}
static void t_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    (void)size;
    free(ptr);
}

/* Trace capture: the last events' names, and the isr string of a metadata_partition. */
static char t_events[8][32];
static int t_event_count;
static char t_isr[64];
static int64_t t_crc;
static void t_trace(void *ctx, const char *event, const struct io_trace_field *fields,
                    size_t count) {
    (void)ctx;
    if (t_event_count < 8) snprintf(t_events[t_event_count++], 32, "%s", event);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(fields[i].key, "isr") == 0) snprintf(t_isr, sizeof(t_isr), "%s", fields[i].s);
        if (strcmp(fields[i].key, "crc") == 0) t_crc = fields[i].i;
    }
}

static const struct io_vtable t_vtable = {
    .alloc = t_alloc, .realloc = t_realloc, .free = t_free, .trace = t_trace};
static struct io t_io = {.vtable = &t_vtable, .ctx = NULL};

/* --- Helpers ------------------------------------------------------------------------- */

static struct metadata_record rec_register(int32_t id, const char *host, uint16_t port) {
    struct metadata_record r;
    memset(&r, 0, sizeof(r));
    r.type = METADATA_RECORD_REGISTER_BROKER;
    r.broker_id = id;
    snprintf(r.host, sizeof(r.host), "%s", host);
    r.port = port;
    for (int i = 0; i < 16; i++) {
        r.incarnation_id[i] = (uint8_t)(id * 16 + i);
    }
    return r;
}

static struct metadata_record rec_fence(enum metadata_record_type type, int32_t id, int64_t epoch) {
    struct metadata_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    r.broker_id = id;
    r.broker_epoch = epoch;
    return r;
}

static struct metadata_record rec_topic(enum metadata_record_type type, const char *name) {
    struct metadata_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    snprintf(r.topic, sizeof(r.topic), "%s", name);
    for (int i = 0; i < 16; i++) {
        r.topic_id[i] = (uint8_t)(name[0] + i);
    }
    return r;
}

static struct metadata_record rec_partition(enum metadata_record_type type, const char *topic,
                                            int32_t index, int32_t leader, int32_t leader_epoch,
                                            int32_t partition_epoch, uint32_t replica_count,
                                            const int32_t *replicas, uint32_t isr_count,
                                            const int32_t *isr) {
    struct metadata_record r;
    memset(&r, 0, sizeof(r));
    r.type = type;
    snprintf(r.topic, sizeof(r.topic), "%s", topic);
    r.partition = index;
    r.leader = leader;
    r.leader_epoch = leader_epoch;
    r.partition_epoch = partition_epoch;
    memcpy(r.replicas, replicas, replica_count * sizeof(int32_t));
    r.replica_count = replica_count;
    memcpy(r.isr, isr, isr_count * sizeof(int32_t));
    r.isr_count = isr_count;
    return r;
}

static struct metadata_record rec_config(const char *topic, const char *name, const char *value,
                                         bool del) {
    struct metadata_record r;
    memset(&r, 0, sizeof(r));
    r.type = METADATA_RECORD_TOPIC_CONFIG;
    snprintf(r.topic, sizeof(r.topic), "%s", topic);
    snprintf(r.config_name, sizeof(r.config_name), "%s", name);
    snprintf(r.config_value, sizeof(r.config_value), "%s", value);
    r.config_delete = del;
    return r;
}

/* Encodes, decodes and checks the decoded record equals the original byte for byte. */
static void round_trip(const struct metadata_record *r) {
    uint8_t key[METADATA_RECORD_KEY_BYTES];
    uint8_t value[METADATA_RECORD_VALUE_MAX];
    metadata_record_key_encode(r, key);
    int n = metadata_record_encode(r, value, sizeof(value));
    assert_true(n > 2);
    assert_int_equal(key[0], r->type);
    assert_int_equal(value[0], r->type);
    struct metadata_record back;
    assert_int_equal(metadata_record_decode(key, sizeof(key), value, (size_t)n, &back), 0);
    assert_memory_equal(&back, r, sizeof(back));
    /* Every shorter prefix is refused, never read past. */
    for (int len = 0; len < n; len++) {
        assert_int_equal(metadata_record_decode(key, sizeof(key), value, (size_t)len, &back),
                         -EINVAL);
    }
    /* A trailing byte is refused. */
    value[n] = 0;
    assert_int_equal(metadata_record_decode(key, sizeof(key), value, (size_t)n + 1, &back),
                     -EINVAL);
    /* Too small an output buffer is -ENOSPC. */
    assert_int_equal(metadata_record_encode(r, value, (size_t)n - 1), -ENOSPC);
}

static void apply_ok(struct metadata_image *image, int64_t offset,
                     const struct metadata_record *r) {
    /* Apply what the wire carries, as a node does. */
    uint8_t key[METADATA_RECORD_KEY_BYTES];
    uint8_t value[METADATA_RECORD_VALUE_MAX];
    metadata_record_key_encode(r, key);
    int n = metadata_record_encode(r, value, sizeof(value));
    assert_true(n > 0);
    struct metadata_record back;
    assert_int_equal(metadata_record_decode(key, sizeof(key), value, (size_t)n, &back), 0);
    assert_int_equal(metadata_image_apply(image, offset, 3, &back), 0);
    assert_int_equal(image->offset, offset);
    assert_int_equal(image->controller_epoch, 3);
}

/* --- Records ------------------------------------------------------------------------- */

static void test_round_trip_every_type(void **state) {
    (void)state;
    const int32_t replicas[] = {3, 1, 2};
    const int32_t isr[] = {1, 3};
    struct metadata_record rs[] = {
        rec_register(7, "n7.example", 9092),
        rec_fence(METADATA_RECORD_FENCE_BROKER, 7, 123456789012LL),
        rec_fence(METADATA_RECORD_UNFENCE_BROKER, 2, 5),
        rec_topic(METADATA_RECORD_TOPIC, "orders"),
        rec_partition(METADATA_RECORD_PARTITION, "orders", 4, 3, 0, 0, 3, replicas, 2, isr),
        rec_partition(METADATA_RECORD_PARTITION_CHANGE, "orders", 4, -1, 9, 11, 3, replicas, 0,
                      isr),
        rec_topic(METADATA_RECORD_REMOVE_TOPIC, "orders"),
        rec_config("orders", "retention.ms", "1000", false),
        rec_config("orders", "cleanup.policy", "", true),
    };
    memset(rs[6].topic_id, 0, sizeof(rs[6].topic_id)); /* RemoveTopic carries only a name. */
    rs[5].unclean = true;
    rs[5].elr[0] = 1;
    rs[5].elr[1] = 2;
    rs[5].elr_count = 2;
    for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
        round_trip(&rs[i]);
        assert_string_not_equal(metadata_record_type_name(rs[i].type), "?");
    }
    assert_string_equal(metadata_record_type_name(99), "?");
}

static void test_bytes_match_layout(void **state) {
    (void)state;
    struct metadata_record r = rec_fence(METADATA_RECORD_FENCE_BROKER, 2, 0x0102030405LL);
    uint8_t value[64];
    int n = metadata_record_encode(&r, value, sizeof(value));
    const uint8_t want[] = {2, 0, 0, 0, 0, 2, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05};
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(value, want, sizeof(want));

    const int32_t one[] = {1};
    r = rec_partition(METADATA_RECORD_PARTITION, "t", 0, 1, 0, 0, 1, one, 1, one);
    n = metadata_record_encode(&r, value, sizeof(value));
    /* type, version | "t" | partition 0 | leader 1 | epochs 0, 0 | replicas [1] | isr [1] |
     * unclean 0 | elr [] */
    const uint8_t want_p[] = {5, 0, 0, 1, 't', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                              0, 0, 0, 0, 1,   0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0};
    assert_int_equal(n, sizeof(want_p));
    assert_memory_equal(value, want_p, sizeof(want_p));
}

static void test_bad_bytes_rejected(void **state) {
    (void)state;
    struct metadata_record out;
    struct metadata_record r = rec_config("t", "a", "b", false);
    uint8_t key[METADATA_RECORD_KEY_BYTES];
    uint8_t value[METADATA_RECORD_VALUE_MAX];
    metadata_record_key_encode(&r, key);
    int n = metadata_record_encode(&r, value, sizeof(value));
    assert_true(n > 0);
    assert_int_equal(metadata_record_decode(key, 2, value, (size_t)n, &out), 0);

    /* Key and value disagree on the type. */
    uint8_t bad_key[2] = {METADATA_RECORD_TOPIC, 0};
    assert_int_equal(metadata_record_decode(bad_key, 2, value, (size_t)n, &out), -EINVAL);
    /* Unknown version (in key or value), unknown type, wrong key length, null pointers. */
    uint8_t v1_key[2] = {key[0], 1};
    assert_int_equal(metadata_record_decode(v1_key, 2, value, (size_t)n, &out), -EINVAL);
    value[1] = 1;
    assert_int_equal(metadata_record_decode(key, 2, value, (size_t)n, &out), -EINVAL);
    value[1] = 0;
    uint8_t zero_key[2] = {0, 0};
    uint8_t zero_value[2] = {0, 0};
    assert_int_equal(metadata_record_decode(zero_key, 2, zero_value, 2, &out), -EINVAL);
    uint8_t big_key[2] = {9, 0};
    uint8_t big_value[2] = {9, 0};
    assert_int_equal(metadata_record_decode(big_key, 2, big_value, 2, &out), -EINVAL);
    assert_int_equal(metadata_record_decode(key, 1, value, (size_t)n, &out), -EINVAL);
    assert_int_equal(metadata_record_decode(NULL, 2, value, (size_t)n, &out), -EINVAL);
    assert_int_equal(metadata_record_decode(key, 2, NULL, 0, &out), -EINVAL);

    /* A boolean other than 0/1: the delete flag sits after "t" and "a". */
    size_t flag = 2 + 2 + 1 + 2 + 1;
    assert_int_equal(value[flag], 0);
    value[flag] = 2;
    assert_int_equal(metadata_record_decode(key, 2, value, (size_t)n, &out), -EINVAL);
    value[flag] = 0;
    /* A NUL byte inside a string. */
    value[4] = 0;
    assert_int_equal(metadata_record_decode(key, 2, value, (size_t)n, &out), -EINVAL);
    value[4] = 't';
    /* A string length beyond the field (config name max 63). */
    value[5] = 0;
    value[6] = 64;
    assert_int_equal(metadata_record_decode(key, 2, value, (size_t)n, &out), -EINVAL);

    /* Too many ids in a partition record: the replica count byte says 17. */
    const int32_t one[] = {1};
    r = rec_partition(METADATA_RECORD_PARTITION, "t", 0, 1, 0, 0, 1, one, 1, one);
    metadata_record_key_encode(&r, key);
    n = metadata_record_encode(&r, value, sizeof(value));
    size_t count_at = 2 + 2 + 1 + 16;
    assert_int_equal(value[count_at], 1);
    value[count_at] = METADATA_REPLICAS_MAX + 1;
    assert_int_equal(metadata_record_decode(key, 2, value, (size_t)n, &out), -EINVAL);

    /* Encoding refuses what cannot be represented. */
    r.replica_count = METADATA_REPLICAS_MAX + 1;
    assert_int_equal(metadata_record_encode(&r, value, sizeof(value)), -EINVAL);
    r.type = (enum metadata_record_type)0;
    assert_int_equal(metadata_record_encode(&r, value, sizeof(value)), -EINVAL);
}

static void test_ids_format(void **state) {
    (void)state;
    char buf[64];
    const int32_t ids[] = {1, 20, 300};
    metadata_ids_format(ids, 3, buf, sizeof(buf));
    assert_string_equal(buf, "1,20,300");
    metadata_ids_format(ids, 0, buf, sizeof(buf));
    assert_string_equal(buf, "");
    char small[4];
    metadata_ids_format(ids, 3, small, sizeof(small));
    assert_int_equal(strlen(small), 3); /* Truncated, still terminated. */
}

static void test_trace_events(void **state) {
    (void)state;
    const int32_t reps[] = {3, 1, 2};
    const int32_t isr[] = {1, 3};
    struct metadata_record r =
        rec_partition(METADATA_RECORD_PARTITION_CHANGE, "t", 0, 1, 2, 3, 3, reps, 2, isr);
    uint8_t value[METADATA_RECORD_VALUE_MAX];
    int n = metadata_record_encode(&r, value, sizeof(value));
    assert_true(n > 0);
    t_event_count = 0;
    metadata_record_trace(&t_io, 10, 4, &r, value, (size_t)n, true);
    assert_int_equal(t_event_count, 2);
    assert_string_equal(t_events[0], "metadata_apply");
    assert_string_equal(t_events[1], "metadata_partition");
    assert_string_equal(t_isr, "1,3");
    assert_int_equal(t_crc, crc32c_update(0, value, (size_t)n));
    /* A record the image refused shows in the log comparison only. */
    t_event_count = 0;
    metadata_record_trace(&t_io, 11, 4, &r, value, (size_t)n, false);
    assert_int_equal(t_event_count, 1);
    assert_string_equal(t_events[0], "metadata_apply");
    struct metadata_record topic = rec_topic(METADATA_RECORD_TOPIC, "t");
    n = metadata_record_encode(&topic, value, sizeof(value));
    t_event_count = 0;
    metadata_record_trace(&t_io, 12, 4, &topic, value, (size_t)n, true);
    assert_int_equal(t_event_count, 1);
}

/* --- Image --------------------------------------------------------------------------- */

static void test_image_brokers(void **state) {
    (void)state;
    struct metadata_image image;
    metadata_image_init(&image, &t_io);
    assert_int_equal(image.offset, -1);
    struct metadata_record r = rec_register(3, "h3", 9092);
    apply_ok(&image, 10, &r);
    r = rec_register(1, "h1", 9093);
    apply_ok(&image, 11, &r);
    assert_int_equal(image.broker_count, 2);
    assert_int_equal(image.brokers[0].id, 1); /* Sorted by id. */
    const struct metadata_broker *b = metadata_broker_find(&image, 3);
    assert_non_null(b);
    assert_int_equal(b->epoch, 10);
    assert_string_equal(b->host, "h3");
    assert_int_equal(b->port, 9092);
    assert_true(b->fenced);
    assert_int_equal(metadata_image_unfenced_count(&image), 0);
    assert_null(metadata_broker_find(&image, 2));

    r = rec_fence(METADATA_RECORD_UNFENCE_BROKER, 3, 10);
    apply_ok(&image, 12, &r);
    assert_false(metadata_broker_find(&image, 3)->fenced);
    assert_int_equal(metadata_image_unfenced_count(&image), 1);
    /* An unfence naming a stale registration epoch changes nothing. */
    r = rec_fence(METADATA_RECORD_UNFENCE_BROKER, 1, 5);
    apply_ok(&image, 13, &r);
    assert_true(metadata_broker_find(&image, 1)->fenced);
    r = rec_fence(METADATA_RECORD_FENCE_BROKER, 3, 10);
    apply_ok(&image, 14, &r);
    assert_true(metadata_broker_find(&image, 3)->fenced);
    /* Re-registration: new epoch, fenced, new endpoint. */
    r = rec_register(3, "h3b", 1234);
    apply_ok(&image, 15, &r);
    b = metadata_broker_find(&image, 3);
    assert_int_equal(b->epoch, 15);
    assert_string_equal(b->host, "h3b");
    assert_int_equal(image.broker_count, 2);
    /* Fencing an unknown broker contradicts the image. */
    r = rec_fence(METADATA_RECORD_FENCE_BROKER, 9, 1);
    assert_int_equal(metadata_image_apply(&image, 16, 3, &r), -EINVAL);
    assert_int_equal(image.offset, 16);
    assert_int_equal(image.broker_count, 2);
    /* Many brokers: the array grows and stays sorted. */
    for (int32_t id = 100; id > 50; id--) {
        r = rec_register(id, "h", 1);
        apply_ok(&image, 100 + (100 - id), &r);
    }
    assert_int_equal(image.broker_count, 52);
    for (uint32_t i = 1; i < image.broker_count; i++) {
        assert_true(image.brokers[i - 1].id < image.brokers[i].id);
    }
    metadata_image_free(&image);
}

static void test_image_topics_partitions_configs(void **state) {
    (void)state;
    struct metadata_image image;
    metadata_image_init(&image, &t_io);
    const char *names[] = {"m", "b", "z", "a"};
    int64_t off = 0;
    for (int i = 0; i < 4; i++) {
        struct metadata_record r = rec_topic(METADATA_RECORD_TOPIC, names[i]);
        apply_ok(&image, off++, &r);
    }
    assert_int_equal(image.topic_count, 4);
    assert_string_equal(image.topics[0].name, "a");
    assert_string_equal(image.topics[3].name, "z");
    /* A duplicate topic is refused. */
    struct metadata_record r = rec_topic(METADATA_RECORD_TOPIC, "b");
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);
    assert_int_equal(image.topic_count, 4);

    const int32_t reps[] = {1, 2, 3};
    const int32_t isr[] = {1, 2, 3};
    r = rec_partition(METADATA_RECORD_PARTITION, "b", 1, 2, 0, 0, 3, reps, 3, isr);
    apply_ok(&image, off++, &r);
    r = rec_partition(METADATA_RECORD_PARTITION, "b", 0, 1, 0, 0, 3, reps, 3, isr);
    apply_ok(&image, off++, &r);
    const struct metadata_topic *t = metadata_topic_find(&image, "b");
    assert_int_equal(t->partition_count, 2);
    assert_int_equal(t->partitions[0].index, 0); /* Sorted by index. */
    const struct metadata_partition *p = metadata_partition_find(&image, "b", 1);
    assert_int_equal(p->leader, 2);
    assert_true(metadata_partition_has_replica(p, 3));
    assert_false(metadata_partition_has_replica(p, 4));
    assert_true(metadata_partition_in_isr(p, 1));
    assert_null(metadata_partition_find(&image, "b", 2));
    assert_null(metadata_partition_find(&image, "nope", 0));

    /* Duplicates, unknown topics and malformed states are refused without change. */
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);
    r = rec_partition(METADATA_RECORD_PARTITION, "nope", 0, 1, 0, 0, 3, reps, 3, isr);
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);
    const int32_t isr_unsorted[] = {2, 1};
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 0, 1, 1, 1, 3, reps, 2, isr_unsorted);
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);
    const int32_t isr_foreign[] = {1, 9};
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 0, 1, 1, 1, 3, reps, 2, isr_foreign);
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);
    const int32_t isr_23[] = {2, 3};
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 0, 1, 1, 1, 3, reps, 2, isr_23);
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL); /* Leader not in ISR. */
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 7, 1, 1, 1, 3, reps, 3, isr);
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL); /* No such index. */
    assert_int_equal(metadata_partition_find(&image, "b", 0)->leader_epoch, 0);

    /* ELR members must be replicas outside the ISR, sorted. */
    const int32_t isr_1[] = {1};
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 0, 1, 1, 1, 3, reps, 1, isr_1);
    r.elr[0] = 1;
    r.elr_count = 1;
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL); /* In the ISR. */
    r.elr[0] = 9;
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL); /* Not a replica. */
    r.elr[0] = 3;
    r.elr[1] = 2;
    r.elr_count = 2;
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL); /* Unsorted. */
    r.elr[0] = 2;
    r.elr[1] = 3;
    apply_ok(&image, off++, &r);
    p = metadata_partition_find(&image, "b", 0);
    assert_int_equal(p->elr_count, 2);
    assert_int_equal(p->elr[1], 3);

    /* A change replaces the state. */
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 0, 2, 1, 1, 3, reps, 2, isr_23);
    apply_ok(&image, off++, &r);
    p = metadata_partition_find(&image, "b", 0);
    assert_int_equal(p->leader, 2);
    assert_int_equal(p->leader_epoch, 1);
    assert_int_equal(p->partition_epoch, 1);
    assert_int_equal(p->isr_count, 2);
    assert_false(metadata_partition_in_isr(p, 1));
    /* Leaderless (-1) with an empty ISR is a valid state. */
    r = rec_partition(METADATA_RECORD_PARTITION_CHANGE, "b", 0, -1, 2, 2, 3, reps, 0, isr);
    apply_ok(&image, off++, &r);
    assert_int_equal(metadata_partition_find(&image, "b", 0)->leader, -1);

    /* Configs: set, overwrite, sorted, delete, delete-missing is fine. */
    r = rec_config("b", "retention.ms", "10", false);
    apply_ok(&image, off++, &r);
    r = rec_config("b", "cleanup.policy", "compact", false);
    apply_ok(&image, off++, &r);
    r = rec_config("b", "retention.ms", "20", false);
    apply_ok(&image, off++, &r);
    t = metadata_topic_find(&image, "b");
    assert_int_equal(t->config_count, 2);
    assert_string_equal(t->configs[0].name, "cleanup.policy");
    assert_string_equal(t->configs[1].value, "20");
    r = rec_config("b", "cleanup.policy", "", true);
    apply_ok(&image, off++, &r);
    r = rec_config("b", "never.set", "", true);
    apply_ok(&image, off++, &r);
    t = metadata_topic_find(&image, "b");
    assert_int_equal(t->config_count, 1);
    assert_string_equal(t->configs[0].name, "retention.ms");
    r = rec_config("nope", "x", "y", false);
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);

    /* Copy is deep: changing the original leaves the copy. */
    struct metadata_image copy;
    metadata_image_init(&copy, &t_io);
    assert_int_equal(metadata_image_copy(&copy, &image), 0);
    assert_int_equal(copy.offset, image.offset);

    /* Removal deletes the topic and its partitions. */
    r = rec_topic(METADATA_RECORD_REMOVE_TOPIC, "b");
    apply_ok(&image, off++, &r);
    assert_null(metadata_topic_find(&image, "b"));
    assert_int_equal(image.topic_count, 3);
    assert_string_equal(image.topics[1].name, "m");
    assert_int_equal(metadata_image_apply(&image, off++, 3, &r), -EINVAL);
    /* A topic of the same name can be created again, with no partitions. */
    r = rec_topic(METADATA_RECORD_TOPIC, "b");
    apply_ok(&image, off++, &r);
    assert_int_equal(metadata_topic_find(&image, "b")->partition_count, 0);

    t = metadata_topic_find(&copy, "b");
    assert_non_null(t);
    assert_int_equal(t->partition_count, 2);
    assert_int_equal(t->partitions[0].leader, -1);
    assert_int_equal(t->config_count, 1);
    /* Copy over a non-empty image frees the old content. */
    assert_int_equal(metadata_image_copy(&copy, &image), 0);
    assert_int_equal(metadata_topic_find(&copy, "b")->partition_count, 0);
    metadata_image_free(&copy);
    metadata_image_free(&image);
    metadata_image_free(&image); /* Idempotent. */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_type),
        cmocka_unit_test(test_bytes_match_layout),
        cmocka_unit_test(test_bad_bytes_rejected),
        cmocka_unit_test(test_ids_format),
        cmocka_unit_test(test_trace_events),
        cmocka_unit_test(test_image_brokers),
        cmocka_unit_test(test_image_topics_partitions_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
