/*
 * group_records.h — the byte formats of the internal topic __consumer_offsets, and the
 * rule that maps a group id to one of its partitions.
 *
 * Every record of __consumer_offsets has a key and a value, both starting with an int16
 * version. The key version says what the record is:
 *   key v0/v1  offset commit   group string, topic string, partition int32
 *   key v2     group metadata  group string
 * A record with a null value (a tombstone) deletes what its key names; compaction keeps
 * only the newest value per key, which is why replaying the topic rebuilds the state.
 *
 * Values (Kafka's OffsetCommitValue / GroupMetadataValue schemas, non-flexible versions):
 *   offset commit v0  offset i64, metadata string, commit_timestamp i64
 *                 v1  ... as v0, then expire_timestamp i64 (explicit retention, OffsetCommit v2-4)
 *                 v2  as v0
 *                 v3  offset i64, leader_epoch i32, metadata string, commit_timestamp i64
 *   group metadata v0 protocol_type string, generation i32, protocol string?, leader string?,
 *                     members [member_id, client_id, client_host, session_timeout i32,
 *                     subscription bytes, assignment bytes]
 *                  v1 members gain rebalance_timeout i32 (before session_timeout)
 *                  v2 adds current_state_timestamp i64 after leader
 *                  v3 members gain group_instance_id string? after member_id
 * Strings are int16 length + bytes (-1 = null, only where marked `?`); bytes are int32
 * length + bytes. All integers are big-endian.
 *
 * Decoders are zero-copy: the strings and byte fields they return point into the input
 * buffer and are valid as long as it is. They never read outside [buf, buf + len) and
 * return -EINVAL for malformed input (bad version, short buffer, negative length,
 * trailing bytes). Encoders write exactly group_record_*_size() bytes and assert the
 * buffer is large enough.
 */
#ifndef TRIAL_COORDINATOR_GROUP_RECORDS_H
#define TRIAL_COORDINATOR_GROUP_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Key versions: which kind of record this is. */
#define GROUP_RECORD_KEY_OFFSET_V0 0
#define GROUP_RECORD_KEY_OFFSET_V1 1 /* What Kafka and we write for offset commits. */
#define GROUP_RECORD_KEY_GROUP     2

/* A length-delimited string inside a record; len -1 is null. Not NUL-terminated. */
struct group_str {
    const char *ptr;
    int32_t len;
};

/* Wraps a C string (NULL gives a null string). */
struct group_str group_str_c(const char *s);
/* True if the string equals the C string `s` (a null string equals only NULL). */
bool group_str_eq(struct group_str a, const char *s);

/* A decoded key: kind is one of the GROUP_RECORD_KEY_* versions. */
struct group_record_key {
    int16_t version;
    struct group_str group;
    struct group_str topic; /* Offset keys only. */
    int32_t partition;      /* Offset keys only. */
};

struct group_offset_value {
    int16_t version;             /* 0..3 */
    int64_t offset;              /* The next record the group will read (I-GRP-5). */
    int32_t leader_epoch;        /* v3; -1 unknown (and in older versions). */
    struct group_str metadata;   /* Client-chosen string, never null. */
    int64_t commit_timestamp_ms; /* Wall clock at the coordinator. */
    int64_t expire_timestamp_ms; /* v1 only; -1 otherwise (retention by config). */
};

struct group_member_value {
    struct group_str member_id;
    struct group_str group_instance_id; /* v3; null before. */
    struct group_str client_id;
    struct group_str client_host;
    int32_t rebalance_timeout_ms; /* v1+; v0 decodes it as session_timeout_ms. */
    int32_t session_timeout_ms;
    const uint8_t *subscription; /* Metadata of the chosen protocol. */
    int32_t subscription_len;
    const uint8_t *assignment;
    int32_t assignment_len;
};

struct group_metadata_value {
    int16_t version;                /* 0..3 */
    struct group_str protocol_type; /* "" for a group that only stores offsets. */
    int32_t generation;
    struct group_str protocol;          /* Null when no protocol is chosen (Empty group). */
    struct group_str leader;            /* Null when there are no members. */
    int64_t current_state_timestamp_ms; /* v2+; -1 otherwise. */
    int32_t member_count;
    /* Decoding: where the members start inside the buffer; walk them with
     * group_record_member_next(). Encoding: ignored; pass the array separately. */
    const uint8_t *members_buf;
    size_t members_len;
};

/* --- Keys ---------------------------------------------------------------------------- */

size_t group_record_offset_key_size(const char *group, const char *topic);
/* Writes an offset commit key, version 1. Returns the bytes written. */
size_t group_record_offset_key_encode(uint8_t *buf, size_t cap, const char *group,
                                      const char *topic, int32_t partition);
size_t group_record_group_key_size(const char *group);
/* Writes a group metadata key, version 2. */
size_t group_record_group_key_encode(uint8_t *buf, size_t cap, const char *group);
/* Decodes either kind of key. -EINVAL if malformed, -ENOTSUP for an unknown key version. */
int group_record_key_decode(const uint8_t *buf, size_t len, struct group_record_key *out);

/* --- Offset commit values ------------------------------------------------------------ */

size_t group_record_offset_value_size(const struct group_offset_value *value);
/* Writes value->version (0..3); expire_timestamp_ms only in v1, leader_epoch only in v3. */
size_t group_record_offset_value_encode(uint8_t *buf, size_t cap,
                                        const struct group_offset_value *value);
int group_record_offset_value_decode(const uint8_t *buf, size_t len,
                                     struct group_offset_value *out);

/* --- Group metadata values ----------------------------------------------------------- */

size_t group_record_group_value_size(const struct group_metadata_value *value,
                                     const struct group_member_value *members, size_t count);
size_t group_record_group_value_encode(uint8_t *buf, size_t cap,
                                       const struct group_metadata_value *value,
                                       const struct group_member_value *members, size_t count);
/* Decodes the group fields and checks every member is well-formed (so walking them later
 * cannot fail). members_buf/members_len locate the member array. */
int group_record_group_value_decode(const uint8_t *buf, size_t len,
                                    struct group_metadata_value *out);
/* Decodes the member at *pos (start at 0) of a decoded value and advances *pos. Returns 0,
 * or -ENOENT after the last member. */
int group_record_member_next(const struct group_metadata_value *value, size_t *pos,
                             struct group_member_value *out);

/* --- The consumer protocol's assignment ---------------------------------------------- */

/* One assigned partition, from a consumer-protocol assignment. */
typedef void (*group_record_partition_cb)(void *arg, struct group_str topic, int32_t partition);

/* Walks the partitions of a ConsumerProtocolAssignment (protocol type "consumer"):
 * version i16, [topic string, [partition i32]], user_data bytes?. Versions above 2 are read
 * with the same layout, trailing bytes ignored, as Kafka's clients do. Validates the whole
 * buffer before the first callback, so cb sees either every partition or none. Returns the
 * number of partitions, or -EINVAL if malformed. */
int group_record_consumer_assignment_walk(const uint8_t *buf, size_t len,
                                          group_record_partition_cb cb, void *arg);

/* --- The coordinator partition ------------------------------------------------------- */

/* Java's String.hashCode() of a UTF-8 string (computed over its UTF-16 code units, the way
 * the JVM sees it; invalid UTF-8 bytes count as U+FFFD like Java's decoder). */
int32_t group_record_java_hash(const char *s, size_t len);
/* The __consumer_offsets partition owning `group_id`: Utils.abs(hashCode) % partitions,
 * where Utils.abs maps INT32_MIN to 0. Must match Kafka so every client and broker agree. */
int32_t group_record_partition_for(const char *group_id, int32_t partitions);

#endif /* TRIAL_COORDINATOR_GROUP_RECORDS_H */
