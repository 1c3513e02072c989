/*
 * config.h — triald's configuration: Kafka's server.properties names, parsed and validated.
 *
 * The broker reads the same file an Apache Kafka broker in KRaft mode reads. Parsing is
 * pure (text in, struct out; no io), so the simulation can build configs from strings and
 * tests can check every rule. Unknown keys are reported through the warn callback and
 * otherwise ignored, like Kafka does; a known key with an invalid value fails the parse with
 * a message naming the key and the reason. All strings live in fixed, bounded arrays inside
 * the struct: a config owns no memory and can be copied with `=`.
 *
 * Also here: meta.properties (the per-log-dir identity file a first start writes).
 */
#ifndef TRIAL_BROKER_CONFIG_H
#define TRIAL_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKER_CONFIG_STRING_MAX 512 /* Longest accepted value of a string setting. */
#define BROKER_CONFIG_LISTENERS_MAX 8
#define BROKER_CONFIG_VOTERS_MAX 16
#define BROKER_CONFIG_LOG_DIRS_MAX 8
#define BROKER_CONFIG_NAME_MAX 64   /* Listener names. */
#define BROKER_CONFIG_HOST_MAX 256  /* Host names. */
#define BROKER_CONFIG_ERROR_MAX 256 /* Size of the error message buffer callers pass. */

/* process.roles, as bits. */
enum broker_role { BROKER_ROLE_BROKER = 1 << 0, BROKER_ROLE_CONTROLLER = 1 << 1 };

/* One entry of `listeners` / `advertised.listeners`: NAME://host:port. */
struct broker_listener {
    char name[BROKER_CONFIG_NAME_MAX]; /* e.g. "PLAINTEXT"; upper-cased as Kafka does. */
    char host[BROKER_CONFIG_HOST_MAX]; /* Empty = all interfaces / the default host. */
    uint16_t port;                     /* 0 = any free port (tests). */
};

/* One entry of `controller.quorum.voters`: id@host:port. */
struct broker_voter {
    int32_t id;
    char host[BROKER_CONFIG_HOST_MAX];
    uint16_t port;
};

struct broker_config {
    /* Identity and roles. */
    uint32_t process_roles; /* enum broker_role bits; never 0 after a successful parse. */
    int32_t node_id;
    struct broker_voter voters[BROKER_CONFIG_VOTERS_MAX];
    uint32_t voter_count;

    /* Listeners. */
    struct broker_listener listeners[BROKER_CONFIG_LISTENERS_MAX];
    uint32_t listener_count;
    struct broker_listener advertised[BROKER_CONFIG_LISTENERS_MAX]; /* = listeners if unset. */
    uint32_t advertised_count;
    char controller_listener_names[BROKER_CONFIG_STRING_MAX];
    char inter_broker_listener_name[BROKER_CONFIG_NAME_MAX];

    /* Storage. */
    char log_dirs[BROKER_CONFIG_LOG_DIRS_MAX][BROKER_CONFIG_STRING_MAX];
    uint32_t log_dir_count;

    /* Topic defaults. */
    int32_t num_partitions;
    int16_t default_replication_factor;
    bool auto_create_topics_enable;
    int32_t min_insync_replicas;
    int32_t message_max_bytes;

    /* The log.* settings (Kafka's names; the log issue's knobs). */
    int64_t log_segment_bytes;
    int64_t log_roll_ms;
    int64_t log_retention_ms;    /* -1 = unlimited. */
    int64_t log_retention_bytes; /* -1 = unlimited. */
    int64_t log_retention_check_interval_ms;
    int64_t log_flush_interval_messages; /* INT64_MAX = never by count. */
    int64_t log_flush_interval_ms;       /* -1 = never by time; Kafka: unset. */
    int64_t log_flush_scheduler_interval_ms;
    int32_t log_index_interval_bytes;
    int32_t log_index_size_max_bytes;
    int64_t log_segment_delete_delay_ms;
    bool log_cleanup_policy_compact; /* false = delete. */
    bool log_message_timestamp_log_append_time; /* false = CreateTime. */

    /* Internal topics. */
    int16_t offsets_topic_replication_factor;
    int32_t offsets_topic_num_partitions;
    int16_t transaction_state_log_replication_factor;
    int32_t transaction_state_log_min_isr;
    int32_t transaction_state_log_num_partitions;

    /* Replication, groups, transactions (used by later components; parsed now). */
    int64_t replica_lag_time_max_ms;
    int64_t replica_high_watermark_checkpoint_interval_ms; /* replication-offset-checkpoint. */
    int32_t replica_fetch_wait_max_ms;   /* Follower Fetch max_wait_ms (500). */
    int32_t replica_fetch_min_bytes;     /* Follower Fetch min_bytes (1). */
    int32_t replica_fetch_max_bytes;     /* Follower Fetch max_bytes (10 MiB). */
    int64_t replica_fetch_backoff_ms;    /* Pause after a failed follower fetch (1000). */
    /* Controller quorum and broker lifecycle (KRaft). */
    int64_t broker_session_timeout_ms;   /* Controller fences a silent broker after (9000). */
    int64_t broker_heartbeat_interval_ms;/* Broker heartbeat period (2000). */
    int64_t quorum_election_timeout_ms;  /* controller.quorum.election.timeout.ms (1000). */
    int64_t quorum_fetch_timeout_ms;     /* controller.quorum.fetch.timeout.ms (2000). */
    int64_t quorum_election_backoff_max_ms; /* controller.quorum.election.backoff.max.ms (1000). */
    int64_t quorum_request_timeout_ms;   /* controller.quorum.request.timeout.ms (2000). */
    bool unclean_leader_election_enable;
    int32_t group_initial_rebalance_delay_ms;
    int32_t transaction_max_timeout_ms;

    /* Network. */
    int32_t socket_request_max_bytes;   /* Largest request frame accepted. */
    int64_t connections_max_idle_ms;    /* Idle connections are closed after this. */
    int32_t queued_max_requests;        /* In-flight requests per connection before pausing. */
    int64_t request_timeout_ms;         /* Produce acks=-1 wait bound when a client sends 0. */

    /* Parse bookkeeping for Kafka's unit precedence (ms beats minutes beats hours). */
    bool log_roll_ms_set_by_ms;
    int log_retention_rank; /* 0 default, 1 hours, 2 minutes, 3 ms. */
};

/* Receives one human-readable warning (unknown key, ignored setting). */
typedef void (*broker_config_warn_fn)(void *arg, const char *message);

/* Fills `config` with the defaults (Kafka's, from PROTOCOL.md where it names them). */
void broker_config_defaults(struct broker_config *config);

/*
 * Sets one key. Returns 0, 1 if the key is unknown (and warns), or -EINVAL with a message
 * in `error` (BROKER_CONFIG_ERROR_MAX bytes) naming the key. Does not run the cross-key
 * checks of broker_config_finish().
 */
int broker_config_set(struct broker_config *config, const char *key, const char *value,
                      broker_config_warn_fn warn, void *warn_arg, char *error);

/*
 * Parses server.properties text (Java properties syntax: `key=value`, `key: value` or
 * `key value`; `#`/`!` comments; backslash line continuation) over the defaults and runs
 * broker_config_finish(). Returns 0 or -EINVAL with `error` set.
 */
int broker_config_parse(struct broker_config *config, const char *text, size_t len,
                        broker_config_warn_fn warn, void *warn_arg, char *error);

/* Derives the dependent settings and checks the rules that span keys. 0 or -EINVAL. */
int broker_config_finish(struct broker_config *config, char *error);

/* The listener named `name` (case-insensitive) or NULL. */
const struct broker_listener *broker_config_listener(const struct broker_config *config,
                                                     const char *name);
/* The listener clients use: the first one that is not a controller listener, or NULL. */
const struct broker_listener *broker_config_client_listener(const struct broker_config *config);

/* meta.properties: the identity of a log dir (KRaft format, version=1). */
struct broker_meta {
    char cluster_id[64];
    int32_t node_id;
    int32_t version;
};

/* Writes meta.properties text into buf. Returns the length, or -ENOSPC if it does not fit. */
int broker_meta_format(const struct broker_meta *meta, char *buf, size_t size);
/* Parses meta.properties text. 0, or -EINVAL with `error` set (missing/invalid fields). */
int broker_meta_parse(struct broker_meta *meta, const char *text, size_t len, char *error);
/* A Kafka-style cluster id: 22 chars of URL-safe base64 over 16 random bytes (caller's). */
void broker_meta_cluster_id(const uint8_t random[16], char out[23]);

#endif /* TRIAL_BROKER_CONFIG_H */
