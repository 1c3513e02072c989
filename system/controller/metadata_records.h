/*
 * metadata_records.h — the byte format of the records in the metadata log
 * (__cluster_metadata-0), KRaft's RegisterBrokerRecord, FenceBrokerRecord, ... in our own
 * compact encoding.
 *
 * One metadata record is one Kafka record of a (non-control) batch in the Raft log:
 *   key   = 2 bytes: type u8, version u8
 *   value = type u8, version u8, then the fields of that type (version 0):
 *     1 RegisterBroker  broker_id i32, host str, port u16, incarnation_id [16]
 *     2 FenceBroker     broker_id i32, broker_epoch i64
 *     3 UnfenceBroker   broker_id i32, broker_epoch i64
 *     4 Topic           topic str, topic_id [16]
 *     5 Partition       topic str, partition i32, leader i32, leader_epoch i32,
 *                       partition_epoch i32, replicas ids, isr ids, unclean u8, elr ids
 *     6 PartitionChange same fields as Partition: the whole new state of the partition
 *     7 RemoveTopic     topic str
 *     8 TopicConfig     topic str, name str, delete u8, value str
 * Integers are big-endian; `str` is a u16 length then that many bytes (no NUL inside);
 * `ids` is a u8 count (at most METADATA_REPLICAS_MAX) then that many i32; booleans are one
 * byte, 0 or 1. A registration does not carry the broker epoch: the broker epoch is the
 * offset of the registration record, which the appender cannot know before the append.
 *
 * The type byte is in both key and value so a value alone is self-describing (the crc in
 * the `metadata_apply` trace covers it) and a key alone tells a reader what it skips.
 * Decoding copies into a fixed-size struct and refuses anything malformed with -EINVAL:
 * unknown type or version, key/value type mismatch, short input, trailing bytes, over-long
 * strings, too many ids, booleans other than 0/1. Semantic checks (does the topic exist?)
 * belong to metadata_image_apply.
 */
#ifndef TRIAL_CONTROLLER_METADATA_RECORDS_H
#define TRIAL_CONTROLLER_METADATA_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/metadata.h"
#include "io/io.h"

enum metadata_record_type {
    METADATA_RECORD_REGISTER_BROKER = 1,
    METADATA_RECORD_FENCE_BROKER = 2,
    METADATA_RECORD_UNFENCE_BROKER = 3,
    METADATA_RECORD_TOPIC = 4,
    METADATA_RECORD_PARTITION = 5,
    METADATA_RECORD_PARTITION_CHANGE = 6,
    METADATA_RECORD_REMOVE_TOPIC = 7,
    METADATA_RECORD_TOPIC_CONFIG = 8,
};
#define METADATA_RECORD_TYPE_MAX  8
#define METADATA_RECORD_VERSION   0
#define METADATA_RECORD_KEY_BYTES 2
/* An upper bound on any encoded value (the largest is a Partition record). */
#define METADATA_RECORD_VALUE_MAX 1024

/* A decoded record. Only the fields of its type are meaningful (the rest are zero). */
struct metadata_record {
    enum metadata_record_type type;
    /* RegisterBroker, FenceBroker, UnfenceBroker. */
    int32_t broker_id;
    int64_t broker_epoch;         /* Fence/Unfence: the registration they act on. */
    char host[METADATA_HOST_MAX]; /* Register: the advertised client listener. */
    uint16_t port;
    uint8_t incarnation_id[16];
    /* Topic, Partition, PartitionChange, RemoveTopic, TopicConfig. */
    char topic[METADATA_TOPIC_NAME_MAX + 1];
    uint8_t topic_id[16];
    /* Partition, PartitionChange. */
    int32_t partition;
    int32_t leader;
    int32_t leader_epoch;
    int32_t partition_epoch;
    int32_t replicas[METADATA_REPLICAS_MAX];
    uint32_t replica_count;
    int32_t isr[METADATA_REPLICAS_MAX];
    uint32_t isr_count;
    bool unclean;
    int32_t elr[METADATA_REPLICAS_MAX]; /* Eligible leader replicas (KIP-966). */
    uint32_t elr_count;
    /* TopicConfig. */
    char config_name[METADATA_CONFIG_NAME_MAX];
    char config_value[METADATA_CONFIG_VALUE_MAX];
    bool config_delete; /* Removes the override instead of setting it. */
};

/* A short name for a type ("RegisterBroker", ...), "?" for an unknown one. */
const char *metadata_record_type_name(int type);

/* Writes the 2 key bytes. */
void metadata_record_key_encode(const struct metadata_record *record,
                                uint8_t key[METADATA_RECORD_KEY_BYTES]);
/* Encodes the value into buf; returns its length, or -ENOSPC / -EINVAL (a string too long
 * for its field, an unknown type, too many ids). */
int metadata_record_encode(const struct metadata_record *record, uint8_t *buf, size_t cap);
/* Decodes key + value into *out (zeroed first). 0 or -EINVAL. */
int metadata_record_decode(const uint8_t *key, size_t key_len, const uint8_t *value,
                           size_t value_len, struct metadata_record *out);

/* Fills *p from a Partition/PartitionChange record (index, leader, epochs, lists). */
void metadata_record_to_partition(const struct metadata_record *record,
                                  struct metadata_partition *p);
/* The reverse: a PartitionChange (or Partition) record for topic/partition state *p. */
void metadata_record_from_partition(struct metadata_record *record, enum metadata_record_type type,
                                    const char *topic, const struct metadata_partition *p);

/* "1,2,3": ids joined by commas into buf (always NUL-terminated; bounded by size). */
void metadata_ids_format(const int32_t *ids, uint32_t count, char *buf, size_t size);

/*
 * The trace events of one applied record (docs/REPLICATION.md): `metadata_apply` {offset,
 * epoch, type, crc = CRC-32C of the value bytes} and, for Partition/PartitionChange,
 * `metadata_partition` — only when `applied` (a record the image refused describes no
 * partition state anyone holds; metadata_apply still shows it, so logs compare whole).
 * Called by every node that applies committed records (controller,
 * quorum client); metadata_image_apply itself is pure and emits nothing.
 */
void metadata_record_trace(struct io *io, int64_t offset, int32_t epoch,
                           const struct metadata_record *record, const uint8_t *value,
                           size_t value_len, bool applied);

#endif /* TRIAL_CONTROLLER_METADATA_RECORDS_H */
