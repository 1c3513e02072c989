/*
 * metadata.c — the metadata image (metadata.h): sorted arrays of brokers and topics that
 * committed metadata records update in log order.
 *
 * Arrays are kept sorted (brokers by id, topics by name, partitions by index) so that any
 * walk over the image, and so anything derived from it, is deterministic. Lookups are
 * binary searches; inserts shift (clusters are small: a few brokers, hundreds of topics).
 * All memory comes from the image's io handle.
 */
#include "controller/metadata.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "controller/metadata_records.h"

#define METADATA_BROKERS_MAX    4096u
#define METADATA_TOPICS_MAX     100000u
#define METADATA_PARTITIONS_MAX 100000

void metadata_image_init(struct metadata_image *image, struct io *io) {
    ASSERT(io != NULL);
    memset(image, 0, sizeof(*image));
    image->io = io;
    image->offset = -1;
    image->controller_epoch = -1;
}

static void topic_free_partitions(struct io *io, struct metadata_topic *t) {
    if (t->partitions != NULL) {
        io_free(io, t->partitions, (size_t)t->partition_count * sizeof(*t->partitions));
    }
    t->partitions = NULL;
    t->partition_count = 0;
}

void metadata_image_free(struct metadata_image *image) {
    if (image->io == NULL) {
        return;
    }
    for (uint32_t i = 0; i < image->topic_count; i++) {
        topic_free_partitions(image->io, &image->topics[i]);
    }
    if (image->topics != NULL) {
        io_free(image->io, image->topics, image->topic_cap * sizeof(*image->topics));
    }
    if (image->brokers != NULL) {
        io_free(image->io, image->brokers, image->broker_cap * sizeof(*image->brokers));
    }
    struct io *io = image->io;
    metadata_image_init(image, io);
}

int metadata_image_copy(struct metadata_image *out, const struct metadata_image *in) {
    ASSERT(out != in);
    struct io *io = out->io != NULL ? out->io : in->io;
    metadata_image_free(out);
    metadata_image_init(out, io);
    out->offset = in->offset;
    out->controller_epoch = in->controller_epoch;
    if (in->broker_count > 0) {
        out->brokers = io_alloc(io, in->broker_count * sizeof(*out->brokers));
        memcpy(out->brokers, in->brokers, in->broker_count * sizeof(*out->brokers));
        out->broker_count = out->broker_cap = in->broker_count;
    }
    if (in->topic_count > 0) {
        out->topics = io_alloc(io, in->topic_count * sizeof(*out->topics));
        memcpy(out->topics, in->topics, in->topic_count * sizeof(*out->topics));
        out->topic_count = out->topic_cap = in->topic_count;
        for (uint32_t i = 0; i < in->topic_count; i++) {
            struct metadata_topic *t = &out->topics[i];
            if (t->partition_count > 0) {
                size_t bytes = (size_t)t->partition_count * sizeof(*t->partitions);
                t->partitions = io_alloc(io, bytes);
                memcpy(t->partitions, in->topics[i].partitions, bytes);
            } else {
                t->partitions = NULL;
            }
        }
    }
    return 0;
}

/* Index of the topic named `name`, or -(insertion point) - 1. */
static int64_t topic_search(const struct metadata_image *image, const char *name) {
    int64_t lo = 0;
    int64_t hi = (int64_t)image->topic_count - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(image->topics[mid].name, name);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -lo - 1;
}

static int64_t broker_search(const struct metadata_image *image, int32_t id) {
    int64_t lo = 0;
    int64_t hi = (int64_t)image->broker_count - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int32_t v = image->brokers[mid].id;
        if (v == id) {
            return mid;
        }
        if (v < id) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -lo - 1;
}

static int64_t partition_search(const struct metadata_topic *t, int32_t index) {
    int64_t lo = 0;
    int64_t hi = (int64_t)t->partition_count - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int32_t v = t->partitions[mid].index;
        if (v == index) {
            return mid;
        }
        if (v < index) {
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return -lo - 1;
}

const struct metadata_topic *metadata_topic_find(const struct metadata_image *image,
                                                 const char *name) {
    int64_t i = topic_search(image, name);
    return i >= 0 ? &image->topics[i] : NULL;
}

struct metadata_topic *metadata_topic_find_mut(struct metadata_image *image, const char *name) {
    int64_t i = topic_search(image, name);
    return i >= 0 ? &image->topics[i] : NULL;
}

const struct metadata_partition *metadata_partition_find(const struct metadata_image *image,
                                                         const char *topic, int32_t index) {
    const struct metadata_topic *t = metadata_topic_find(image, topic);
    if (t == NULL) {
        return NULL;
    }
    int64_t i = partition_search(t, index);
    return i >= 0 ? &t->partitions[i] : NULL;
}

const struct metadata_broker *metadata_broker_find(const struct metadata_image *image, int32_t id) {
    int64_t i = broker_search(image, id);
    return i >= 0 ? &image->brokers[i] : NULL;
}

bool metadata_partition_has_replica(const struct metadata_partition *p, int32_t id) {
    for (uint32_t i = 0; i < p->replica_count; i++) {
        if (p->replicas[i] == id) {
            return true;
        }
    }
    return false;
}

bool metadata_partition_in_isr(const struct metadata_partition *p, int32_t id) {
    for (uint32_t i = 0; i < p->isr_count; i++) {
        if (p->isr[i] == id) {
            return true;
        }
    }
    return false;
}

uint32_t metadata_image_unfenced_count(const struct metadata_image *image) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < image->broker_count; i++) {
        n += image->brokers[i].fenced ? 0 : 1;
    }
    return n;
}

static int apply_register(struct metadata_image *image, int64_t offset,
                          const struct metadata_record *r) {
    if (r->broker_id < 0) {
        return -EINVAL;
    }
    int64_t i = broker_search(image, r->broker_id);
    if (i < 0) {
        if (image->broker_count >= METADATA_BROKERS_MAX) {
            return -EINVAL;
        }
        uint32_t at = (uint32_t)(-i - 1);
        if (image->broker_count == image->broker_cap) {
            uint32_t cap = image->broker_cap == 0 ? 4 : image->broker_cap * 2;
            image->brokers =
                io_realloc(image->io, image->brokers, image->broker_cap * sizeof(*image->brokers),
                           cap * sizeof(*image->brokers));
            image->broker_cap = cap;
        }
        memmove(&image->brokers[at + 1], &image->brokers[at],
                (image->broker_count - at) * sizeof(*image->brokers));
        image->broker_count++;
        i = at;
    }
    struct metadata_broker *b = &image->brokers[i];
    memset(b, 0, sizeof(*b));
    b->id = r->broker_id;
    b->epoch = offset;
    snprintf(b->host, sizeof(b->host), "%s", r->host);
    b->port = r->port;
    memcpy(b->incarnation_id, r->incarnation_id, sizeof(b->incarnation_id));
    /* A new registration is fenced until the broker proves it caught up (KIP-631). */
    b->fenced = true;
    return 0;
}

static int apply_fence(struct metadata_image *image, const struct metadata_record *r, bool fenced) {
    int64_t i = broker_search(image, r->broker_id);
    if (i < 0) {
        return -EINVAL;
    }
    struct metadata_broker *b = &image->brokers[i];
    if (b->epoch != r->broker_epoch) {
        /* A fence of an older registration: the broker re-registered since. */
        return 0;
    }
    b->fenced = fenced;
    return 0;
}

static int apply_topic(struct metadata_image *image, const struct metadata_record *r) {
    if (r->topic[0] == '\0') {
        return -EINVAL;
    }
    int64_t i = topic_search(image, r->topic);
    if (i >= 0 || image->topic_count >= METADATA_TOPICS_MAX) {
        return -EINVAL;
    }
    uint32_t at = (uint32_t)(-i - 1);
    if (image->topic_count == image->topic_cap) {
        uint32_t cap = image->topic_cap == 0 ? 8 : image->topic_cap * 2;
        image->topics =
            io_realloc(image->io, image->topics, image->topic_cap * sizeof(*image->topics),
                       cap * sizeof(*image->topics));
        image->topic_cap = cap;
    }
    memmove(&image->topics[at + 1], &image->topics[at],
            (image->topic_count - at) * sizeof(*image->topics));
    image->topic_count++;
    struct metadata_topic *t = &image->topics[at];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", r->topic);
    memcpy(t->id, r->topic_id, sizeof(t->id));
    return 0;
}

/* A partition state is well formed: replicas distinct, ISR a sorted subset of them, ELR a
 * sorted subset outside the ISR, the leader (when there is one) in the ISR, epochs
 * non-negative. */
static bool partition_state_valid(const struct metadata_record *r) {
    if (r->partition < 0 || r->replica_count == 0 || r->leader_epoch < 0 ||
        r->partition_epoch < 0) {
        return false;
    }
    for (uint32_t i = 0; i < r->replica_count; i++) {
        for (uint32_t j = 0; j < i; j++) {
            if (r->replicas[i] == r->replicas[j]) {
                return false;
            }
        }
    }
    for (uint32_t i = 0; i < r->isr_count; i++) {
        if (i > 0 && r->isr[i] <= r->isr[i - 1]) {
            return false;
        }
        bool found = false;
        for (uint32_t j = 0; j < r->replica_count; j++) {
            found = found || r->replicas[j] == r->isr[i];
        }
        if (!found) {
            return false;
        }
    }
    for (uint32_t i = 0; i < r->elr_count; i++) {
        if (i > 0 && r->elr[i] <= r->elr[i - 1]) {
            return false;
        }
        bool replica = false;
        bool in_isr = false;
        for (uint32_t j = 0; j < r->replica_count; j++) {
            replica = replica || r->replicas[j] == r->elr[i];
        }
        for (uint32_t j = 0; j < r->isr_count; j++) {
            in_isr = in_isr || r->isr[j] == r->elr[i];
        }
        if (!replica || in_isr) {
            return false;
        }
    }
    if (r->leader != -1) {
        bool found = false;
        for (uint32_t i = 0; i < r->isr_count; i++) {
            found = found || r->isr[i] == r->leader;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

static int apply_partition(struct metadata_image *image, const struct metadata_record *r) {
    struct metadata_topic *t = metadata_topic_find_mut(image, r->topic);
    if (t == NULL || !partition_state_valid(r)) {
        return -EINVAL;
    }
    int64_t i = partition_search(t, r->partition);
    if (r->type == METADATA_RECORD_PARTITION) {
        if (i >= 0 || t->partition_count >= METADATA_PARTITIONS_MAX) {
            return -EINVAL;
        }
        uint32_t at = (uint32_t)(-i - 1);
        size_t old_bytes = (size_t)t->partition_count * sizeof(*t->partitions);
        t->partitions =
            io_realloc(image->io, t->partitions, old_bytes, old_bytes + sizeof(*t->partitions));
        memmove(&t->partitions[at + 1], &t->partitions[at],
                ((uint32_t)t->partition_count - at) * sizeof(*t->partitions));
        t->partition_count++;
        i = at;
    } else if (i < 0) {
        return -EINVAL;
    }
    metadata_record_to_partition(r, &t->partitions[i]);
    return 0;
}

static int apply_remove_topic(struct metadata_image *image, const struct metadata_record *r) {
    int64_t i = topic_search(image, r->topic);
    if (i < 0) {
        return -EINVAL;
    }
    topic_free_partitions(image->io, &image->topics[i]);
    memmove(&image->topics[i], &image->topics[i + 1],
            (image->topic_count - (uint32_t)i - 1) * sizeof(*image->topics));
    image->topic_count--;
    return 0;
}

static int apply_topic_config(struct metadata_image *image, const struct metadata_record *r) {
    struct metadata_topic *t = metadata_topic_find_mut(image, r->topic);
    if (t == NULL || r->config_name[0] == '\0') {
        return -EINVAL;
    }
    /* Configs are kept sorted by name, like everything else in the image. */
    uint32_t at = 0;
    while (at < t->config_count && strcmp(t->configs[at].name, r->config_name) < 0) {
        at++;
    }
    bool present = at < t->config_count && strcmp(t->configs[at].name, r->config_name) == 0;
    if (r->config_delete) {
        if (present) {
            memmove(&t->configs[at], &t->configs[at + 1],
                    (t->config_count - at - 1) * sizeof(t->configs[0]));
            t->config_count--;
        }
        return 0;
    }
    if (!present) {
        if (t->config_count >= METADATA_CONFIGS_MAX) {
            return -EINVAL;
        }
        memmove(&t->configs[at + 1], &t->configs[at],
                (t->config_count - at) * sizeof(t->configs[0]));
        t->config_count++;
        snprintf(t->configs[at].name, sizeof(t->configs[at].name), "%s", r->config_name);
    }
    snprintf(t->configs[at].value, sizeof(t->configs[at].value), "%s", r->config_value);
    return 0;
}

int metadata_image_apply(struct metadata_image *image, int64_t offset, int32_t epoch,
                         const struct metadata_record *record) {
    ASSERT(image->io != NULL);
    ASSERT(offset > image->offset);
    image->offset = offset;
    image->controller_epoch = epoch;
    int rc = -EINVAL;
    switch (record->type) {
    case METADATA_RECORD_REGISTER_BROKER:
        rc = apply_register(image, offset, record);
        break;
    case METADATA_RECORD_FENCE_BROKER:
        rc = apply_fence(image, record, true);
        break;
    case METADATA_RECORD_UNFENCE_BROKER:
        rc = apply_fence(image, record, false);
        break;
    case METADATA_RECORD_TOPIC:
        rc = apply_topic(image, record);
        break;
    case METADATA_RECORD_PARTITION:
    case METADATA_RECORD_PARTITION_CHANGE:
        rc = apply_partition(image, record);
        break;
    case METADATA_RECORD_REMOVE_TOPIC:
        rc = apply_remove_topic(image, record);
        break;
    case METADATA_RECORD_TOPIC_CONFIG:
        rc = apply_topic_config(image, record);
        break;
    }
    ASSERT(image->broker_count <= image->broker_cap);
    ASSERT(image->topic_count <= image->topic_cap);
    return rc;
}
