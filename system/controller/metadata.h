/*
 * metadata.h — the cluster metadata image: brokers, topics, partition assignments and
 * leadership, as the committed metadata log (KRaft's __cluster_metadata) describes them.
 *
 * The active controller appends metadata records to the Raft log; every controller and
 * every broker replays the committed records, in log order, into a `struct metadata_image`.
 * The image is plain data: pure functions build it from records (metadata_image_apply), so
 * tests construct images without a quorum and the broker reacts to the differences
 * between two images (see quorum_client.h's on_update).
 *
 * Determinism: topics are sorted by name, partitions by index, brokers by id; nothing is
 * ordered by pointer or hash. Memory: an image owns its arrays (io_alloc through the io
 * handle given to metadata_image_init); metadata_image_copy makes an independent copy.
 */
#ifndef TRIAL_CONTROLLER_METADATA_H
#define TRIAL_CONTROLLER_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/io.h"

#define METADATA_REPLICAS_MAX   16
#define METADATA_TOPIC_NAME_MAX 249
#define METADATA_HOST_MAX       256
#define METADATA_CONFIGS_MAX    32  /* Per-topic config overrides. */
#define METADATA_CONFIG_NAME_MAX  64
#define METADATA_CONFIG_VALUE_MAX 128

/* A registered broker (RegisterBrokerRecord + Fence/Unfence). */
struct metadata_broker {
    int32_t id;
    int64_t epoch;                   /* Broker epoch: offset of its registration record. */
    char host[METADATA_HOST_MAX];    /* Advertised client listener. */
    uint16_t port;
    bool fenced;                     /* Fenced brokers lead nothing and are not in ISRs. */
    bool in_controlled_shutdown;
    uint8_t incarnation_id[16];      /* Added (additive): the registering process's id. */
};

/* One partition's assignment and leadership (PartitionRecord + PartitionChangeRecords). */
struct metadata_partition {
    int32_t index;
    int32_t leader;                  /* -1 = no leader (offline). */
    int32_t leader_epoch;            /* Bumped on every leader change (not on ISR changes). */
    int32_t partition_epoch;         /* Bumped on every change of this partition. */
    int32_t replicas[METADATA_REPLICAS_MAX]; /* Assigned replicas (AR); [0] is preferred. */
    uint32_t replica_count;
    int32_t isr[METADATA_REPLICAS_MAX];      /* In-sync replicas, sorted ascending. */
    uint32_t isr_count;
    bool unclean;                    /* Its current leader came from an unclean election. */
    /* Added (additive): eligible leader replicas (KIP-966), sorted ascending, never in the
     * ISR. Replicas that left an ISR already below min.insync.replicas: they hold every
     * committed record (the HW cannot advance below min ISR), so they may lead cleanly. */
    int32_t elr[METADATA_REPLICAS_MAX];
    uint32_t elr_count;
};

struct metadata_topic_config {
    char name[METADATA_CONFIG_NAME_MAX];
    char value[METADATA_CONFIG_VALUE_MAX];
};

struct metadata_topic {
    char name[METADATA_TOPIC_NAME_MAX + 1];
    uint8_t id[16];                  /* Topic id (a UUID drawn by the controller). */
    struct metadata_partition *partitions; /* Sorted by index; count = partition_count. */
    int32_t partition_count;
    struct metadata_topic_config configs[METADATA_CONFIGS_MAX];
    uint32_t config_count;
};

struct metadata_image {
    struct io *io;
    int64_t offset;                  /* Offset of the last record applied; -1 = none. */
    int32_t controller_epoch;        /* Raft epoch of the last record applied. */
    struct metadata_broker *brokers; /* Sorted by id. */
    uint32_t broker_count;
    uint32_t broker_cap;
    struct metadata_topic *topics;   /* Sorted by name. */
    uint32_t topic_count;
    uint32_t topic_cap;
};

void metadata_image_init(struct metadata_image *image, struct io *io);
void metadata_image_free(struct metadata_image *image);
/* Deep copy into an initialised `out` (its old content is freed). 0 or -ENOMEM. */
int metadata_image_copy(struct metadata_image *out, const struct metadata_image *in);

const struct metadata_topic *metadata_topic_find(const struct metadata_image *image,
                                                 const char *name);
const struct metadata_partition *metadata_partition_find(const struct metadata_image *image,
                                                         const char *topic, int32_t index);
const struct metadata_broker *metadata_broker_find(const struct metadata_image *image,
                                                   int32_t id);
/* Whether `id` is in the partition's replicas / ISR. */
bool metadata_partition_has_replica(const struct metadata_partition *p, int32_t id);
bool metadata_partition_in_isr(const struct metadata_partition *p, int32_t id);

/* Added with metadata_records.h (additive). */
struct metadata_record;

/*
 * Applies one committed record, found at `offset` of the metadata log in Raft epoch
 * `epoch`, and sets image->offset/controller_epoch to them (offsets must increase).
 * RegisterBroker adds or replaces the broker with epoch = offset, fenced until an
 * UnfenceBroker; Fence/Unfence name the registration's epoch and are ignored (0) for an
 * older one; Topic adds a topic without partitions; Partition adds one; PartitionChange
 * replaces one's state; RemoveTopic deletes a topic and its partitions; TopicConfig sets or
 * removes an override. A record that contradicts the image (partition of an unknown topic,
 * duplicate topic, ...) returns -EINVAL and changes nothing but offset and epoch: every
 * node replays the same log, so every node skips it alike. Pure: emits no trace.
 */
int metadata_image_apply(struct metadata_image *image, int64_t offset, int32_t epoch,
                         const struct metadata_record *record);
/* The topic named `name`, writable (NULL if absent). */
struct metadata_topic *metadata_topic_find_mut(struct metadata_image *image, const char *name);
/* Count of registered brokers that are not fenced. */
uint32_t metadata_image_unfenced_count(const struct metadata_image *image);

#endif /* TRIAL_CONTROLLER_METADATA_H */
