/*
 * group_records.c — encoders and bounds-checked zero-copy decoders for the records of
 * __consumer_offsets, and Kafka's group -> partition hash. See group_records.h for the
 * formats; this file only knows bytes, never the coordinator's state.
 */
#include "coordinator/group_records.h"

#include <errno.h>
#include <string.h>

#include "base/base.h"

struct group_str group_str_c(const char *s) {
    if (s == NULL) return (struct group_str){.ptr = NULL, .len = -1};
    size_t len = strlen(s);
    ASSERT(len <= INT16_MAX);
    return (struct group_str){.ptr = s, .len = (int32_t)len};
}

bool group_str_eq(struct group_str a, const char *s) {
    if (s == NULL) return a.len < 0;
    if (a.len < 0) return false;
    return strlen(s) == (size_t)a.len && memcmp(a.ptr, s, (size_t)a.len) == 0;
}

/* --- Writer: a cursor that asserts it never passes the end ---------------------------- */

struct writer {
    uint8_t *buf;
    size_t cap;
    size_t pos;
};

static void put_bytes(struct writer *w, const void *src, size_t len) {
    ASSERT(w->pos <= w->cap && len <= w->cap - w->pos);
    if (len > 0) memcpy(w->buf + w->pos, src, len);
    w->pos += len;
}

static void put_u64(struct writer *w, uint64_t v, size_t width) {
    uint8_t tmp[8];
    ASSERT(width <= sizeof(tmp));
    for (size_t i = 0; i < width; i++)
        tmp[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
    put_bytes(w, tmp, width);
}

static void put_i16(struct writer *w, int16_t v) { put_u64(w, (uint16_t)v, 2); }
static void put_i32(struct writer *w, int32_t v) { put_u64(w, (uint32_t)v, 4); }
static void put_i64(struct writer *w, int64_t v) { put_u64(w, (uint64_t)v, 8); }

static void put_str(struct writer *w, struct group_str s) {
    ASSERT(s.len >= -1 && s.len <= INT16_MAX);
    put_i16(w, (int16_t)s.len);
    if (s.len > 0) put_bytes(w, s.ptr, (size_t)s.len);
}

static void put_cstr(struct writer *w, const char *s) { put_str(w, group_str_c(s)); }

static void put_blob(struct writer *w, const uint8_t *p, int32_t len) {
    ASSERT(len >= 0);
    put_i32(w, len);
    put_bytes(w, p, (size_t)len);
}

static size_t str_size(struct group_str s) { return 2 + (s.len > 0 ? (size_t)s.len : 0); }
static size_t cstr_size(const char *s) { return str_size(group_str_c(s)); }

/* --- Reader: every get fails instead of reading past the end -------------------------- */

struct reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    bool bad; /* Sticky: once set, every later get fails too. */
};

static bool need(struct reader *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return false;
    }
    return true;
}

static uint64_t get_u64(struct reader *r, size_t width) {
    if (!need(r, width)) return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = (v << 8) | r->buf[r->pos + i];
    r->pos += width;
    return v;
}

static int16_t get_i16(struct reader *r) { return (int16_t)(uint16_t)get_u64(r, 2); }
static int32_t get_i32(struct reader *r) { return (int32_t)(uint32_t)get_u64(r, 4); }
static int64_t get_i64(struct reader *r) { return (int64_t)get_u64(r, 8); }

static struct group_str get_str(struct reader *r, bool nullable) {
    struct group_str s = {.ptr = NULL, .len = -1};
    int16_t len = get_i16(r);
    if (r->bad) return s;
    if (len < 0) {
        if (len != -1 || !nullable) r->bad = true;
        return s;
    }
    if (!need(r, (size_t)len)) return s;
    s.ptr = (const char *)r->buf + r->pos;
    s.len = len;
    r->pos += (size_t)len;
    return s;
}

static const uint8_t *get_blob(struct reader *r, int32_t *len_out) {
    *len_out = 0;
    int32_t len = get_i32(r);
    if (r->bad) return NULL;
    if (len < 0 || !need(r, (size_t)len)) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += (size_t)len;
    *len_out = len;
    return p;
}

/* A decode succeeds only if nothing was short and nothing is left over. */
static int reader_finish(const struct reader *r) {
    return (r->bad || r->pos != r->len) ? -EINVAL : 0;
}

/* --- Keys ----------------------------------------------------------------------------- */

size_t group_record_offset_key_size(const char *group, const char *topic) {
    return 2 + cstr_size(group) + cstr_size(topic) + 4;
}

size_t group_record_offset_key_encode(uint8_t *buf, size_t cap, const char *group,
                                      const char *topic, int32_t partition) {
    ASSERT(group != NULL && topic != NULL && partition >= 0);
    struct writer w = {.buf = buf, .cap = cap, .pos = 0};
    put_i16(&w, GROUP_RECORD_KEY_OFFSET_V1);
    put_cstr(&w, group);
    put_cstr(&w, topic);
    put_i32(&w, partition);
    ASSERT(w.pos == group_record_offset_key_size(group, topic));
    return w.pos;
}

size_t group_record_group_key_size(const char *group) { return 2 + cstr_size(group); }

size_t group_record_group_key_encode(uint8_t *buf, size_t cap, const char *group) {
    ASSERT(group != NULL);
    struct writer w = {.buf = buf, .cap = cap, .pos = 0};
    put_i16(&w, GROUP_RECORD_KEY_GROUP);
    put_cstr(&w, group);
    ASSERT(w.pos == group_record_group_key_size(group));
    return w.pos;
}

int group_record_key_decode(const uint8_t *buf, size_t len, struct group_record_key *out) {
    ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    struct reader r = {.buf = buf, .len = len, .pos = 0, .bad = false};
    out->version = get_i16(&r);
    if (r.bad) return -EINVAL;
    out->topic = (struct group_str){.ptr = NULL, .len = -1};
    out->partition = -1;
    switch (out->version) {
    case GROUP_RECORD_KEY_OFFSET_V0:
    case GROUP_RECORD_KEY_OFFSET_V1:
        out->group = get_str(&r, false);
        out->topic = get_str(&r, false);
        out->partition = get_i32(&r);
        if (!r.bad && out->partition < 0) return -EINVAL;
        break;
    case GROUP_RECORD_KEY_GROUP:
        out->group = get_str(&r, false);
        break;
    default:
        return out->version < 0 ? -EINVAL : -ENOTSUP;
    }
    return reader_finish(&r);
}

/* --- Offset commit values ------------------------------------------------------------- */

size_t group_record_offset_value_size(const struct group_offset_value *value) {
    ASSERT(value->version >= 0 && value->version <= 3);
    size_t size = 2 + 8 + str_size(value->metadata) + 8;
    if (value->version == 1) size += 8;
    if (value->version == 3) size += 4;
    return size;
}

size_t group_record_offset_value_encode(uint8_t *buf, size_t cap,
                                        const struct group_offset_value *value) {
    ASSERT(value->version >= 0 && value->version <= 3);
    ASSERT(value->metadata.len >= 0); /* Never null in any version. */
    struct writer w = {.buf = buf, .cap = cap, .pos = 0};
    put_i16(&w, value->version);
    put_i64(&w, value->offset);
    if (value->version == 3) put_i32(&w, value->leader_epoch);
    put_str(&w, value->metadata);
    put_i64(&w, value->commit_timestamp_ms);
    if (value->version == 1) put_i64(&w, value->expire_timestamp_ms);
    ASSERT(w.pos == group_record_offset_value_size(value));
    return w.pos;
}

int group_record_offset_value_decode(const uint8_t *buf, size_t len,
                                     struct group_offset_value *out) {
    ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    struct reader r = {.buf = buf, .len = len, .pos = 0, .bad = false};
    out->version = get_i16(&r);
    if (r.bad) return -EINVAL;
    if (out->version < 0) return -EINVAL;
    if (out->version > 3) return -ENOTSUP;
    out->offset = get_i64(&r);
    out->leader_epoch = out->version == 3 ? get_i32(&r) : -1;
    out->metadata = get_str(&r, false);
    out->commit_timestamp_ms = get_i64(&r);
    out->expire_timestamp_ms = out->version == 1 ? get_i64(&r) : -1;
    return reader_finish(&r);
}

/* --- Group metadata values ------------------------------------------------------------ */

static size_t member_size(int16_t version, const struct group_member_value *m) {
    size_t size = str_size(m->member_id);
    if (version >= 3) size += str_size(m->group_instance_id);
    size += str_size(m->client_id) + str_size(m->client_host);
    if (version >= 1) size += 4;
    size += 4 + 4 + (size_t)m->subscription_len + 4 + (size_t)m->assignment_len;
    return size;
}

size_t group_record_group_value_size(const struct group_metadata_value *value,
                                     const struct group_member_value *members, size_t count) {
    ASSERT(value->version >= 0 && value->version <= 3);
    size_t size = 2 + str_size(value->protocol_type) + 4 + str_size(value->protocol) +
                  str_size(value->leader);
    if (value->version >= 2) size += 8;
    size += 4;
    for (size_t i = 0; i < count; i++)
        size += member_size(value->version, &members[i]);
    return size;
}

size_t group_record_group_value_encode(uint8_t *buf, size_t cap,
                                       const struct group_metadata_value *value,
                                       const struct group_member_value *members, size_t count) {
    ASSERT(value->version >= 0 && value->version <= 3);
    ASSERT(value->protocol_type.len >= 0);
    ASSERT(count <= INT32_MAX);
    struct writer w = {.buf = buf, .cap = cap, .pos = 0};
    put_i16(&w, value->version);
    put_str(&w, value->protocol_type);
    put_i32(&w, value->generation);
    put_str(&w, value->protocol);
    put_str(&w, value->leader);
    if (value->version >= 2) put_i64(&w, value->current_state_timestamp_ms);
    put_i32(&w, (int32_t)count);
    for (size_t i = 0; i < count; i++) {
        const struct group_member_value *m = &members[i];
        ASSERT(m->member_id.len >= 0 && m->client_id.len >= 0 && m->client_host.len >= 0);
        put_str(&w, m->member_id);
        if (value->version >= 3) put_str(&w, m->group_instance_id);
        put_str(&w, m->client_id);
        put_str(&w, m->client_host);
        if (value->version >= 1) put_i32(&w, m->rebalance_timeout_ms);
        put_i32(&w, m->session_timeout_ms);
        put_blob(&w, m->subscription, m->subscription_len);
        put_blob(&w, m->assignment, m->assignment_len);
    }
    ASSERT(w.pos == group_record_group_value_size(value, members, count));
    return w.pos;
}

static void get_member(struct reader *r, int16_t version, struct group_member_value *m) {
    memset(m, 0, sizeof(*m));
    m->member_id = get_str(r, false);
    m->group_instance_id = version >= 3 ? get_str(r, true) : (struct group_str){NULL, -1};
    m->client_id = get_str(r, false);
    m->client_host = get_str(r, false);
    int32_t rebalance_timeout_ms = version >= 1 ? get_i32(r) : -1;
    m->session_timeout_ms = get_i32(r);
    /* Before v1 the rebalance timeout was the session timeout (JoinGroup v0 semantics). */
    m->rebalance_timeout_ms = version >= 1 ? rebalance_timeout_ms : m->session_timeout_ms;
    m->subscription = get_blob(r, &m->subscription_len);
    m->assignment = get_blob(r, &m->assignment_len);
}

int group_record_group_value_decode(const uint8_t *buf, size_t len,
                                    struct group_metadata_value *out) {
    ASSERT(out != NULL);
    memset(out, 0, sizeof(*out));
    struct reader r = {.buf = buf, .len = len, .pos = 0, .bad = false};
    out->version = get_i16(&r);
    if (r.bad || out->version < 0) return -EINVAL;
    if (out->version > 3) return -ENOTSUP;
    out->protocol_type = get_str(&r, false);
    out->generation = get_i32(&r);
    out->protocol = get_str(&r, true);
    out->leader = get_str(&r, true);
    out->current_state_timestamp_ms = out->version >= 2 ? get_i64(&r) : -1;
    out->member_count = get_i32(&r);
    if (r.bad || out->member_count < 0) return -EINVAL;
    out->members_buf = r.buf + r.pos;
    size_t start = r.pos;
    /* Every member needs at least its fixed-width fields, so the count is bounded by the
     * remaining bytes; this loop cannot run longer than the buffer. */
    for (int32_t i = 0; i < out->member_count && !r.bad; i++) {
        struct group_member_value m;
        get_member(&r, out->version, &m);
    }
    out->members_len = r.pos - start;
    return reader_finish(&r);
}

int group_record_member_next(const struct group_metadata_value *value, size_t *pos,
                             struct group_member_value *out) {
    ASSERT(pos != NULL && out != NULL);
    if (*pos >= value->members_len) return -ENOENT;
    struct reader r = {
        .buf = value->members_buf, .len = value->members_len, .pos = *pos, .bad = false};
    get_member(&r, value->version, out);
    ASSERT(!r.bad); /* group_record_group_value_decode() validated every member. */
    *pos = r.pos;
    return 0;
}

/* --- The consumer protocol's assignment ---------------------------------------------- */

/* One pass over the assignment; with cb NULL it only validates. */
static int assignment_pass(const uint8_t *buf, size_t len, group_record_partition_cb cb,
                           void *arg) {
    struct reader r = {.buf = buf, .len = len, .pos = 0, .bad = false};
    int16_t version = get_i16(&r);
    int32_t topic_count = get_i32(&r);
    if (r.bad || version < 0 || topic_count < 0) return -EINVAL;
    int total = 0;
    /* Each topic takes at least 6 bytes, each partition 4, so both loops are bounded by
     * the buffer: a lying count runs out of bytes and fails. */
    for (int32_t t = 0; t < topic_count && !r.bad; t++) {
        struct group_str topic = get_str(&r, false);
        int32_t partition_count = get_i32(&r);
        if (r.bad || partition_count < 0) return -EINVAL;
        for (int32_t p = 0; p < partition_count && !r.bad; p++) {
            int32_t partition = get_i32(&r);
            if (r.bad) break;
            if (partition < 0 || total == INT32_MAX) return -EINVAL;
            total++;
            if (cb != NULL) cb(arg, topic, partition);
        }
    }
    int32_t user_data_len = get_i32(&r);
    if (r.bad || user_data_len < -1) return -EINVAL;
    if (user_data_len > 0 && !need(&r, (size_t)user_data_len)) return -EINVAL;
    return total;
}

int group_record_consumer_assignment_walk(const uint8_t *buf, size_t len,
                                          group_record_partition_cb cb, void *arg) {
    ASSERT(buf != NULL || len == 0);
    int rc = assignment_pass(buf, len, NULL, NULL);
    if (rc < 0) return rc;
    int again = assignment_pass(buf, len, cb, arg);
    ASSERT(again == rc);
    return rc;
}

/* --- The coordinator partition -------------------------------------------------------- */

/* Decodes one UTF-8 sequence at s[*i]; invalid or truncated input yields U+FFFD for one
 * byte, as Java's replacing decoder does for a malformed byte. */
static uint32_t utf8_next(const uint8_t *s, size_t len, size_t *i) {
    uint8_t b = s[*i];
    size_t need_more = 0;
    uint32_t cp = 0;
    uint32_t min_cp = 0;
    if (b < 0x80) {
        *i += 1;
        return b;
    } else if ((b & 0xE0) == 0xC0) {
        need_more = 1, cp = b & 0x1F, min_cp = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
        need_more = 2, cp = b & 0x0F, min_cp = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
        need_more = 3, cp = b & 0x07, min_cp = 0x10000;
    } else {
        *i += 1;
        return 0xFFFD;
    }
    if (need_more > len - *i - 1) {
        *i += 1;
        return 0xFFFD;
    }
    for (size_t k = 1; k <= need_more; k++) {
        uint8_t c = s[*i + k];
        if ((c & 0xC0) != 0x80) {
            *i += 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        *i += 1;
        return 0xFFFD;
    }
    *i += 1 + need_more;
    return cp;
}

int32_t group_record_java_hash(const char *s, size_t len) {
    ASSERT(s != NULL || len == 0);
    const uint8_t *bytes = (const uint8_t *)s;
    uint32_t h = 0; /* Unsigned: Java's int arithmetic wraps, C's signed would be UB. */
    size_t i = 0;
    while (i < len) {
        uint32_t cp = utf8_next(bytes, len, &i);
        if (cp >= 0x10000) {
            /* Outside the BMP Java holds a surrogate pair: two code units. */
            uint32_t v = cp - 0x10000;
            h = 31 * h + (0xD800 + (v >> 10));
            h = 31 * h + (0xDC00 + (v & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t group_record_partition_for(const char *group_id, int32_t partitions) {
    ASSERT(group_id != NULL && partitions > 0);
    int32_t h = group_record_java_hash(group_id, strlen(group_id));
    int32_t abs_h = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return abs_h % partitions;
}
