/*
 * config.c — server.properties parsing and validation (see config.h).
 *
 * One table lists every key we know with its type, bounds and where it lands in the struct,
 * so adding a setting is one line and every key gets the same validation and messages.
 * Keys Kafka has but we do not act on yet (thread counts, socket buffer sizes, security
 * maps) are accepted silently so a stock Kafka server.properties loads without noise.
 */
#include "broker/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

enum config_type {
    CONFIG_INT32,  /* int32_t field */
    CONFIG_INT16,  /* int16_t field */
    CONFIG_INT64,  /* int64_t field */
    CONFIG_BOOL,   /* bool field */
    CONFIG_SPECIAL /* parsed by a dedicated branch in config_set_special() */
};

struct config_key {
    const char *name;
    enum config_type type;
    size_t offset;   /* Into struct broker_config (not for CONFIG_SPECIAL). */
    int64_t min;     /* Inclusive bounds for integers. */
    int64_t max;
    int64_t scale;   /* Multiplier applied to the value (hours -> ms); 1 if none. */
};

#define F(field) offsetof(struct broker_config, field)
#define HOUR_MS (3600LL * 1000LL)
#define MINUTE_MS (60LL * 1000LL)

static const struct config_key config_keys[] = {
    {"process.roles", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"node.id", CONFIG_INT32, F(node_id), 0, INT32_MAX, 1},
    {"broker.id", CONFIG_INT32, F(node_id), 0, INT32_MAX, 1},
    {"controller.quorum.voters", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"listeners", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"advertised.listeners", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"controller.listener.names", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"inter.broker.listener.name", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"log.dirs", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"log.dir", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"num.partitions", CONFIG_INT32, F(num_partitions), 1, 100000, 1},
    {"default.replication.factor", CONFIG_INT16, F(default_replication_factor), 1, INT16_MAX, 1},
    {"auto.create.topics.enable", CONFIG_BOOL, F(auto_create_topics_enable), 0, 1, 1},
    {"min.insync.replicas", CONFIG_INT32, F(min_insync_replicas), 1, INT32_MAX, 1},
    {"message.max.bytes", CONFIG_INT32, F(message_max_bytes), 0, INT32_MAX, 1},
    {"log.segment.bytes", CONFIG_INT64, F(log_segment_bytes), 14, INT32_MAX, 1},
    {"log.roll.ms", CONFIG_INT64, F(log_roll_ms), 1, INT64_MAX, 1},
    {"log.roll.hours", CONFIG_SPECIAL, 0, 1, INT32_MAX, HOUR_MS},
    {"log.retention.ms", CONFIG_SPECIAL, 0, -1, INT64_MAX, 1},
    {"log.retention.minutes", CONFIG_SPECIAL, 0, -1, INT32_MAX, MINUTE_MS},
    {"log.retention.hours", CONFIG_SPECIAL, 0, -1, INT32_MAX, HOUR_MS},
    {"log.retention.bytes", CONFIG_INT64, F(log_retention_bytes), -1, INT64_MAX, 1},
    {"log.retention.check.interval.ms", CONFIG_INT64, F(log_retention_check_interval_ms), 1,
     INT64_MAX, 1},
    {"log.flush.interval.messages", CONFIG_INT64, F(log_flush_interval_messages), 1, INT64_MAX,
     1},
    {"log.flush.interval.ms", CONFIG_INT64, F(log_flush_interval_ms), 0, INT64_MAX, 1},
    {"log.flush.scheduler.interval.ms", CONFIG_INT64, F(log_flush_scheduler_interval_ms), 1,
     INT64_MAX, 1},
    {"log.index.interval.bytes", CONFIG_INT32, F(log_index_interval_bytes), 0, INT32_MAX, 1},
    {"log.index.size.max.bytes", CONFIG_INT32, F(log_index_size_max_bytes), 4, INT32_MAX, 1},
    {"log.segment.delete.delay.ms", CONFIG_INT64, F(log_segment_delete_delay_ms), 0, INT64_MAX,
     1},
    {"log.cleanup.policy", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"log.message.timestamp.type", CONFIG_SPECIAL, 0, 0, 0, 1},
    {"offsets.topic.replication.factor", CONFIG_INT16, F(offsets_topic_replication_factor), 1,
     INT16_MAX, 1},
    {"offsets.topic.num.partitions", CONFIG_INT32, F(offsets_topic_num_partitions), 1, 100000, 1},
    {"transaction.state.log.replication.factor", CONFIG_INT16,
     F(transaction_state_log_replication_factor), 1, INT16_MAX, 1},
    {"transaction.state.log.min.isr", CONFIG_INT32, F(transaction_state_log_min_isr), 1,
     INT32_MAX, 1},
    {"transaction.state.log.num.partitions", CONFIG_INT32,
     F(transaction_state_log_num_partitions), 1, 100000, 1},
    {"replica.lag.time.max.ms", CONFIG_INT64, F(replica_lag_time_max_ms), 1, INT64_MAX, 1},
    {"replica.high.watermark.checkpoint.interval.ms", CONFIG_INT64,
     F(replica_high_watermark_checkpoint_interval_ms), 1, INT64_MAX, 1},
    {"replica.fetch.wait.max.ms", CONFIG_INT32, F(replica_fetch_wait_max_ms), 0, INT32_MAX, 1},
    {"replica.fetch.min.bytes", CONFIG_INT32, F(replica_fetch_min_bytes), 1, INT32_MAX, 1},
    {"replica.fetch.max.bytes", CONFIG_INT32, F(replica_fetch_max_bytes), 0, INT32_MAX, 1},
    {"replica.fetch.backoff.ms", CONFIG_INT64, F(replica_fetch_backoff_ms), 0, INT64_MAX, 1},
    {"broker.session.timeout.ms", CONFIG_INT64, F(broker_session_timeout_ms), 1, INT64_MAX, 1},
    {"broker.heartbeat.interval.ms", CONFIG_INT64, F(broker_heartbeat_interval_ms), 1,
     INT64_MAX, 1},
    {"controller.quorum.election.timeout.ms", CONFIG_INT64, F(quorum_election_timeout_ms), 1,
     INT64_MAX, 1},
    {"controller.quorum.fetch.timeout.ms", CONFIG_INT64, F(quorum_fetch_timeout_ms), 1,
     INT64_MAX, 1},
    {"controller.quorum.election.backoff.max.ms", CONFIG_INT64,
     F(quorum_election_backoff_max_ms), 1, INT64_MAX, 1},
    {"controller.quorum.request.timeout.ms", CONFIG_INT64, F(quorum_request_timeout_ms), 1,
     INT64_MAX, 1},
    {"unclean.leader.election.enable", CONFIG_BOOL, F(unclean_leader_election_enable), 0, 1, 1},
    {"group.initial.rebalance.delay.ms", CONFIG_INT32, F(group_initial_rebalance_delay_ms), 0,
     INT32_MAX, 1},
    {"transaction.max.timeout.ms", CONFIG_INT32, F(transaction_max_timeout_ms), 1, INT32_MAX, 1},
    {"socket.request.max.bytes", CONFIG_INT32, F(socket_request_max_bytes), 64, INT32_MAX, 1},
    {"connections.max.idle.ms", CONFIG_INT64, F(connections_max_idle_ms), 1, INT64_MAX, 1},
    {"queued.max.requests", CONFIG_INT32, F(queued_max_requests), 1, 65536, 1},
    {"request.timeout.ms", CONFIG_INT64, F(request_timeout_ms), 1, INT64_MAX, 1},
};

/* Kafka settings that are valid but have no effect here (yet): accepted without a warning. */
static const char *const config_ignored_keys[] = {
    "listener.security.protocol.map",
    "num.network.threads",
    "num.io.threads",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "log.cleaner.enable",
    "metadata.log.dir",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
};

static void config_error(char *error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void config_error(char *error, const char *fmt, ...) {
    if (error == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, BROKER_CONFIG_ERROR_MAX, fmt, ap);
    va_end(ap);
}

void broker_config_defaults(struct broker_config *config) {
    memset(config, 0, sizeof(*config));
    config->process_roles = BROKER_ROLE_BROKER | BROKER_ROLE_CONTROLLER;
    config->node_id = 1;
    snprintf(config->listeners[0].name, sizeof(config->listeners[0].name), "PLAINTEXT");
    config->listeners[0].port = 9092;
    config->listener_count = 1;
    snprintf(config->inter_broker_listener_name, sizeof(config->inter_broker_listener_name),
             "PLAINTEXT");
    snprintf(config->log_dirs[0], sizeof(config->log_dirs[0]), "/tmp/kafka-logs");
    config->log_dir_count = 1;
    config->num_partitions = 1;
    config->default_replication_factor = 1;
    config->auto_create_topics_enable = true;
    config->min_insync_replicas = 1;
    config->message_max_bytes = 1048588;
    config->log_segment_bytes = 1073741824;
    config->log_roll_ms = 168 * HOUR_MS;
    config->log_retention_ms = 168 * HOUR_MS;
    config->log_retention_bytes = -1;
    config->log_retention_check_interval_ms = 300000;
    config->log_flush_interval_messages = INT64_MAX;
    config->log_flush_interval_ms = -1;
    config->log_flush_scheduler_interval_ms = INT64_MAX;
    config->log_index_interval_bytes = 4096;
    config->log_index_size_max_bytes = 10485760;
    config->log_segment_delete_delay_ms = 60000;
    config->offsets_topic_replication_factor = 3;
    config->offsets_topic_num_partitions = 50;
    config->transaction_state_log_replication_factor = 3;
    config->transaction_state_log_min_isr = 2;
    config->transaction_state_log_num_partitions = 50;
    config->replica_lag_time_max_ms = 30000;
    config->replica_high_watermark_checkpoint_interval_ms = 5000;
    config->replica_fetch_wait_max_ms = 500;
    config->replica_fetch_min_bytes = 1;
    config->replica_fetch_max_bytes = 10 * 1024 * 1024;
    config->replica_fetch_backoff_ms = 1000;
    config->broker_session_timeout_ms = 9000;
    config->broker_heartbeat_interval_ms = 2000;
    config->quorum_election_timeout_ms = 1000;
    config->quorum_fetch_timeout_ms = 2000;
    config->quorum_election_backoff_max_ms = 1000;
    config->quorum_request_timeout_ms = 2000;
    config->group_initial_rebalance_delay_ms = 3000;
    config->transaction_max_timeout_ms = 900000;
    config->socket_request_max_bytes = 104857600;
    config->connections_max_idle_ms = 600000;
    config->queued_max_requests = 500;
    config->request_timeout_ms = 30000;
}

/* Strict decimal integer: optional sign, digits, nothing else. */
static bool config_parse_int(const char *value, int64_t *out) {
    const char *p = value;
    bool negative = false;
    if (*p == '-' || *p == '+') negative = (*p++ == '-');
    if (*p == '\0') return false;
    uint64_t magnitude = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') return false;
        uint64_t digit = (uint64_t)(*p - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) return false;
        magnitude = magnitude * 10 + digit;
    }
    if (!negative && magnitude > (uint64_t)INT64_MAX) return false;
    if (negative && magnitude > (uint64_t)INT64_MAX + 1) return false;
    *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return true;
}

static bool config_parse_bool(const char *value, bool *out) {
    if (strcasecmp(value, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(value, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

/* Copies the next comma-separated item of *cursor (trimmed) into item; false at the end. */
static bool config_next_item(const char **cursor, char *item, size_t size, bool *too_long) {
    const char *p = *cursor;
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (*p == '\0') return false;
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    const char *last = end;
    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) last--;
    size_t len = (size_t)(last - p);
    *too_long = len >= size;
    if (!*too_long) {
        memcpy(item, p, len);
        item[len] = '\0';
    }
    *cursor = end;
    return true;
}

/* host:port with an optional [ipv6] host; empty host allowed. */
static bool config_parse_host_port(const char *text, char *host, uint16_t *port) {
    const char *colon = strrchr(text, ':');
    if (colon == NULL) return false;
    size_t host_len = (size_t)(colon - text);
    const char *host_start = text;
    if (host_len >= 2 && text[0] == '[' && text[host_len - 1] == ']') {
        host_start++;
        host_len -= 2;
    }
    if (host_len >= BROKER_CONFIG_HOST_MAX) return false;
    int64_t port_value;
    if (!config_parse_int(colon + 1, &port_value) || port_value < 0 || port_value > 65535) {
        return false;
    }
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    *port = (uint16_t)port_value;
    return true;
}

static int config_parse_listeners(const char *key, const char *value,
                                  struct broker_listener *out, uint32_t *count, char *error) {
    const char *cursor = value;
    char item[BROKER_CONFIG_STRING_MAX];
    bool too_long = false;
    uint32_t n = 0;
    while (config_next_item(&cursor, item, sizeof(item), &too_long)) {
        if (too_long) {
            config_error(error, "%s: entry too long", key);
            return -EINVAL;
        }
        if (n == BROKER_CONFIG_LISTENERS_MAX) {
            config_error(error, "%s: more than %d listeners", key, BROKER_CONFIG_LISTENERS_MAX);
            return -EINVAL;
        }
        const char *sep = strstr(item, "://");
        if (sep == NULL || sep == item || (size_t)(sep - item) >= BROKER_CONFIG_NAME_MAX) {
            config_error(error, "%s: '%s' is not NAME://host:port", key, item);
            return -EINVAL;
        }
        struct broker_listener *listener = &out[n];
        memset(listener, 0, sizeof(*listener));
        for (size_t i = 0; i < (size_t)(sep - item); i++) {
            char c = item[i];
            if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
            bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
            if (!ok) {
                config_error(error, "%s: bad listener name in '%s'", key, item);
                return -EINVAL;
            }
            listener->name[i] = c;
        }
        if (!config_parse_host_port(sep + 3, listener->host, &listener->port)) {
            config_error(error, "%s: '%s' is not NAME://host:port (port 0-65535)", key, item);
            return -EINVAL;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (strcmp(out[i].name, listener->name) == 0) {
                config_error(error, "%s: listener name %s appears twice", key, listener->name);
                return -EINVAL;
            }
        }
        n++;
    }
    if (n == 0) {
        config_error(error, "%s: must name at least one listener", key);
        return -EINVAL;
    }
    *count = n;
    return 0;
}

static int config_parse_voters(struct broker_config *config, const char *value, char *error) {
    const char *cursor = value;
    char item[BROKER_CONFIG_STRING_MAX];
    bool too_long = false;
    uint32_t n = 0;
    while (config_next_item(&cursor, item, sizeof(item), &too_long)) {
        if (too_long || n == BROKER_CONFIG_VOTERS_MAX) {
            config_error(error, "controller.quorum.voters: too long or more than %d voters",
                         BROKER_CONFIG_VOTERS_MAX);
            return -EINVAL;
        }
        char *at = strchr(item, '@');
        struct broker_voter *voter = &config->voters[n];
        int64_t id;
        if (at != NULL) *at = '\0';
        if (at == NULL || !config_parse_int(item, &id) || id < 0 || id > INT32_MAX ||
            !config_parse_host_port(at + 1, voter->host, &voter->port) || voter->port == 0) {
            config_error(error, "controller.quorum.voters: entry %u is not id@host:port", n + 1);
            return -EINVAL;
        }
        voter->id = (int32_t)id;
        for (uint32_t i = 0; i < n; i++) {
            if (config->voters[i].id == voter->id) {
                config_error(error, "controller.quorum.voters: id %d appears twice", voter->id);
                return -EINVAL;
            }
        }
        n++;
    }
    config->voter_count = n;
    return 0;
}

static int config_set_special(struct broker_config *config, const struct config_key *key,
                              const char *value, char *error) {
    const char *name = key->name;
    if (strcmp(name, "process.roles") == 0) {
        const char *cursor = value;
        char item[32];
        bool too_long = false;
        uint32_t roles = 0;
        while (config_next_item(&cursor, item, sizeof(item), &too_long)) {
            if (!too_long && strcmp(item, "broker") == 0) {
                roles |= BROKER_ROLE_BROKER;
            } else if (!too_long && strcmp(item, "controller") == 0) {
                roles |= BROKER_ROLE_CONTROLLER;
            } else {
                config_error(error, "process.roles: '%s' is not broker or controller",
                             too_long ? "(too long)" : item);
                return -EINVAL;
            }
        }
        if (roles == 0) {
            config_error(error, "process.roles: must contain broker and/or controller");
            return -EINVAL;
        }
        config->process_roles = roles;
        return 0;
    }
    if (strcmp(name, "controller.quorum.voters") == 0) return config_parse_voters(config, value, error);
    if (strcmp(name, "listeners") == 0) {
        return config_parse_listeners(name, value, config->listeners, &config->listener_count,
                                      error);
    }
    if (strcmp(name, "advertised.listeners") == 0) {
        return config_parse_listeners(name, value, config->advertised, &config->advertised_count,
                                      error);
    }
    if (strcmp(name, "controller.listener.names") == 0 ||
        strcmp(name, "inter.broker.listener.name") == 0) {
        bool controller = name[0] == 'c';
        char *dest = controller ? config->controller_listener_names
                                : config->inter_broker_listener_name;
        size_t size = controller ? sizeof(config->controller_listener_names)
                                 : sizeof(config->inter_broker_listener_name);
        size_t len = strlen(value);
        if (len >= size) {
            config_error(error, "%s: value too long", name);
            return -EINVAL;
        }
        for (size_t i = 0; i <= len; i++) {
            char c = value[i];
            dest[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        }
        return 0;
    }
    if (strcmp(name, "log.dirs") == 0 || strcmp(name, "log.dir") == 0) {
        const char *cursor = value;
        bool too_long = false;
        uint32_t n = 0;
        char item[BROKER_CONFIG_STRING_MAX];
        while (config_next_item(&cursor, item, sizeof(item), &too_long)) {
            if (too_long || n == BROKER_CONFIG_LOG_DIRS_MAX) {
                config_error(error, "%s: a path is too long or more than %d dirs", name,
                             BROKER_CONFIG_LOG_DIRS_MAX);
                return -EINVAL;
            }
            memcpy(config->log_dirs[n], item, strlen(item) + 1);
            n++;
        }
        if (n == 0) {
            config_error(error, "%s: must name at least one directory", name);
            return -EINVAL;
        }
        config->log_dir_count = n;
        return 0;
    }
    if (strcmp(name, "log.cleanup.policy") == 0) {
        if (strcmp(value, "delete") == 0) {
            config->log_cleanup_policy_compact = false;
        } else if (strcmp(value, "compact") == 0) {
            config->log_cleanup_policy_compact = true;
        } else {
            config_error(error, "log.cleanup.policy: '%s' is not delete or compact", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(name, "log.message.timestamp.type") == 0) {
        if (strcmp(value, "CreateTime") == 0) {
            config->log_message_timestamp_log_append_time = false;
        } else if (strcmp(value, "LogAppendTime") == 0) {
            config->log_message_timestamp_log_append_time = true;
        } else {
            config_error(error, "log.message.timestamp.type: '%s' is not CreateTime or "
                                "LogAppendTime", value);
            return -EINVAL;
        }
        return 0;
    }
    /* The remaining specials are scaled integers with precedence rules handled here:
     * Kafka lets log.retention.ms win over .minutes over .hours, whatever their order in
     * the file, so each remembers which unit set it. */
    int64_t number;
    if (!config_parse_int(value, &number) || number < key->min || number > key->max) {
        config_error(error, "%s: '%s' is not an integer in [%lld, %lld]", name, value,
                     (long long)key->min, (long long)key->max);
        return -EINVAL;
    }
    int64_t scaled = number < 0 ? -1 : number * key->scale;
    if (strcmp(name, "log.roll.hours") == 0) {
        if (config->log_roll_ms_set_by_ms) return 0;
        config->log_roll_ms = scaled;
        return 0;
    }
    int rank = strcmp(name, "log.retention.ms") == 0        ? 3
               : strcmp(name, "log.retention.minutes") == 0 ? 2
                                                            : 1;
    if (rank < config->log_retention_rank) return 0;
    config->log_retention_rank = rank;
    config->log_retention_ms = scaled;
    return 0;
}

int broker_config_set(struct broker_config *config, const char *key, const char *value,
                      broker_config_warn_fn warn, void *warn_arg, char *error) {
    ASSERT(config != NULL && key != NULL && value != NULL);
    for (size_t i = 0; i < ARRAY_LEN(config_keys); i++) {
        const struct config_key *entry = &config_keys[i];
        if (strcmp(entry->name, key) != 0) continue;
        if (strlen(value) >= BROKER_CONFIG_STRING_MAX) {
            config_error(error, "%s: value longer than %d bytes", key,
                         BROKER_CONFIG_STRING_MAX - 1);
            return -EINVAL;
        }
        if (entry->type == CONFIG_SPECIAL) return config_set_special(config, entry, value, error);
        uint8_t *field = (uint8_t *)config + entry->offset;
        if (entry->type == CONFIG_BOOL) {
            bool flag;
            if (!config_parse_bool(value, &flag)) {
                config_error(error, "%s: '%s' is not true or false", key, value);
                return -EINVAL;
            }
            memcpy(field, &flag, sizeof(flag));
            return 0;
        }
        int64_t number;
        if (!config_parse_int(value, &number) || number < entry->min || number > entry->max) {
            config_error(error, "%s: '%s' is not an integer in [%lld, %lld]", key, value,
                         (long long)entry->min, (long long)entry->max);
            return -EINVAL;
        }
        if (entry->type == CONFIG_INT16) {
            int16_t v = (int16_t)number;
            memcpy(field, &v, sizeof(v));
        } else if (entry->type == CONFIG_INT32) {
            int32_t v = (int32_t)number;
            memcpy(field, &v, sizeof(v));
        } else {
            ASSERT(entry->type == CONFIG_INT64);
            memcpy(field, &number, sizeof(number));
            if (strcmp(key, "log.roll.ms") == 0) config->log_roll_ms_set_by_ms = true;
        }
        return 0;
    }
    for (size_t i = 0; i < ARRAY_LEN(config_ignored_keys); i++) {
        if (strcmp(config_ignored_keys[i], key) == 0) return 0;
    }
    if (warn != NULL) {
        char message[BROKER_CONFIG_ERROR_MAX];
        snprintf(message, sizeof(message), "unknown configuration '%s' ignored", key);
        warn(warn_arg, message);
    }
    return 1;
}

static bool config_name_in_list(const char *list, const char *name) {
    const char *cursor = list;
    char item[BROKER_CONFIG_NAME_MAX];
    bool too_long = false;
    while (config_next_item(&cursor, item, sizeof(item), &too_long)) {
        if (!too_long && strcasecmp(item, name) == 0) return true;
    }
    return false;
}

int broker_config_finish(struct broker_config *config, char *error) {
    if (config->advertised_count == 0) {
        memcpy(config->advertised, config->listeners, sizeof(config->listeners));
        config->advertised_count = config->listener_count;
    }
    if (config->log_flush_scheduler_interval_ms == INT64_MAX && config->log_flush_interval_ms >= 0) {
        config->log_flush_scheduler_interval_ms = config->log_flush_interval_ms;
    }
    /* Every controller listener name must name a listener (Kafka refuses to start). */
    const char *cursor = config->controller_listener_names;
    char item[BROKER_CONFIG_NAME_MAX];
    bool too_long = false;
    uint32_t controller_names = 0;
    while (config_next_item(&cursor, item, sizeof(item), &too_long)) {
        if (too_long || broker_config_listener(config, item) == NULL) {
            config_error(error, "controller.listener.names: '%s' is not in listeners",
                         too_long ? "(too long)" : item);
            return -EINVAL;
        }
        controller_names++;
    }
    if ((config->process_roles & BROKER_ROLE_CONTROLLER) != 0 && config->voter_count > 0) {
        bool found = false;
        for (uint32_t i = 0; i < config->voter_count; i++) {
            found = found || config->voters[i].id == config->node_id;
        }
        if (!found) {
            config_error(error, "controller.quorum.voters: node.id %d has the controller "
                                "role but is not a voter", config->node_id);
            return -EINVAL;
        }
        if (controller_names == 0) {
            config_error(error, "controller.listener.names: required with process.roles "
                                "containing controller and controller.quorum.voters set");
            return -EINVAL;
        }
    }
    if ((config->process_roles & BROKER_ROLE_BROKER) != 0 &&
        broker_config_client_listener(config) == NULL) {
        config_error(error, "listeners: a broker needs a listener that is not a controller "
                            "listener");
        return -EINVAL;
    }
    for (uint32_t i = 0; i < config->advertised_count; i++) {
        if (broker_config_listener(config, config->advertised[i].name) == NULL) {
            config_error(error, "advertised.listeners: %s is not in listeners",
                         config->advertised[i].name);
            return -EINVAL;
        }
    }
    if (config->message_max_bytes > config->socket_request_max_bytes) {
        config_error(error, "message.max.bytes (%d) exceeds socket.request.max.bytes (%d)",
                     config->message_max_bytes, config->socket_request_max_bytes);
        return -EINVAL;
    }
    return 0;
}

int broker_config_parse(struct broker_config *config, const char *text, size_t len,
                        broker_config_warn_fn warn, void *warn_arg, char *error) {
    ASSERT(config != NULL && (text != NULL || len == 0));
    char line[2 * BROKER_CONFIG_STRING_MAX];
    size_t pos = 0;
    uint32_t line_number = 0;
    const uint32_t lines_max = 1u << 20; /* A bound on the loop: a million lines is absurd. */
    while (pos < len && line_number < lines_max) {
        /* Gather one logical line (joining backslash continuations), trimmed on the left. */
        size_t used = 0;
        bool overflow = false;
        line_number++;
        for (;;) {
            while (pos < len && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\f')) pos++;
            size_t start = pos;
            while (pos < len && text[pos] != '\n' && text[pos] != '\r') pos++;
            size_t end = pos;
            if (pos < len && text[pos] == '\r') pos++;
            if (pos < len && text[pos] == '\n') pos++;
            bool continued = false;
            size_t backslashes = 0;
            while (end - backslashes > start && text[end - 1 - backslashes] == '\\') backslashes++;
            if (backslashes % 2 == 1) {
                continued = true;
                end--;
            }
            size_t piece = end - start;
            if (used + piece >= sizeof(line)) {
                overflow = true;
            } else {
                memcpy(line + used, text + start, piece);
                used += piece;
            }
            if (!continued || pos >= len) break;
            line_number++;
        }
        line[overflow ? 0 : used] = '\0';
        if (overflow) {
            config_error(error, "line %u: longer than %zu bytes", line_number, sizeof(line) - 1);
            return -EINVAL;
        }
        if (used == 0 || line[0] == '#' || line[0] == '!') continue;
        /* The key ends at the first unescaped '=', ':' or whitespace. */
        size_t key_end = 0;
        while (key_end < used && line[key_end] != '=' && line[key_end] != ':' &&
               line[key_end] != ' ' && line[key_end] != '\t') {
            key_end++;
        }
        size_t value_start = key_end;
        while (value_start < used && (line[value_start] == ' ' || line[value_start] == '\t')) {
            value_start++;
        }
        if (value_start < used && (line[value_start] == '=' || line[value_start] == ':')) {
            value_start++;
        }
        while (value_start < used && (line[value_start] == ' ' || line[value_start] == '\t')) {
            value_start++;
        }
        size_t value_end = used;
        while (value_end > value_start &&
               (line[value_end - 1] == ' ' || line[value_end - 1] == '\t')) {
            value_end--;
        }
        line[key_end] = '\0';
        line[value_end] = '\0';
        char *key = line;
        char *value = line + value_start;
        int rc = broker_config_set(config, key, value, warn, warn_arg, error);
        if (rc < 0) {
            /* Prefix the line number so the operator finds it. */
            char inner[BROKER_CONFIG_ERROR_MAX];
            if (error != NULL) {
                memcpy(inner, error, sizeof(inner));
                inner[sizeof(inner) - 1] = '\0';
                config_error(error, "line %u: %s", line_number, inner);
            }
            return rc;
        }
    }
    return broker_config_finish(config, error);
}

const struct broker_listener *broker_config_listener(const struct broker_config *config,
                                                     const char *name) {
    for (uint32_t i = 0; i < config->listener_count; i++) {
        if (strcasecmp(config->listeners[i].name, name) == 0) return &config->listeners[i];
    }
    return NULL;
}

const struct broker_listener *broker_config_client_listener(const struct broker_config *config) {
    for (uint32_t i = 0; i < config->listener_count; i++) {
        if (!config_name_in_list(config->controller_listener_names, config->listeners[i].name)) {
            return &config->listeners[i];
        }
    }
    return NULL;
}

int broker_meta_format(const struct broker_meta *meta, char *buf, size_t size) {
    ASSERT(meta->cluster_id[0] != '\0' && meta->node_id >= 0);
    int n = snprintf(buf, size,
                     "#\n#Written by triald; do not edit.\ncluster.id=%s\nnode.id=%d\n"
                     "version=%d\n",
                     meta->cluster_id, meta->node_id, meta->version);
    if (n < 0 || (size_t)n >= size) return -ENOSPC;
    return n;
}

int broker_meta_parse(struct broker_meta *meta, const char *text, size_t len, char *error) {
    struct broker_meta parsed = {.node_id = -1, .version = -1};
    size_t pos = 0;
    uint32_t lines = 0;
    while (pos < len && lines < 1024) {
        lines++;
        size_t start = pos;
        while (pos < len && text[pos] != '\n') pos++;
        size_t end = pos;
        if (pos < len) pos++;
        if (end > start && text[end - 1] == '\r') end--;
        if (end == start || text[start] == '#' || text[start] == '!') continue;
        char line[128];
        size_t n = end - start;
        if (n >= sizeof(line)) {
            config_error(error, "meta.properties: line %u too long", lines);
            return -EINVAL;
        }
        memcpy(line, text + start, n);
        line[n] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL) continue;
        *eq = '\0';
        const char *value = eq + 1;
        int64_t number;
        if (strcmp(line, "cluster.id") == 0) {
            if (strlen(value) == 0 || strlen(value) >= sizeof(parsed.cluster_id)) {
                config_error(error, "meta.properties: bad cluster.id");
                return -EINVAL;
            }
            memcpy(parsed.cluster_id, value, strlen(value) + 1);
        } else if (strcmp(line, "node.id") == 0 || strcmp(line, "broker.id") == 0) {
            if (!config_parse_int(value, &number) || number < 0 || number > INT32_MAX) {
                config_error(error, "meta.properties: bad node.id '%s'", value);
                return -EINVAL;
            }
            parsed.node_id = (int32_t)number;
        } else if (strcmp(line, "version") == 0) {
            if (!config_parse_int(value, &number) || number < 0 || number > 1) {
                config_error(error, "meta.properties: unsupported version '%s'", value);
                return -EINVAL;
            }
            parsed.version = (int32_t)number;
        }
    }
    if (parsed.cluster_id[0] == '\0' || parsed.node_id < 0 || parsed.version < 0) {
        config_error(error, "meta.properties: needs cluster.id, node.id and version");
        return -EINVAL;
    }
    *meta = parsed;
    return 0;
}

void broker_meta_cluster_id(const uint8_t random[16], char out[23]) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    /* 16 bytes = 128 bits -> 22 base64 digits (the last carries 2 bits), no padding. */
    uint32_t bits = 0;
    int nbits = 0;
    int o = 0;
    for (int i = 0; i < 16; i++) {
        bits = (bits << 8) | random[i];
        nbits += 8;
        while (nbits >= 6) {
            out[o++] = alphabet[(bits >> (nbits - 6)) & 63];
            nbits -= 6;
        }
    }
    if (nbits > 0) out[o++] = alphabet[(bits << (6 - nbits)) & 63];
    ASSERT(o == 22);
    out[22] = '\0';
}
