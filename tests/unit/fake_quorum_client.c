/*
 * fake_quorum_client.c — the quorum client test double (see fake_quorum_client.h): lets
 * the broker's reaction to metadata (roles, fetchers, ISR changes) be tested without Raft.
 */
#include "tests/unit/fake_quorum_client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "controller/quorum_client.h"

#define FAKE_QC_MAX 16

struct quorum_client {
    bool live;
    struct io *io;
    int32_t node_id;
    quorum_update_fn on_update;
    void *arg;
};

struct fake_alter_done {
    bool used;
    quorum_alter_partition_fn done;
    void *arg;
    int16_t error;
    char topic[METADATA_TOPIC_NAME_MAX + 1];
    int32_t partition;
    int32_t node_id;
};

static struct quorum_client fakes[FAKE_QC_MAX];
static struct fake_alter_done alters[64];
static struct sim_world *fake_world;
static struct metadata_image *fake_image;
static struct metadata_image fake_empty;
static uint32_t fake_alter_count;

void fake_qc_init(struct sim_world *world, struct metadata_image *image) {
    memset(fakes, 0, sizeof(fakes));
    memset(alters, 0, sizeof(alters));
    fake_world = world;
    fake_image = image;
    memset(&fake_empty, 0, sizeof(fake_empty));
    fake_empty.offset = -1;
    fake_alter_count = 0;
}

void fake_qc_publish(void) {
    fake_image->offset++;
    for (int i = 0; i < FAKE_QC_MAX; i++) {
        if (fakes[i].live) fakes[i].on_update(fakes[i].arg, &fake_empty, fake_image);
    }
}

uint32_t fake_qc_alters(void) { return fake_alter_count; }

void fake_qc_forget(int32_t node_id) {
    for (int i = 0; i < FAKE_QC_MAX; i++) {
        if (fakes[i].live && fakes[i].node_id == node_id) fakes[i].live = false;
    }
    for (size_t i = 0; i < ARRAY_LEN(alters); i++) {
        if (alters[i].used && alters[i].node_id == node_id) alters[i].used = false;
    }
}

int quorum_client_start(struct io *io, const struct quorum_client_config *config,
                        struct quorum_client **out) {
    for (int i = 0; i < FAKE_QC_MAX; i++) {
        if (fakes[i].live) continue;
        fakes[i] = (struct quorum_client){.live = true, .io = io,
                                          .node_id = config->broker->node_id,
                                          .on_update = config->on_update, .arg = config->arg};
        *out = &fakes[i];
        return 0;
    }
    return -ENOMEM;
}

void quorum_client_stop(struct quorum_client *qc) {
    for (size_t i = 0; i < ARRAY_LEN(alters); i++) {
        if (alters[i].used && alters[i].node_id == qc->node_id) alters[i].used = false;
    }
    qc->live = false;
}

const struct metadata_image *quorum_client_image(const struct quorum_client *qc) {
    (void)qc;
    return fake_image;
}

int64_t quorum_client_broker_epoch(const struct quorum_client *qc) {
    (void)qc;
    return 1;
}

bool quorum_client_ready(const struct quorum_client *qc) {
    (void)qc;
    return true;
}

int32_t quorum_client_controller_id(const struct quorum_client *qc) {
    (void)qc;
    return 1;
}

static void fake_alter_deliver(struct sim_world *world, void *arg) {
    (void)world;
    struct fake_alter_done *d = arg;
    if (!d->used) return; /* Its broker stopped or crashed. */
    d->used = false;
    const struct metadata_partition *p = metadata_partition_find(fake_image, d->topic,
                                                                 d->partition);
    d->done(d->arg, d->error, d->error == 0 ? p : NULL);
    if (d->error == 0) fake_qc_publish();
}

int quorum_client_alter_partition(struct quorum_client *qc, const char *topic, int32_t partition,
                                  int32_t leader_epoch, int32_t partition_epoch,
                                  const int32_t *isr, uint32_t isr_count,
                                  quorum_alter_partition_fn done, void *arg) {
    struct fake_alter_done *d = NULL;
    for (size_t i = 0; i < ARRAY_LEN(alters) && d == NULL; i++) {
        if (!alters[i].used) d = &alters[i];
    }
    if (d == NULL) return -EAGAIN;
    struct metadata_topic *t = NULL;
    for (uint32_t i = 0; i < fake_image->topic_count; i++) {
        if (strcmp(fake_image->topics[i].name, topic) == 0) t = &fake_image->topics[i];
    }
    int16_t error = 3;
    if (t != NULL && partition >= 0 && partition < t->partition_count) {
        struct metadata_partition *p = &t->partitions[partition];
        if (leader_epoch != p->leader_epoch) {
            error = 74;
        } else if (partition_epoch != p->partition_epoch) {
            error = 95;
        } else {
            error = 0;
            memcpy(p->isr, isr, isr_count * sizeof(int32_t));
            p->isr_count = isr_count;
            p->partition_epoch++;
            fake_alter_count++;
        }
    }
    *d = (struct fake_alter_done){.used = true, .done = done, .arg = arg, .error = error,
                                  .partition = partition, .node_id = qc->node_id};
    snprintf(d->topic, sizeof(d->topic), "%s", topic);
    sim_world_schedule(fake_world, sim_world_now_ns(fake_world), fake_alter_deliver, d);
    return 0;
}

int quorum_client_forward(struct quorum_client *qc, int16_t api_key, int16_t version,
                          const void *request, quorum_forward_fn done, void *arg) {
    (void)qc;
    (void)api_key;
    (void)version;
    (void)request;
    (void)done;
    (void)arg;
    return -ENOTSUP;
}

int quorum_client_shutdown(struct quorum_client *qc, quorum_shutdown_fn done, void *arg) {
    (void)qc;
    (void)done;
    (void)arg;
    return -ENOTSUP; /* The broker then answers its own caller (not granted). */
}

int quorum_client_shutdown_now(struct quorum_client *qc) {
    (void)qc;
    return -ENOTCONN; /* No controller to tell. */
}
