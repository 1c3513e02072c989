/*
 * fake_quorum_client.h — a test double of controller/quorum_client.h: no Raft, no
 * controller. Every broker started in the test process gets a fake whose image is the one
 * the test owns (fake_qc_set_image); fake_qc_publish() hands it to every started broker's
 * on_update. AlterPartition is applied to that image at once (epochs checked like the
 * controller does) and answered from a world event, then republished. Admin forwards are
 * refused (-ENOTSUP). Test-only: it keeps state in statics, which system/ may not.
 */
#ifndef TRIAL_TESTS_FAKE_QUORUM_CLIENT_H
#define TRIAL_TESTS_FAKE_QUORUM_CLIENT_H

#include <stdint.h>

#include "controller/metadata.h"
#include "sim/sim.h"

/* The world the fakes schedule their answers in, and the image they all serve. */
void fake_qc_init(struct sim_world *world, struct metadata_image *image);
/* Calls on_update of every live fake (the image offset is bumped first). */
void fake_qc_publish(void);
/* AlterPartition requests received and committed so far. */
uint32_t fake_qc_alters(void);
/* Forgets the fake of a crashed node (its memory is gone). */
void fake_qc_forget(int32_t node_id);

#endif /* TRIAL_TESTS_FAKE_QUORUM_CLIENT_H */
