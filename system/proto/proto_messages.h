/*
 * proto_messages.h — every message of the surface-v1 APIs, described once.
 *
 * Each PROTO_MSG_<name>(F, S) list below is THE description of one Kafka struct: one F(...)
 * per field, in wire order (S is the struct's own <name>, passed through for offsetof):
 *
 *     F(S, kind, member, version_min, version_max, nullable_min, default, element)
 *
 *   kind          BOOL INT8 INT16 INT32 INT64 UUID STRING BYTES RECORDS
 *                 ARRAY_INT32 ARRAY_INT64 ARRAY_STRING ARRAY_STRUCT
 *   version_*     the versions the field is on the wire (PROTO_VX = every later version)
 *   nullable_min  first version in which it may be null (PROTO_NN = never)
 *   default       value of a number/bool when the version lacks the field
 *   element       for ARRAY_STRUCT, the <name> of the element's list; otherwise `none`
 *
 * The same list expands twice: here into `struct proto_<name>` (plain C, arrays as
 * {items, count}, count -1 = null), and in proto_messages.c into the `proto_schema_<name>`
 * table that drives the generic codec (proto_schema.h). The field lists follow Apache Kafka's
 * message schemas (clients/src/main/resources/common/message/<Name>.json) restricted to the
 * versions of PROTOCOL.md's surface-v1 table; fields only present in later versions are left
 * out until we support those versions. tests/golden/audit_schemas.py compares these lists with
 * Kafka's JSON version by version. In PROTO_ALL_STRUCTS, a struct must come before the
 * structs that embed it.
 */
#ifndef TRIAL_PROTO_MESSAGES_H
#define TRIAL_PROTO_MESSAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/proto_schema.h"
#include "proto/proto_wire.h"

#define PROTO_VX PROTO_V_MAX
#define PROTO_NN PROTO_NEVER

/* --- ApiVersions (18) ------------------------------------------------------------------- */
#define PROTO_MSG_api_versions_request(F, S)                                                      \
    F(S, STRING, client_software_name, 3, PROTO_VX, PROTO_NN, 0, none)                            \
    F(S, STRING, client_software_version, 3, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_api_versions_response_key(F, S)                                                 \
    F(S, INT16, api_key, 0, PROTO_VX, PROTO_NN, 0, none)                                          \
    F(S, INT16, min_version, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT16, max_version, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_api_versions_response(F, S)                                                     \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, api_keys, 0, PROTO_VX, PROTO_NN, 0, api_versions_response_key)             \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)

/* --- Metadata (3) ----------------------------------------------------------------------- */
#define PROTO_MSG_metadata_request_topic(F, S) F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)
/* v0: an empty topic list means all topics; v1+: null means all, empty means none. */
#define PROTO_MSG_metadata_request(F, S)                                                          \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, 1, 0, metadata_request_topic)                         \
    F(S, BOOL, allow_auto_topic_creation, 4, PROTO_VX, PROTO_NN, 1, none)                         \
    F(S, BOOL, include_cluster_authorized_operations, 8, 10, PROTO_NN, 0, none)                   \
    F(S, BOOL, include_topic_authorized_operations, 8, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_metadata_response_broker(F, S)                                                  \
    F(S, INT32, node_id, 0, PROTO_VX, PROTO_NN, 0, none)                                          \
    F(S, STRING, host, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT32, port, 0, PROTO_VX, PROTO_NN, 0, none)                                             \
    F(S, STRING, rack, 1, PROTO_VX, 1, 0, none)
#define PROTO_MSG_metadata_response_partition(F, S)                                               \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, leader_epoch, 7, PROTO_VX, PROTO_NN, -1, none)                                    \
    F(S, ARRAY_INT32, replica_nodes, 0, PROTO_VX, PROTO_NN, 0, none)                              \
    F(S, ARRAY_INT32, isr_nodes, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, ARRAY_INT32, offline_replicas, 5, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_metadata_response_topic(F, S)                                                   \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, BOOL, is_internal, 1, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, metadata_response_partition)        \
    F(S, INT32, topic_authorized_operations, 8, PROTO_VX, PROTO_NN, INT32_MIN, none)
#define PROTO_MSG_metadata_response(F, S)                                                         \
    F(S, INT32, throttle_time_ms, 3, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, brokers, 0, PROTO_VX, PROTO_NN, 0, metadata_response_broker)               \
    F(S, STRING, cluster_id, 2, PROTO_VX, 2, 0, none)                                             \
    F(S, INT32, controller_id, 1, PROTO_VX, PROTO_NN, -1, none)                                   \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, metadata_response_topic)                 \
    F(S, INT32, cluster_authorized_operations, 8, 10, PROTO_NN, INT32_MIN, none)

/* --- Produce (0) ------------------------------------------------------------------------ */
#define PROTO_MSG_produce_request_partition(F, S)                                                 \
    F(S, INT32, index, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, RECORDS, records, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_produce_request_topic(F, S)                                                     \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partition_data, 0, PROTO_VX, PROTO_NN, 0, produce_request_partition)
#define PROTO_MSG_produce_request(F, S)                                                           \
    F(S, STRING, transactional_id, 3, PROTO_VX, 3, 0, none)                                       \
    F(S, INT16, acks, 0, PROTO_VX, PROTO_NN, 0, none)                                             \
    F(S, INT32, timeout_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, topic_data, 0, PROTO_VX, PROTO_NN, 0, produce_request_topic)
#define PROTO_MSG_produce_response_partition(F, S)                                                \
    F(S, INT32, index, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT64, base_offset, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT64, log_append_time_ms, 2, PROTO_VX, PROTO_NN, -1, none)                              \
    F(S, INT64, log_start_offset, 5, PROTO_VX, PROTO_NN, -1, none)
#define PROTO_MSG_produce_response_topic(F, S)                                                    \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partition_responses, 0, PROTO_VX, PROTO_NN, 0, produce_response_partition)
#define PROTO_MSG_produce_response(F, S)                                                          \
    F(S, ARRAY_STRUCT, responses, 0, PROTO_VX, PROTO_NN, 0, produce_response_topic)               \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)

/* --- Fetch (1) -------------------------------------------------------------------------- */
#define PROTO_MSG_fetch_request_partition(F, S)                                                   \
    F(S, INT32, partition, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, current_leader_epoch, 9, PROTO_VX, PROTO_NN, -1, none)                            \
    F(S, INT64, fetch_offset, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, INT64, log_start_offset, 5, PROTO_VX, PROTO_NN, -1, none)                                \
    F(S, INT32, partition_max_bytes, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_fetch_request_topic(F, S)                                                       \
    F(S, STRING, topic, 0, 12, PROTO_NN, 0, none)                                                 \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, fetch_request_partition)
#define PROTO_MSG_fetch_request_forgotten(F, S)                                                   \
    F(S, STRING, topic, 7, 12, PROTO_NN, 0, none)                                                 \
    F(S, ARRAY_INT32, partitions, 7, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_fetch_request(F, S)                                                             \
    F(S, INT32, replica_id, 0, 14, PROTO_NN, -1, none)                                            \
    F(S, INT32, max_wait_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT32, min_bytes, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, max_bytes, 3, PROTO_VX, PROTO_NN, 0x7fffffff, none)                               \
    F(S, INT8, isolation_level, 4, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, INT32, session_id, 7, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, session_epoch, 7, PROTO_VX, PROTO_NN, -1, none)                                   \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, fetch_request_topic)                     \
    F(S, ARRAY_STRUCT, forgotten_topics_data, 7, PROTO_VX, PROTO_NN, 0, fetch_request_forgotten)  \
    F(S, STRING, rack_id, 11, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_fetch_response_aborted(F, S)                                                    \
    F(S, INT64, producer_id, 4, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT64, first_offset, 4, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_fetch_response_partition(F, S)                                                  \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT64, high_watermark, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, INT64, last_stable_offset, 4, PROTO_VX, PROTO_NN, -1, none)                              \
    F(S, INT64, log_start_offset, 5, PROTO_VX, PROTO_NN, -1, none)                                \
    F(S, ARRAY_STRUCT, aborted_transactions, 4, PROTO_VX, 4, 0, fetch_response_aborted)           \
    F(S, INT32, preferred_read_replica, 11, PROTO_VX, PROTO_NN, -1, none)                         \
    F(S, RECORDS, records, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_fetch_response_topic(F, S)                                                      \
    F(S, STRING, topic, 0, 12, PROTO_NN, 0, none)                                                 \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, fetch_response_partition)
#define PROTO_MSG_fetch_response(F, S)                                                            \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 7, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, session_id, 7, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, responses, 0, PROTO_VX, PROTO_NN, 0, fetch_response_topic)

/* --- ListOffsets (2) -------------------------------------------------------------------- */
#define PROTO_MSG_list_offsets_request_partition(F, S)                                            \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, current_leader_epoch, 4, PROTO_VX, PROTO_NN, -1, none)                            \
    F(S, INT64, timestamp, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, max_num_offsets, 0, 0, PROTO_NN, 1, none)
#define PROTO_MSG_list_offsets_request_topic(F, S)                                                \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, list_offsets_request_partition)
#define PROTO_MSG_list_offsets_request(F, S)                                                      \
    F(S, INT32, replica_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT8, isolation_level, 2, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, list_offsets_request_topic)
#define PROTO_MSG_list_offsets_response_partition(F, S)                                           \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_INT64, old_style_offsets, 0, 0, PROTO_NN, 0, none)                                 \
    F(S, INT64, timestamp, 1, PROTO_VX, PROTO_NN, -1, none)                                       \
    F(S, INT64, offset, 1, PROTO_VX, PROTO_NN, -1, none)                                          \
    F(S, INT32, leader_epoch, 4, PROTO_VX, PROTO_NN, -1, none)
#define PROTO_MSG_list_offsets_response_topic(F, S)                                               \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, list_offsets_response_partition)
#define PROTO_MSG_list_offsets_response(F, S)                                                     \
    F(S, INT32, throttle_time_ms, 2, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, list_offsets_response_topic)

/* --- FindCoordinator (10) --------------------------------------------------------------- */
/* key_type: 0 group, 1 transaction. */
#define PROTO_MSG_find_coordinator_request(F, S)                                                  \
    F(S, STRING, key, 0, 3, PROTO_NN, 0, none)                                                    \
    F(S, INT8, key_type, 1, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_find_coordinator_response(F, S)                                                 \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, 3, PROTO_NN, 0, none)                                              \
    F(S, STRING, error_message, 1, 3, 1, 0, none)                                                 \
    F(S, INT32, node_id, 0, 3, PROTO_NN, 0, none)                                                 \
    F(S, STRING, host, 0, 3, PROTO_NN, 0, none)                                                   \
    F(S, INT32, port, 0, 3, PROTO_NN, 0, none)

/* --- JoinGroup (11) --------------------------------------------------------------------- */
#define PROTO_MSG_join_group_request_protocol(F, S)                                               \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, BYTES, metadata, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_join_group_request(F, S)                                                        \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, session_timeout_ms, 0, PROTO_VX, PROTO_NN, 0, none)                               \
    F(S, INT32, rebalance_timeout_ms, 1, PROTO_VX, PROTO_NN, -1, none)                            \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 5, PROTO_VX, 5, 0, none)                                      \
    F(S, STRING, protocol_type, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, protocols, 0, PROTO_VX, PROTO_NN, 0, join_group_request_protocol)
#define PROTO_MSG_join_group_response_member(F, S)                                                \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 5, PROTO_VX, 5, 0, none)                                      \
    F(S, BYTES, metadata, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_join_group_response(F, S)                                                       \
    F(S, INT32, throttle_time_ms, 2, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, generation_id, 0, PROTO_VX, PROTO_NN, -1, none)                                   \
    F(S, STRING, protocol_name, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, STRING, leader, 0, PROTO_VX, PROTO_NN, 0, none)                                          \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, members, 0, PROTO_VX, PROTO_NN, 0, join_group_response_member)

/* --- SyncGroup (14) --------------------------------------------------------------------- */
#define PROTO_MSG_sync_group_request_assignment(F, S)                                             \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, BYTES, assignment, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_sync_group_request(F, S)                                                        \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, generation_id, 0, PROTO_VX, PROTO_NN, 0, none)                                    \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 3, PROTO_VX, 3, 0, none)                                      \
    F(S, ARRAY_STRUCT, assignments, 0, PROTO_VX, PROTO_NN, 0, sync_group_request_assignment)
#define PROTO_MSG_sync_group_response(F, S)                                                       \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, BYTES, assignment, 0, PROTO_VX, PROTO_NN, 0, none)

/* --- Heartbeat (12) --------------------------------------------------------------------- */
#define PROTO_MSG_heartbeat_request(F, S)                                                         \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, generation_id, 0, PROTO_VX, PROTO_NN, 0, none)                                    \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 3, PROTO_VX, 3, 0, none)
#define PROTO_MSG_heartbeat_response(F, S)                                                        \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)

/* --- LeaveGroup (13) -------------------------------------------------------------------- */
#define PROTO_MSG_leave_group_request_member(F, S)                                                \
    F(S, STRING, member_id, 3, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 3, PROTO_VX, 3, 0, none)
/* v0-2 name one member; v3 (KIP-345) a batch. */
#define PROTO_MSG_leave_group_request(F, S)                                                       \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, STRING, member_id, 0, 2, PROTO_NN, 0, none)                                              \
    F(S, ARRAY_STRUCT, members, 3, PROTO_VX, PROTO_NN, 0, leave_group_request_member)
#define PROTO_MSG_leave_group_response_member(F, S)                                               \
    F(S, STRING, member_id, 3, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 3, PROTO_VX, 3, 0, none)                                      \
    F(S, INT16, error_code, 3, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_leave_group_response(F, S)                                                      \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, members, 3, PROTO_VX, PROTO_NN, 0, leave_group_response_member)

/* --- OffsetCommit (8) ------------------------------------------------------------------- */
#define PROTO_MSG_offset_commit_request_partition(F, S)                                           \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT64, committed_offset, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT32, committed_leader_epoch, 6, PROTO_VX, PROTO_NN, -1, none)                          \
    F(S, INT64, commit_timestamp, 1, 1, PROTO_NN, -1, none)                                       \
    F(S, STRING, committed_metadata, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_offset_commit_request_topic(F, S)                                               \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, offset_commit_request_partition)
#define PROTO_MSG_offset_commit_request(F, S)                                                     \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, generation_id, 1, PROTO_VX, PROTO_NN, -1, none)                                   \
    F(S, STRING, member_id, 1, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 7, PROTO_VX, 7, 0, none)                                      \
    F(S, INT64, retention_time_ms, 2, 4, PROTO_NN, -1, none)                                      \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, offset_commit_request_topic)
#define PROTO_MSG_offset_commit_response_partition(F, S)                                          \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_offset_commit_response_topic(F, S)                                              \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, offset_commit_response_partition)
#define PROTO_MSG_offset_commit_response(F, S)                                                    \
    F(S, INT32, throttle_time_ms, 3, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, offset_commit_response_topic)

/* --- OffsetFetch (9) -------------------------------------------------------------------- */
#define PROTO_MSG_offset_fetch_request_topic(F, S)                                                \
    F(S, STRING, name, 0, 7, PROTO_NN, 0, none)                                                   \
    F(S, ARRAY_INT32, partition_indexes, 0, 7, PROTO_NN, 0, none)
/* v2+: topics null means every committed offset of the group. */
#define PROTO_MSG_offset_fetch_request(F, S)                                                      \
    F(S, STRING, group_id, 0, 7, PROTO_NN, 0, none)                                               \
    F(S, ARRAY_STRUCT, topics, 0, 7, 2, 0, offset_fetch_request_topic)
#define PROTO_MSG_offset_fetch_response_partition(F, S)                                           \
    F(S, INT32, partition_index, 0, 7, PROTO_NN, 0, none)                                         \
    F(S, INT64, committed_offset, 0, 7, PROTO_NN, 0, none)                                        \
    F(S, INT32, committed_leader_epoch, 5, 7, PROTO_NN, -1, none)                                 \
    F(S, STRING, metadata, 0, 7, 0, 0, none)                                                      \
    F(S, INT16, error_code, 0, 7, PROTO_NN, 0, none)
#define PROTO_MSG_offset_fetch_response_topic(F, S)                                               \
    F(S, STRING, name, 0, 7, PROTO_NN, 0, none)                                                   \
    F(S, ARRAY_STRUCT, partitions, 0, 7, PROTO_NN, 0, offset_fetch_response_partition)
#define PROTO_MSG_offset_fetch_response(F, S)                                                     \
    F(S, INT32, throttle_time_ms, 3, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, 7, PROTO_NN, 0, offset_fetch_response_topic)                    \
    F(S, INT16, error_code, 2, 7, PROTO_NN, 0, none)

/* --- ListGroups (16) -------------------------------------------------------------------- */
/* The request has no fields before v4; its struct is declared by hand below. */
#define PROTO_MSG_list_groups_response_group(F, S)                                                \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, STRING, protocol_type, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_list_groups_response(F, S)                                                      \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, groups, 0, PROTO_VX, PROTO_NN, 0, list_groups_response_group)

/* --- DescribeGroups (15) ---------------------------------------------------------------- */
#define PROTO_MSG_describe_groups_request(F, S)                                                   \
    F(S, ARRAY_STRING, groups, 0, PROTO_VX, PROTO_NN, 0, none)                                    \
    F(S, BOOL, include_authorized_operations, 3, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_describe_groups_response_member(F, S)                                           \
    F(S, STRING, member_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_instance_id, 4, PROTO_VX, 4, 0, none)                                      \
    F(S, STRING, client_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, client_host, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, BYTES, member_metadata, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, BYTES, member_assignment, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_describe_groups_response_group(F, S)                                            \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, STRING, group_state, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, STRING, protocol_type, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, STRING, protocol_data, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, members, 0, PROTO_VX, PROTO_NN, 0, describe_groups_response_member)        \
    F(S, INT32, authorized_operations, 3, PROTO_VX, PROTO_NN, INT32_MIN, none)
#define PROTO_MSG_describe_groups_response(F, S)                                                  \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, groups, 0, PROTO_VX, PROTO_NN, 0, describe_groups_response_group)

/* --- InitProducerId (22) ---------------------------------------------------------------- */
/* v2+ flexible (KIP-482); v3+ (KIP-360) lets a producer bump its epoch after an abortable
 * error by naming its current id and epoch. Decoded, not advertised yet (PROTOCOL.md). */
#define PROTO_MSG_init_producer_id_request(F, S)                                                  \
    F(S, STRING, transactional_id, 0, PROTO_VX, 0, 0, none)                                       \
    F(S, INT32, transaction_timeout_ms, 0, PROTO_VX, PROTO_NN, 0, none)                           \
    F(S, INT64, producer_id, 3, PROTO_VX, PROTO_NN, -1, none)                                     \
    F(S, INT16, producer_epoch, 3, PROTO_VX, PROTO_NN, -1, none)
#define PROTO_MSG_init_producer_id_response(F, S)                                                 \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT64, producer_id, 0, PROTO_VX, PROTO_NN, -1, none)                                     \
    F(S, INT16, producer_epoch, 0, PROTO_VX, PROTO_NN, 0, none)

/* --- AddPartitionsToTxn (24) ------------------------------------------------------------ */
#define PROTO_MSG_add_partitions_to_txn_topic(F, S)                                               \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_INT32, partitions, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_add_partitions_to_txn_request(F, S)                                             \
    F(S, STRING, transactional_id, 0, 3, PROTO_NN, 0, none)                                       \
    F(S, INT64, producer_id, 0, 3, PROTO_NN, 0, none)                                             \
    F(S, INT16, producer_epoch, 0, 3, PROTO_NN, 0, none)                                          \
    F(S, ARRAY_STRUCT, topics, 0, 3, PROTO_NN, 0, add_partitions_to_txn_topic)
#define PROTO_MSG_add_partitions_to_txn_partition_result(F, S)                                    \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_add_partitions_to_txn_topic_result(F, S)                                        \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, results, 0, PROTO_VX, PROTO_NN, 0, add_partitions_to_txn_partition_result)
#define PROTO_MSG_add_partitions_to_txn_response(F, S)                                            \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, results, 0, 3, PROTO_NN, 0, add_partitions_to_txn_topic_result)

/* --- AddOffsetsToTxn (25) --------------------------------------------------------------- */
#define PROTO_MSG_add_offsets_to_txn_request(F, S)                                                \
    F(S, STRING, transactional_id, 0, PROTO_VX, PROTO_NN, 0, none)                                \
    F(S, INT64, producer_id, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT16, producer_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_add_offsets_to_txn_response(F, S)                                               \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)

/* --- EndTxn (26) ------------------------------------------------------------------------ */
#define PROTO_MSG_end_txn_request(F, S)                                                           \
    F(S, STRING, transactional_id, 0, PROTO_VX, PROTO_NN, 0, none)                                \
    F(S, INT64, producer_id, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT16, producer_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, BOOL, committed, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_end_txn_response(F, S)                                                          \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)

/* --- TxnOffsetCommit (28) --------------------------------------------------------------- */
#define PROTO_MSG_txn_offset_commit_request_partition(F, S)                                       \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT64, committed_offset, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT32, committed_leader_epoch, 2, PROTO_VX, PROTO_NN, -1, none)                          \
    F(S, STRING, committed_metadata, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_txn_offset_commit_request_topic(F, S)                                           \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, txn_offset_commit_request_partition)
#define PROTO_MSG_txn_offset_commit_request(F, S)                                                 \
    F(S, STRING, transactional_id, 0, PROTO_VX, PROTO_NN, 0, none)                                \
    F(S, STRING, group_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT64, producer_id, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, INT16, producer_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, txn_offset_commit_request_topic)
#define PROTO_MSG_txn_offset_commit_response_partition(F, S)                                      \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_txn_offset_commit_response_topic(F, S)                                          \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, txn_offset_commit_response_partition)
#define PROTO_MSG_txn_offset_commit_response(F, S)                                                \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, txn_offset_commit_response_topic)

/* --- CreateTopics (19) ------------------------------------------------------------------ */
#define PROTO_MSG_create_topics_request_assignment(F, S)                                          \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, ARRAY_INT32, broker_ids, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_create_topics_request_config(F, S)                                              \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, STRING, value, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_create_topics_request_topic(F, S)                                               \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT32, num_partitions, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, INT16, replication_factor, 0, PROTO_VX, PROTO_NN, 0, none)                               \
    F(S, ARRAY_STRUCT, assignments, 0, PROTO_VX, PROTO_NN, 0, create_topics_request_assignment)   \
    F(S, ARRAY_STRUCT, configs, 0, PROTO_VX, PROTO_NN, 0, create_topics_request_config)
#define PROTO_MSG_create_topics_request(F, S)                                                     \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, create_topics_request_topic)             \
    F(S, INT32, timeout_ms, 0, PROTO_VX, PROTO_NN, 60000, none)                                   \
    F(S, BOOL, validate_only, 1, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_create_topics_response_topic(F, S)                                              \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, error_message, 1, PROTO_VX, 1, 0, none)
#define PROTO_MSG_create_topics_response(F, S)                                                    \
    F(S, INT32, throttle_time_ms, 2, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, create_topics_response_topic)

/* --- DeleteTopics (20) ------------------------------------------------------------------ */
#define PROTO_MSG_delete_topics_request(F, S)                                                     \
    F(S, ARRAY_STRING, topic_names, 0, 5, PROTO_NN, 0, none)                                      \
    F(S, INT32, timeout_ms, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_delete_topics_response_topic(F, S)                                              \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_delete_topics_response(F, S)                                                    \
    F(S, INT32, throttle_time_ms, 1, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, responses, 0, PROTO_VX, PROTO_NN, 0, delete_topics_response_topic)

/* --- CreatePartitions (37) -------------------------------------------------------------- */
#define PROTO_MSG_create_partitions_assignment(F, S)                                              \
    F(S, ARRAY_INT32, broker_ids, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_create_partitions_topic(F, S)                                                   \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT32, count, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, assignments, 0, PROTO_VX, 0, 0, create_partitions_assignment)
#define PROTO_MSG_create_partitions_request(F, S)                                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, create_partitions_topic)                 \
    F(S, INT32, timeout_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, BOOL, validate_only, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_create_partitions_result(F, S)                                                  \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, error_message, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_create_partitions_response(F, S)                                                \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, results, 0, PROTO_VX, PROTO_NN, 0, create_partitions_result)

/* --- DescribeConfigs (32) --------------------------------------------------------------- */
/* resource_type: 2 topic, 4 broker (Kafka's ConfigResource.Type). */
#define PROTO_MSG_describe_configs_resource(F, S)                                                 \
    F(S, INT8, resource_type, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, STRING, resource_name, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRING, configuration_keys, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_describe_configs_request(F, S)                                                  \
    F(S, ARRAY_STRUCT, resources, 0, PROTO_VX, PROTO_NN, 0, describe_configs_resource)            \
    F(S, BOOL, include_synonyms, 1, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_describe_configs_synonym(F, S)                                                  \
    F(S, STRING, name, 1, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, STRING, value, 1, PROTO_VX, 0, 0, none)                                                  \
    F(S, INT8, source, 1, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_describe_configs_config(F, S)                                                   \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, STRING, value, 0, PROTO_VX, 0, 0, none)                                                  \
    F(S, BOOL, read_only, 0, PROTO_VX, PROTO_NN, 0, none)                                         \
    F(S, BOOL, is_default, 0, 0, PROTO_NN, 0, none)                                               \
    F(S, INT8, config_source, 1, PROTO_VX, PROTO_NN, -1, none)                                    \
    F(S, BOOL, is_sensitive, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, synonyms, 1, PROTO_VX, PROTO_NN, 0, describe_configs_synonym)
#define PROTO_MSG_describe_configs_result(F, S)                                                   \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, error_message, 0, PROTO_VX, 0, 0, none)                                          \
    F(S, INT8, resource_type, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, STRING, resource_name, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, configs, 0, PROTO_VX, PROTO_NN, 0, describe_configs_config)
#define PROTO_MSG_describe_configs_response(F, S)                                                 \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, results, 0, PROTO_VX, PROTO_NN, 0, describe_configs_result)

/* --- AlterConfigs (33) ------------------------------------------------------------------ */
#define PROTO_MSG_alter_configs_config(F, S)                                                      \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, STRING, value, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_alter_configs_resource(F, S)                                                    \
    F(S, INT8, resource_type, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, STRING, resource_name, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, configs, 0, PROTO_VX, PROTO_NN, 0, alter_configs_config)
#define PROTO_MSG_alter_configs_request(F, S)                                                     \
    F(S, ARRAY_STRUCT, resources, 0, PROTO_VX, PROTO_NN, 0, alter_configs_resource)               \
    F(S, BOOL, validate_only, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_alter_configs_result(F, S)                                                      \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, error_message, 0, PROTO_VX, 0, 0, none)                                          \
    F(S, INT8, resource_type, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, STRING, resource_name, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_alter_configs_response(F, S)                                                    \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, responses, 0, PROTO_VX, PROTO_NN, 0, alter_configs_result)

/* --- DeleteRecords (21) ----------------------------------------------------------------- */
#define PROTO_MSG_delete_records_request_partition(F, S)                                          \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT64, offset, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_delete_records_request_topic(F, S)                                              \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, delete_records_request_partition)
#define PROTO_MSG_delete_records_request(F, S)                                                    \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, delete_records_request_topic)            \
    F(S, INT32, timeout_ms, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_delete_records_response_partition(F, S)                                         \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT64, low_watermark, 0, PROTO_VX, PROTO_NN, 0, none)                                    \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_delete_records_response_topic(F, S)                                             \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, delete_records_response_partition)
#define PROTO_MSG_delete_records_response(F, S)                                                   \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, delete_records_response_topic)

/* --- OffsetForLeaderEpoch (23) ---------------------------------------------------------- */
#define PROTO_MSG_offset_for_leader_epoch_request_partition(F, S)                                 \
    F(S, INT32, partition, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, current_leader_epoch, 2, PROTO_VX, PROTO_NN, -1, none)                            \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_offset_for_leader_epoch_request_topic(F, S)                                     \
    F(S, STRING, topic, 0, PROTO_VX, PROTO_NN, 0, none)                                           \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0,                                      \
      offset_for_leader_epoch_request_partition)
/* replica_id: -1 consumer, -2 (the default before v3) a debugging client. */
#define PROTO_MSG_offset_for_leader_epoch_request(F, S)                                           \
    F(S, INT32, replica_id, 3, PROTO_VX, PROTO_NN, -2, none)                                      \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, offset_for_leader_epoch_request_topic)
#define PROTO_MSG_offset_for_leader_epoch_response_partition(F, S)                                \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, partition, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, leader_epoch, 1, PROTO_VX, PROTO_NN, -1, none)                                    \
    F(S, INT64, end_offset, 0, PROTO_VX, PROTO_NN, -1, none)
#define PROTO_MSG_offset_for_leader_epoch_response_topic(F, S)                                    \
    F(S, STRING, topic, 0, PROTO_VX, PROTO_NN, 0, none)                                           \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0,                                      \
      offset_for_leader_epoch_response_partition)
#define PROTO_MSG_offset_for_leader_epoch_response(F, S)                                          \
    F(S, INT32, throttle_time_ms, 2, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, offset_for_leader_epoch_response_topic)

/* --- SaslHandshake (17), SaslAuthenticate (36) ------------------------------------------ */
#define PROTO_MSG_sasl_handshake_request(F, S)                                                    \
    F(S, STRING, mechanism, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_sasl_handshake_response(F, S)                                                   \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRING, mechanisms, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_sasl_authenticate_request(F, S)                                                 \
    F(S, BYTES, auth_bytes, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_sasl_authenticate_response(F, S)                                                \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, STRING, error_message, 0, PROTO_VX, 0, 0, none)                                          \
    F(S, BYTES, auth_bytes, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT64, session_lifetime_ms, 1, PROTO_VX, PROTO_NN, 0, none)

/*
 * --- The KRaft / controller APIs (internal: never advertised to clients) ----------------
 * Spoken between voters (Vote, BeginQuorumEpoch, EndQuorumEpoch, DescribeQuorum) and from
 * brokers to the active controller (AlterPartition, BrokerRegistration, BrokerHeartbeat).
 * Only v0 of each. BeginQuorumEpoch v0 and EndQuorumEpoch v0 are NOT flexible (Kafka made
 * them flexible in v1); the others are flexible from v0. See docs/REPLICATION.md.
 */

/* --- Vote (52) -------------------------------------------------------------------------- */
#define PROTO_MSG_vote_request_partition(F, S)                                                    \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, candidate_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, candidate_id, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, INT32, last_offset_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                \
    F(S, INT64, last_offset, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_vote_request_topic(F, S)                                                        \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, vote_request_partition)
#define PROTO_MSG_vote_request(F, S)                                                              \
    F(S, STRING, cluster_id, 0, PROTO_VX, 0, 0, none)                                             \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, vote_request_topic)
#define PROTO_MSG_vote_response_partition(F, S)                                                   \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, -1, none)                                       \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, BOOL, vote_granted, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_vote_response_topic(F, S)                                                       \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, vote_response_partition)
#define PROTO_MSG_vote_response(F, S)                                                             \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, vote_response_topic)

/* --- BeginQuorumEpoch (53) -------------------------------------------------------------- */
#define PROTO_MSG_begin_quorum_epoch_request_partition(F, S)                                      \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_begin_quorum_epoch_request_topic(F, S)                                          \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, begin_quorum_epoch_request_partition)
#define PROTO_MSG_begin_quorum_epoch_request(F, S)                                                \
    F(S, STRING, cluster_id, 0, PROTO_VX, 0, 0, none)                                             \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, begin_quorum_epoch_request_topic)
#define PROTO_MSG_begin_quorum_epoch_response_partition(F, S)                                     \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, -1, none)                                       \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_begin_quorum_epoch_response_topic(F, S)                                         \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0,                                      \
      begin_quorum_epoch_response_partition)
#define PROTO_MSG_begin_quorum_epoch_response(F, S)                                               \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, begin_quorum_epoch_response_topic)

/* --- EndQuorumEpoch (54) ---------------------------------------------------------------- */
#define PROTO_MSG_end_quorum_epoch_request_partition(F, S)                                        \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, ARRAY_INT32, preferred_successors, 0, 0, PROTO_NN, 0, none)
#define PROTO_MSG_end_quorum_epoch_request_topic(F, S)                                            \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, end_quorum_epoch_request_partition)
#define PROTO_MSG_end_quorum_epoch_request(F, S)                                                  \
    F(S, STRING, cluster_id, 0, PROTO_VX, 0, 0, none)                                             \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, end_quorum_epoch_request_topic)
#define PROTO_MSG_end_quorum_epoch_response_partition(F, S)                                       \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, -1, none)                                       \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_end_quorum_epoch_response_topic(F, S)                                           \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, end_quorum_epoch_response_partition)
#define PROTO_MSG_end_quorum_epoch_response(F, S)                                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, end_quorum_epoch_response_topic)

/* --- DescribeQuorum (55) ---------------------------------------------------------------- */
#define PROTO_MSG_describe_quorum_request_partition(F, S)                                         \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_describe_quorum_request_topic(F, S)                                             \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, describe_quorum_request_partition)
#define PROTO_MSG_describe_quorum_request(F, S)                                                   \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, describe_quorum_request_topic)
/* log_end_offset: -1 when the leader does not know it yet. */
#define PROTO_MSG_describe_quorum_replica_state(F, S)                                             \
    F(S, INT32, replica_id, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT64, log_end_offset, 0, PROTO_VX, PROTO_NN, -1, none)
#define PROTO_MSG_describe_quorum_response_partition(F, S)                                        \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, -1, none)                                       \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, INT64, high_watermark, 0, PROTO_VX, PROTO_NN, 0, none)                                   \
    F(S, ARRAY_STRUCT, current_voters, 0, PROTO_VX, PROTO_NN, 0, describe_quorum_replica_state)   \
    F(S, ARRAY_STRUCT, observers, 0, PROTO_VX, PROTO_NN, 0, describe_quorum_replica_state)
#define PROTO_MSG_describe_quorum_response_topic(F, S)                                            \
    F(S, STRING, topic_name, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, describe_quorum_response_partition)
#define PROTO_MSG_describe_quorum_response(F, S)                                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, describe_quorum_response_topic)

/* --- AlterPartition (56), v0: topics by name ------------------------------------------- */
#define PROTO_MSG_alter_partition_request_partition(F, S)                                         \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, ARRAY_INT32, new_isr, 0, 2, PROTO_NN, 0, none)                                           \
    F(S, INT32, partition_epoch, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_alter_partition_request_topic(F, S)                                             \
    F(S, STRING, topic_name, 0, 1, PROTO_NN, 0, none)                                             \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, alter_partition_request_partition)
#define PROTO_MSG_alter_partition_request(F, S)                                                   \
    F(S, INT32, broker_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT64, broker_epoch, 0, PROTO_VX, PROTO_NN, -1, none)                                    \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, alter_partition_request_topic)
#define PROTO_MSG_alter_partition_response_partition(F, S)                                        \
    F(S, INT32, partition_index, 0, PROTO_VX, PROTO_NN, 0, none)                                  \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT32, leader_id, 0, PROTO_VX, PROTO_NN, -1, none)                                       \
    F(S, INT32, leader_epoch, 0, PROTO_VX, PROTO_NN, 0, none)                                     \
    F(S, ARRAY_INT32, isr, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT32, partition_epoch, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_alter_partition_response_topic(F, S)                                            \
    F(S, STRING, topic_name, 0, 1, PROTO_NN, 0, none)                                             \
    F(S, ARRAY_STRUCT, partitions, 0, PROTO_VX, PROTO_NN, 0, alter_partition_response_partition)
#define PROTO_MSG_alter_partition_response(F, S)                                                  \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, ARRAY_STRUCT, topics, 0, PROTO_VX, PROTO_NN, 0, alter_partition_response_topic)

/* --- BrokerRegistration (62) ------------------------------------------------------------ */
/* port is Kafka's uint16: the same two bytes as an int16, so callers cast (uint16_t). */
#define PROTO_MSG_broker_registration_listener(F, S)                                              \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, STRING, host, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT16, port, 0, PROTO_VX, PROTO_NN, 0, none)                                             \
    F(S, INT16, security_protocol, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_broker_registration_feature(F, S)                                               \
    F(S, STRING, name, 0, PROTO_VX, PROTO_NN, 0, none)                                            \
    F(S, INT16, min_supported_version, 0, PROTO_VX, PROTO_NN, 0, none)                            \
    F(S, INT16, max_supported_version, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_broker_registration_request(F, S)                                               \
    F(S, INT32, broker_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, STRING, cluster_id, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, UUID, incarnation_id, 0, PROTO_VX, PROTO_NN, 0, none)                                    \
    F(S, ARRAY_STRUCT, listeners, 0, PROTO_VX, PROTO_NN, 0, broker_registration_listener)         \
    F(S, ARRAY_STRUCT, features, 0, PROTO_VX, PROTO_NN, 0, broker_registration_feature)           \
    F(S, STRING, rack, 0, PROTO_VX, 0, 0, none)
#define PROTO_MSG_broker_registration_response(F, S)                                              \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, INT64, broker_epoch, 0, PROTO_VX, PROTO_NN, -1, none)

/* --- BrokerHeartbeat (63) --------------------------------------------------------------- */
#define PROTO_MSG_broker_heartbeat_request(F, S)                                                  \
    F(S, INT32, broker_id, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, INT64, broker_epoch, 0, PROTO_VX, PROTO_NN, -1, none)                                    \
    F(S, INT64, current_metadata_offset, 0, PROTO_VX, PROTO_NN, 0, none)                          \
    F(S, BOOL, want_fence, 0, PROTO_VX, PROTO_NN, 0, none)                                        \
    F(S, BOOL, want_shut_down, 0, PROTO_VX, PROTO_NN, 0, none)
#define PROTO_MSG_broker_heartbeat_response(F, S)                                                 \
    F(S, INT32, throttle_time_ms, 0, PROTO_VX, PROTO_NN, 0, none)                                 \
    F(S, INT16, error_code, 0, PROTO_VX, PROTO_NN, 0, none)                                       \
    F(S, BOOL, is_caught_up, 0, PROTO_VX, PROTO_NN, 0, none)                                      \
    F(S, BOOL, is_fenced, 0, PROTO_VX, PROTO_NN, 1, none)                                         \
    F(S, BOOL, should_shut_down, 0, PROTO_VX, PROTO_NN, 0, none)

/*
 * Every generated struct, nested ones before the ones that embed them. X(name) yields
 * `struct proto_<name>` and `proto_schema_<name>`.
 */
#define PROTO_ALL_STRUCTS(X)                                                                      \
    X(api_versions_request) X(api_versions_response_key) X(api_versions_response)                 \
    X(metadata_request_topic) X(metadata_request) X(metadata_response_broker)                     \
    X(metadata_response_partition) X(metadata_response_topic) X(metadata_response)                \
    X(produce_request_partition) X(produce_request_topic) X(produce_request)                      \
    X(produce_response_partition) X(produce_response_topic) X(produce_response)                   \
    X(fetch_request_partition) X(fetch_request_topic) X(fetch_request_forgotten)                  \
    X(fetch_request) X(fetch_response_aborted) X(fetch_response_partition)                        \
    X(fetch_response_topic) X(fetch_response)                                                     \
    X(list_offsets_request_partition) X(list_offsets_request_topic) X(list_offsets_request)       \
    X(list_offsets_response_partition) X(list_offsets_response_topic)                             \
    X(list_offsets_response)                                                                      \
    X(find_coordinator_request) X(find_coordinator_response)                                      \
    X(join_group_request_protocol) X(join_group_request) X(join_group_response_member)            \
    X(join_group_response)                                                                        \
    X(sync_group_request_assignment) X(sync_group_request) X(sync_group_response)                 \
    X(heartbeat_request) X(heartbeat_response)                                                    \
    X(leave_group_request_member) X(leave_group_request) X(leave_group_response_member)           \
    X(leave_group_response)                                                                       \
    X(offset_commit_request_partition) X(offset_commit_request_topic)                             \
    X(offset_commit_request) X(offset_commit_response_partition)                                  \
    X(offset_commit_response_topic) X(offset_commit_response)                                     \
    X(offset_fetch_request_topic) X(offset_fetch_request) X(offset_fetch_response_partition)      \
    X(offset_fetch_response_topic) X(offset_fetch_response)                                       \
    X(list_groups_response_group) X(list_groups_response)                                         \
    X(describe_groups_request) X(describe_groups_response_member)                                 \
    X(describe_groups_response_group) X(describe_groups_response)                                 \
    X(init_producer_id_request) X(init_producer_id_response)                                      \
    X(add_partitions_to_txn_topic) X(add_partitions_to_txn_request)                               \
    X(add_partitions_to_txn_partition_result) X(add_partitions_to_txn_topic_result)               \
    X(add_partitions_to_txn_response)                                                             \
    X(add_offsets_to_txn_request) X(add_offsets_to_txn_response)                                  \
    X(end_txn_request) X(end_txn_response)                                                        \
    X(txn_offset_commit_request_partition) X(txn_offset_commit_request_topic)                     \
    X(txn_offset_commit_request) X(txn_offset_commit_response_partition)                          \
    X(txn_offset_commit_response_topic) X(txn_offset_commit_response)                             \
    X(create_topics_request_assignment) X(create_topics_request_config)                           \
    X(create_topics_request_topic) X(create_topics_request) X(create_topics_response_topic)       \
    X(create_topics_response)                                                                     \
    X(delete_topics_request) X(delete_topics_response_topic) X(delete_topics_response)            \
    X(create_partitions_assignment) X(create_partitions_topic) X(create_partitions_request)       \
    X(create_partitions_result) X(create_partitions_response)                                     \
    X(describe_configs_resource) X(describe_configs_request) X(describe_configs_synonym)          \
    X(describe_configs_config) X(describe_configs_result) X(describe_configs_response)            \
    X(alter_configs_config) X(alter_configs_resource) X(alter_configs_request)                    \
    X(alter_configs_result) X(alter_configs_response)                                             \
    X(delete_records_request_partition) X(delete_records_request_topic)                           \
    X(delete_records_request) X(delete_records_response_partition)                                \
    X(delete_records_response_topic) X(delete_records_response)                                   \
    X(offset_for_leader_epoch_request_partition) X(offset_for_leader_epoch_request_topic)         \
    X(offset_for_leader_epoch_request) X(offset_for_leader_epoch_response_partition)              \
    X(offset_for_leader_epoch_response_topic) X(offset_for_leader_epoch_response)                 \
    X(sasl_handshake_request) X(sasl_handshake_response)                                          \
    X(sasl_authenticate_request) X(sasl_authenticate_response)                                    \
    X(vote_request_partition) X(vote_request_topic) X(vote_request)                               \
    X(vote_response_partition) X(vote_response_topic) X(vote_response)                            \
    X(begin_quorum_epoch_request_partition) X(begin_quorum_epoch_request_topic)                   \
    X(begin_quorum_epoch_request) X(begin_quorum_epoch_response_partition)                        \
    X(begin_quorum_epoch_response_topic) X(begin_quorum_epoch_response)                           \
    X(end_quorum_epoch_request_partition) X(end_quorum_epoch_request_topic)                       \
    X(end_quorum_epoch_request) X(end_quorum_epoch_response_partition)                            \
    X(end_quorum_epoch_response_topic) X(end_quorum_epoch_response)                               \
    X(describe_quorum_request_partition) X(describe_quorum_request_topic)                         \
    X(describe_quorum_request) X(describe_quorum_replica_state)                                   \
    X(describe_quorum_response_partition) X(describe_quorum_response_topic)                       \
    X(describe_quorum_response)                                                                   \
    X(alter_partition_request_partition) X(alter_partition_request_topic)                         \
    X(alter_partition_request) X(alter_partition_response_partition)                              \
    X(alter_partition_response_topic) X(alter_partition_response)                                 \
    X(broker_registration_listener) X(broker_registration_feature)                                \
    X(broker_registration_request) X(broker_registration_response)                                \
    X(broker_heartbeat_request) X(broker_heartbeat_response)

/* C types of the field kinds. */
#define PROTO__CT_BOOL(e) bool
#define PROTO__CT_INT8(e) int8_t
#define PROTO__CT_INT16(e) int16_t
#define PROTO__CT_INT32(e) int32_t
#define PROTO__CT_INT64(e) int64_t
#define PROTO__CT_UUID(e) struct proto_uuid
#define PROTO__CT_STRING(e) struct proto_string
#define PROTO__CT_BYTES(e) struct proto_bytes
#define PROTO__CT_RECORDS(e) struct proto_bytes
#define PROTO__CT_ARRAY_INT32(e) PROTO_ARRAY(int32_t)
#define PROTO__CT_ARRAY_INT64(e) PROTO_ARRAY(int64_t)
#define PROTO__CT_ARRAY_STRING(e) PROTO_ARRAY(struct proto_string)
#define PROTO__CT_ARRAY_STRUCT(e) PROTO_ARRAY(struct proto_##e)

#define PROTO__MEMBER(S, kind, member, vmin, vmax, nmin, def, elem)                           \
    PROTO__CT_##kind(elem) member;
#define PROTO__DECLARE(name)                                                                      \
    struct proto_##name {                                                                         \
        PROTO_MSG_##name(PROTO__MEMBER, name)                                                     \
    };                                                                                            \
    extern const struct proto_schema proto_schema_##name;

PROTO_ALL_STRUCTS(PROTO__DECLARE)

/* ListGroups v0-2 requests carry no fields (a states filter arrives in v4). */
struct proto_list_groups_request {
    uint8_t unused; /* C forbids empty structs. */
};
extern const struct proto_schema proto_schema_list_groups_request;

#endif /* TRIAL_PROTO_MESSAGES_H */
