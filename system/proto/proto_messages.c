/*
 * proto_messages.c — the schema tables of every surface-v1 message, expanded from the
 * declarative lists in proto_messages.h. Nothing here is written per message: each
 * PROTO_MSG_<name> list becomes a field table, so the C struct and the table that the codec
 * walks can never disagree.
 */
#include "proto/proto_messages.h"

#include <stddef.h>

#define PROTO__ELEM_BOOL(e) NULL
#define PROTO__ELEM_INT8(e) NULL
#define PROTO__ELEM_INT16(e) NULL
#define PROTO__ELEM_INT32(e) NULL
#define PROTO__ELEM_INT64(e) NULL
#define PROTO__ELEM_UUID(e) NULL
#define PROTO__ELEM_STRING(e) NULL
#define PROTO__ELEM_BYTES(e) NULL
#define PROTO__ELEM_RECORDS(e) NULL
#define PROTO__ELEM_ARRAY_INT32(e) NULL
#define PROTO__ELEM_ARRAY_INT64(e) NULL
#define PROTO__ELEM_ARRAY_STRING(e) NULL
#define PROTO__ELEM_ARRAY_STRUCT(e) &proto_schema_##e

#define PROTO__FIELD(S, kind, member, vmin, vmax, nmin, default_value, elem_)                \
    {.name = #member,                                                                          \
     .type = PROTO_T_##kind,                                                                   \
     .version_min = (vmin),                                                                    \
     .version_max = (vmax),                                                                    \
     .nullable_min = (nmin),                                                                   \
     .offset = (uint16_t)offsetof(struct proto_##S, member),                                   \
     .def = (default_value),                                                                   \
     .elem = PROTO__ELEM_##kind(elem_)},

#define PROTO__DEFINE(msg_)                                                                    \
    static const struct proto_field proto__fields_##msg_[] = {                                 \
        PROTO_MSG_##msg_(PROTO__FIELD, msg_)};                                                 \
    const struct proto_schema proto_schema_##msg_ = {                                          \
        .name = #msg_,                                                                         \
        .size = sizeof(struct proto_##msg_),                                                   \
        .fields = proto__fields_##msg_,                                                        \
        .field_count = sizeof(proto__fields_##msg_) / sizeof(proto__fields_##msg_[0])};

PROTO_ALL_STRUCTS(PROTO__DEFINE)

/* ListGroups v0-2: an empty body. */
const struct proto_schema proto_schema_list_groups_request = {
    .name = "list_groups_request",
    .size = sizeof(struct proto_list_groups_request),
    .fields = NULL,
    .field_count = 0,
};
