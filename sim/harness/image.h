/*
 * image.h — disk images of the brokers' partition logs for the I-LOG checkers and reports:
 * reads a node's simulated disk (never a broker's private structs) with the checkers'
 * independent parser (checkers/log_image.h) into struct li_log values.
 *
 * Every array lives in an image_pool (a list of C-allocated blocks) freed at once when
 * the run ends; the harness is outside system/, so it may use the C allocator.
 */
#ifndef TRIAL_SIM_HARNESS_IMAGE_H
#define TRIAL_SIM_HARNESS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "checkers/log_image.h"

struct sim_node;

struct image_block;
struct image_pool {
    struct image_block *head;
};

void image_pool_init(struct image_pool *pool);
/* Zeroed memory that lives until image_pool_free. Never NULL (aborts when out of memory). */
void *image_pool_alloc(struct image_pool *pool, size_t size);
struct li_log *image_pool_log(struct image_pool *pool);
void image_pool_free(struct image_pool *pool);

/* Reads /data/<topic>-<partition>/ of the node's disk into *out. 0, or -ENOENT when the
 * partition directory does not exist (the node never created it), or another -errno. The
 * node must be up (its io lists the directory). */
int image_collect(struct image_pool *pool, struct sim_node *node, const char *node_name,
                  const char *topic, int32_t partition, struct li_log *out);

#endif /* TRIAL_SIM_HARNESS_IMAGE_H */
