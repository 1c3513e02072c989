/*
 * group_api.h — the Kafka group APIs on top of the group coordinator: takes a request body
 * decoded by system/proto (struct proto_join_group_request, ...) and produces the response
 * body to encode (struct proto_join_group_response, ...), applying each API version's rules
 * (JoinGroup v0 has no rebalance timeout, LeaveGroup v0-2 name one member, OffsetCommit v0-1
 * have no generation, OffsetFetch v1 reports group errors per partition, ...). The broker's
 * dispatcher calls group_api_handle() for API keys 8, 9, 11-16 and 28 (TxnOffsetCommit) and
 * encodes what `done` receives with proto_response_encode(). FindCoordinator stays with the
 * broker: it needs to know which broker leads the group's __consumer_offsets partition,
 * which group_coordinator_partition_for() names.
 *
 * Lifetimes: the response passed to `done`, and everything it points to, is valid only
 * during the call (encode it there). `done` runs exactly once, before group_api_handle()
 * returns or later (JoinGroup waits for the rebalance, SyncGroup for the leader, OffsetCommit
 * for the log), so the request body and `arena` must stay alive until it has run — the
 * broker keeps a request's arena until its response is encoded anyway. Response arrays are
 * allocated from `arena`; if it is exhausted the response carries UNKNOWN_SERVER_ERROR and
 * empty arrays instead.
 */
#ifndef TRIAL_COORDINATOR_GROUP_API_H
#define TRIAL_COORDINATOR_GROUP_API_H

#include <stdbool.h>
#include <stdint.h>

#include "coordinator/group_coordinator.h"
#include "proto/proto.h"

/* Receives the response body (struct proto_<api>_response *) for the request. */
typedef void (*group_api_done_cb)(void *arg, const void *response);

/* True for the API keys group_api_handle() answers. */
bool group_api_handles(int16_t api_key);

/*
 * Handles one request. client_id and client_host (e.g. "/127.0.0.1") describe the
 * connection; JoinGroup records them for DescribeGroups. Returns 0 (done will run once), or
 * -ENOSYS for an API key this module does not handle (done never runs).
 */
int group_api_handle(struct group_coordinator *co, struct proto_arena *arena, int16_t api_key,
                     int16_t version, const char *client_id, const char *client_host,
                     const void *request, group_api_done_cb done, void *arg);

#endif /* TRIAL_COORDINATOR_GROUP_API_H */
