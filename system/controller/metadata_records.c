/*
 * metadata_records.c — encoder and decoder of the metadata log's records (format in
 * metadata_records.h), plus the trace events every applying node emits.
 *
 * The writer and reader are tiny cursor structs that fail sticky: once a write runs out of
 * room or a read runs past the end, every later step is a no-op and the final check
 * reports it, so the per-type code stays a flat list of fields.
 */
#include "controller/metadata_records.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "log/crc32c.h"

struct rec_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool failed;  /* Out of room. */
    bool invalid; /* A field does not fit its format (string too long, too many ids). */
};

struct rec_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    bool failed;
};

static void put_bytes(struct rec_writer *w, const void *data, size_t n) {
    if (w->failed || w->cap - w->len < n) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void put_u8(struct rec_writer *w, uint8_t v) { put_bytes(w, &v, 1); }

static void put_u16(struct rec_writer *w, uint16_t v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(w, b, 2);
}

static void put_i32(struct rec_writer *w, int32_t v) {
    uint32_t u = (uint32_t)v;
    uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};
    put_bytes(w, b, 4);
}

static void put_i64(struct rec_writer *w, int64_t v) {
    put_i32(w, (int32_t)(uint32_t)((uint64_t)v >> 32));
    put_i32(w, (int32_t)(uint32_t)(uint64_t)v);
}

/* A string of at most `max` bytes (the field's capacity minus its NUL). */
static void put_str(struct rec_writer *w, const char *s, size_t max) {
    size_t n = strnlen(s, max + 1);
    if (n > max) {
        w->invalid = true;
        return;
    }
    put_u16(w, (uint16_t)n);
    put_bytes(w, s, n);
}

static void put_ids(struct rec_writer *w, const int32_t *ids, uint32_t count) {
    if (count > METADATA_REPLICAS_MAX) {
        w->invalid = true;
        return;
    }
    put_u8(w, (uint8_t)count);
    for (uint32_t i = 0; i < count; i++) {
        put_i32(w, ids[i]);
    }
}

static const uint8_t *get_bytes(struct rec_reader *r, size_t n) {
    if (r->failed || r->len - r->pos < n) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

static uint8_t get_u8(struct rec_reader *r) {
    const uint8_t *p = get_bytes(r, 1);
    return p == NULL ? 0 : p[0];
}

static uint16_t get_u16(struct rec_reader *r) {
    const uint8_t *p = get_bytes(r, 2);
    return p == NULL ? 0 : (uint16_t)((p[0] << 8) | p[1]);
}

static int32_t get_i32(struct rec_reader *r) {
    const uint8_t *p = get_bytes(r, 4);
    if (p == NULL) {
        return 0;
    }
    return (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) |
                     (uint32_t)p[3]);
}

static int64_t get_i64(struct rec_reader *r) {
    uint64_t hi = (uint32_t)get_i32(r);
    uint64_t lo = (uint32_t)get_i32(r);
    return (int64_t)((hi << 32) | lo);
}

static bool get_bool(struct rec_reader *r) {
    uint8_t v = get_u8(r);
    if (v > 1) {
        r->failed = true;
    }
    return v == 1;
}

/* Into `out` of `size` bytes (so at most size - 1 characters); no NUL bytes inside. */
static void get_str(struct rec_reader *r, char *out, size_t size) {
    uint16_t n = get_u16(r);
    if (r->failed) {
        return;
    }
    if (n >= size) {
        r->failed = true;
        return;
    }
    const uint8_t *p = get_bytes(r, n);
    if (p == NULL) {
        return;
    }
    if (memchr(p, 0, n) != NULL) {
        r->failed = true;
        return;
    }
    memcpy(out, p, n);
    out[n] = '\0';
}

static void get_ids(struct rec_reader *r, int32_t *ids, uint32_t *count) {
    uint8_t n = get_u8(r);
    if (r->failed) {
        return;
    }
    if (n > METADATA_REPLICAS_MAX) {
        r->failed = true;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = get_i32(r);
    }
    *count = n;
}

const char *metadata_record_type_name(int type) {
    switch (type) {
    case METADATA_RECORD_REGISTER_BROKER:
        return "RegisterBroker";
    case METADATA_RECORD_FENCE_BROKER:
        return "FenceBroker";
    case METADATA_RECORD_UNFENCE_BROKER:
        return "UnfenceBroker";
    case METADATA_RECORD_TOPIC:
        return "Topic";
    case METADATA_RECORD_PARTITION:
        return "Partition";
    case METADATA_RECORD_PARTITION_CHANGE:
        return "PartitionChange";
    case METADATA_RECORD_REMOVE_TOPIC:
        return "RemoveTopic";
    case METADATA_RECORD_TOPIC_CONFIG:
        return "TopicConfig";
    default:
        return "?";
    }
}

void metadata_record_key_encode(const struct metadata_record *record,
                                uint8_t key[METADATA_RECORD_KEY_BYTES]) {
    ASSERT(record->type >= 1 && record->type <= METADATA_RECORD_TYPE_MAX);
    key[0] = (uint8_t)record->type;
    key[1] = METADATA_RECORD_VERSION;
}

int metadata_record_encode(const struct metadata_record *record, uint8_t *buf, size_t cap) {
    struct rec_writer w = {.buf = buf, .cap = cap};
    if (record->type < 1 || record->type > METADATA_RECORD_TYPE_MAX) {
        return -EINVAL;
    }
    put_u8(&w, (uint8_t)record->type);
    put_u8(&w, METADATA_RECORD_VERSION);
    switch (record->type) {
    case METADATA_RECORD_REGISTER_BROKER:
        put_i32(&w, record->broker_id);
        put_str(&w, record->host, sizeof(record->host) - 1);
        put_u16(&w, record->port);
        put_bytes(&w, record->incarnation_id, sizeof(record->incarnation_id));
        break;
    case METADATA_RECORD_FENCE_BROKER:
    case METADATA_RECORD_UNFENCE_BROKER:
        put_i32(&w, record->broker_id);
        put_i64(&w, record->broker_epoch);
        break;
    case METADATA_RECORD_TOPIC:
        put_str(&w, record->topic, sizeof(record->topic) - 1);
        put_bytes(&w, record->topic_id, sizeof(record->topic_id));
        break;
    case METADATA_RECORD_PARTITION:
    case METADATA_RECORD_PARTITION_CHANGE:
        put_str(&w, record->topic, sizeof(record->topic) - 1);
        put_i32(&w, record->partition);
        put_i32(&w, record->leader);
        put_i32(&w, record->leader_epoch);
        put_i32(&w, record->partition_epoch);
        put_ids(&w, record->replicas, record->replica_count);
        put_ids(&w, record->isr, record->isr_count);
        put_u8(&w, record->unclean ? 1 : 0);
        put_ids(&w, record->elr, record->elr_count);
        break;
    case METADATA_RECORD_REMOVE_TOPIC:
        put_str(&w, record->topic, sizeof(record->topic) - 1);
        break;
    case METADATA_RECORD_TOPIC_CONFIG:
        put_str(&w, record->topic, sizeof(record->topic) - 1);
        put_str(&w, record->config_name, sizeof(record->config_name) - 1);
        put_u8(&w, record->config_delete ? 1 : 0);
        put_str(&w, record->config_delete ? "" : record->config_value,
                sizeof(record->config_value) - 1);
        break;
    }
    if (w.invalid) {
        return -EINVAL;
    }
    if (w.failed) {
        return -ENOSPC;
    }
    ASSERT(w.len <= METADATA_RECORD_VALUE_MAX);
    return (int)w.len;
}

int metadata_record_decode(const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len, struct metadata_record *out) {
    memset(out, 0, sizeof(*out));
    if (key == NULL || value == NULL || key_len != METADATA_RECORD_KEY_BYTES || value_len < 2) {
        return -EINVAL;
    }
    if (key[0] != value[0] || key[1] != METADATA_RECORD_VERSION ||
        value[1] != METADATA_RECORD_VERSION || value[0] < 1 ||
        value[0] > METADATA_RECORD_TYPE_MAX) {
        return -EINVAL;
    }
    struct rec_reader r = {.buf = value, .len = value_len, .pos = 2};
    out->type = (enum metadata_record_type)value[0];
    switch (out->type) {
    case METADATA_RECORD_REGISTER_BROKER: {
        out->broker_id = get_i32(&r);
        get_str(&r, out->host, sizeof(out->host));
        out->port = get_u16(&r);
        const uint8_t *id = get_bytes(&r, sizeof(out->incarnation_id));
        if (id != NULL) {
            memcpy(out->incarnation_id, id, sizeof(out->incarnation_id));
        }
        break;
    }
    case METADATA_RECORD_FENCE_BROKER:
    case METADATA_RECORD_UNFENCE_BROKER:
        out->broker_id = get_i32(&r);
        out->broker_epoch = get_i64(&r);
        break;
    case METADATA_RECORD_TOPIC: {
        get_str(&r, out->topic, sizeof(out->topic));
        const uint8_t *id = get_bytes(&r, sizeof(out->topic_id));
        if (id != NULL) {
            memcpy(out->topic_id, id, sizeof(out->topic_id));
        }
        break;
    }
    case METADATA_RECORD_PARTITION:
    case METADATA_RECORD_PARTITION_CHANGE:
        get_str(&r, out->topic, sizeof(out->topic));
        out->partition = get_i32(&r);
        out->leader = get_i32(&r);
        out->leader_epoch = get_i32(&r);
        out->partition_epoch = get_i32(&r);
        get_ids(&r, out->replicas, &out->replica_count);
        get_ids(&r, out->isr, &out->isr_count);
        out->unclean = get_bool(&r);
        get_ids(&r, out->elr, &out->elr_count);
        break;
    case METADATA_RECORD_REMOVE_TOPIC:
        get_str(&r, out->topic, sizeof(out->topic));
        break;
    case METADATA_RECORD_TOPIC_CONFIG:
        get_str(&r, out->topic, sizeof(out->topic));
        get_str(&r, out->config_name, sizeof(out->config_name));
        out->config_delete = get_bool(&r);
        get_str(&r, out->config_value, sizeof(out->config_value));
        break;
    }
    if (r.failed || r.pos != r.len) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return 0;
}

void metadata_record_to_partition(const struct metadata_record *record,
                                  struct metadata_partition *p) {
    ASSERT(record->type == METADATA_RECORD_PARTITION ||
           record->type == METADATA_RECORD_PARTITION_CHANGE);
    ASSERT(record->replica_count <= METADATA_REPLICAS_MAX);
    ASSERT(record->isr_count <= METADATA_REPLICAS_MAX);
    memset(p, 0, sizeof(*p));
    p->index = record->partition;
    p->leader = record->leader;
    p->leader_epoch = record->leader_epoch;
    p->partition_epoch = record->partition_epoch;
    memcpy(p->replicas, record->replicas, record->replica_count * sizeof(int32_t));
    p->replica_count = record->replica_count;
    memcpy(p->isr, record->isr, record->isr_count * sizeof(int32_t));
    p->isr_count = record->isr_count;
    p->unclean = record->unclean;
    ASSERT(record->elr_count <= METADATA_REPLICAS_MAX);
    memcpy(p->elr, record->elr, record->elr_count * sizeof(int32_t));
    p->elr_count = record->elr_count;
}

void metadata_record_from_partition(struct metadata_record *record, enum metadata_record_type type,
                                    const char *topic, const struct metadata_partition *p) {
    ASSERT(type == METADATA_RECORD_PARTITION || type == METADATA_RECORD_PARTITION_CHANGE);
    ASSERT(strlen(topic) <= METADATA_TOPIC_NAME_MAX);
    memset(record, 0, sizeof(*record));
    record->type = type;
    snprintf(record->topic, sizeof(record->topic), "%s", topic);
    record->partition = p->index;
    record->leader = p->leader;
    record->leader_epoch = p->leader_epoch;
    record->partition_epoch = p->partition_epoch;
    memcpy(record->replicas, p->replicas, p->replica_count * sizeof(int32_t));
    record->replica_count = p->replica_count;
    memcpy(record->isr, p->isr, p->isr_count * sizeof(int32_t));
    record->isr_count = p->isr_count;
    record->unclean = p->unclean;
    memcpy(record->elr, p->elr, p->elr_count * sizeof(int32_t));
    record->elr_count = p->elr_count;
}

void metadata_ids_format(const int32_t *ids, uint32_t count, char *buf, size_t size) {
    ASSERT(size > 0);
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%d", i == 0 ? "" : ",", (int)ids[i]);
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

void metadata_record_trace(struct io *io, int64_t offset, int32_t epoch,
                           const struct metadata_record *record, const uint8_t *value,
                           size_t value_len, bool applied) {
    io_tracef(io, "metadata_apply", IO_TF_I("offset", offset), IO_TF_I("epoch", epoch),
              IO_TF_I("type", record->type), IO_TF_I("crc", crc32c_update(0, value, value_len)));
    if (applied && (record->type == METADATA_RECORD_PARTITION ||
                    record->type == METADATA_RECORD_PARTITION_CHANGE)) {
        char isr[METADATA_REPLICAS_MAX * 12 + 1];
        metadata_ids_format(record->isr, record->isr_count, isr, sizeof(isr));
        io_tracef(io, "metadata_partition", IO_TF_S("topic", record->topic),
                  IO_TF_I("partition", record->partition), IO_TF_I("leader", record->leader),
                  IO_TF_I("leader_epoch", record->leader_epoch),
                  IO_TF_I("partition_epoch", record->partition_epoch), IO_TF_S("isr", isr));
    }
}
