/*
 * test_config.c — proves server.properties parsing follows Kafka's names and rules:
 * defaults match PROTOCOL.md, a stock KRaft server.properties loads without warnings,
 * Java properties syntax (=, :, space, comments, continuations) is honoured, unknown keys
 * warn but do not fail, invalid values fail with a message naming the key, cross-key rules
 * (controller listener, voters) are enforced, retention unit precedence is Kafka's, and
 * meta.properties round-trips.
 */
#include <setjmp.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/config.h"

struct warnings {
    int count;
    char last[256];
};

static void collect_warning(void *arg, const char *message) {
    struct warnings *w = arg;
    w->count++;
    strncpy(w->last, message, sizeof(w->last) - 1);
}

static int parse(struct broker_config *config, const char *text, struct warnings *w,
                 char *error) {
    broker_config_defaults(config);
    return broker_config_parse(config, text, strlen(text), collect_warning, w, error);
}

static void test_defaults(void **state) {
    struct broker_config c;
    struct warnings w = {0};
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    assert_int_equal(parse(&c, "", &w, error), 0);
    assert_int_equal(c.message_max_bytes, 1048588);
    assert_int_equal(c.min_insync_replicas, 1);
    assert_int_equal(c.replica_lag_time_max_ms, 30000);
    assert_int_equal(c.log_retention_ms, 168LL * 3600 * 1000);
    assert_true(c.log_flush_interval_messages == INT64_MAX);
    assert_int_equal(c.group_initial_rebalance_delay_ms, 3000);
    assert_int_equal(c.transaction_max_timeout_ms, 900000);
    assert_int_equal(c.log_segment_bytes, 1073741824);
    assert_int_equal(c.log_index_interval_bytes, 4096);
    assert_int_equal(c.num_partitions, 1);
    assert_true(c.auto_create_topics_enable);
    assert_int_equal(c.listener_count, 1);
    assert_int_equal(c.listeners[0].port, 9092);
    /* advertised.listeners defaults to listeners. */
    assert_int_equal(c.advertised_count, 1);
    assert_string_equal(c.advertised[0].name, "PLAINTEXT");
    assert_int_equal(w.count, 0);
}

static const char stock_kraft[] =
    "# Licensed to the Apache Software Foundation\n"
    "process.roles=broker,controller\n"
    "node.id=1\n"
    "controller.quorum.voters=1@localhost:9093\n"
    "listeners=PLAINTEXT://:9092,CONTROLLER://:9093\n"
    "inter.broker.listener.name=PLAINTEXT\n"
    "advertised.listeners=PLAINTEXT://localhost:9092\n"
    "controller.listener.names=CONTROLLER\n"
    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL\n"
    "num.network.threads=3\n"
    "num.io.threads=8\n"
    "socket.send.buffer.bytes=102400\n"
    "socket.receive.buffer.bytes=102400\n"
    "socket.request.max.bytes=104857600\n"
    "log.dirs=/tmp/kraft-combined-logs\n"
    "num.partitions=1\n"
    "num.recovery.threads.per.data.dir=1\n"
    "offsets.topic.replication.factor=1\n"
    "transaction.state.log.replication.factor=1\n"
    "transaction.state.log.min.isr=1\n"
    "log.retention.hours=168\n"
    "log.segment.bytes=1073741824\n"
    "log.retention.check.interval.ms=300000\n";

static void test_stock_kraft_file(void **state) {
    struct broker_config c;
    struct warnings w = {0};
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    assert_int_equal(parse(&c, stock_kraft, &w, error), 0);
    assert_int_equal(w.count, 0);
    assert_int_equal(c.process_roles, BROKER_ROLE_BROKER | BROKER_ROLE_CONTROLLER);
    assert_int_equal(c.node_id, 1);
    assert_int_equal(c.voter_count, 1);
    assert_int_equal(c.voters[0].id, 1);
    assert_string_equal(c.voters[0].host, "localhost");
    assert_int_equal(c.voters[0].port, 9093);
    assert_int_equal(c.listener_count, 2);
    assert_string_equal(c.listeners[1].name, "CONTROLLER");
    assert_string_equal(c.listeners[0].host, "");
    const struct broker_listener *client = broker_config_client_listener(&c);
    assert_non_null(client);
    assert_string_equal(client->name, "PLAINTEXT");
    assert_int_equal(c.advertised_count, 1);
    assert_string_equal(c.advertised[0].host, "localhost");
    assert_string_equal(c.log_dirs[0], "/tmp/kraft-combined-logs");
    assert_int_equal(c.offsets_topic_replication_factor, 1);
    assert_int_equal(c.transaction_state_log_min_isr, 1);
}

static void test_properties_syntax(void **state) {
    struct broker_config c;
    struct warnings w = {0};
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    const char *text = "  ! a bang comment\r\n"
                       "num.partitions : 3\r\n"
                       "min.insync.replicas 2\n"
                       "log.dirs=/a,\\\n"
                       "    /b , /c\n"
                       "auto.create.topics.enable = FALSE   \n"
                       "\n";
    assert_int_equal(parse(&c, text, &w, error), 0);
    assert_int_equal(c.num_partitions, 3);
    assert_int_equal(c.min_insync_replicas, 2);
    assert_int_equal(c.log_dir_count, 3);
    assert_string_equal(c.log_dirs[0], "/a");
    assert_string_equal(c.log_dirs[1], "/b");
    assert_string_equal(c.log_dirs[2], "/c");
    assert_false(c.auto_create_topics_enable);
}

static void test_unknown_key_warns(void **state) {
    struct broker_config c;
    struct warnings w = {0};
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    assert_int_equal(parse(&c, "num.partitons=3\nnum.partitions=2\n", &w, error), 0);
    assert_int_equal(w.count, 1);
    assert_non_null(strstr(w.last, "num.partitons"));
    assert_int_equal(c.num_partitions, 2);
}

static void expect_error(const char *text, const char *needle) {
    struct broker_config c;
    struct warnings w = {0};
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    assert_int_equal(parse(&c, text, &w, error), -EINVAL);
    if (strstr(error, needle) == NULL) fail_msg("error '%s' lacks '%s'", error, needle);
}

static void test_invalid_values(void **state) {
    expect_error("num.partitions=0\n", "num.partitions");
    expect_error("num.partitions=abc\n", "num.partitions");
    expect_error("node.id=-1\n", "node.id");
    expect_error("message.max.bytes=12x\n", "message.max.bytes");
    expect_error("auto.create.topics.enable=yes\n", "auto.create.topics.enable");
    expect_error("process.roles=broker,zookeeper\n", "process.roles");
    expect_error("listeners=localhost:9092\n", "listeners");
    expect_error("listeners=PLAINTEXT://:99999\n", "listeners");
    expect_error("listeners=PLAINTEXT://:1,PLAINTEXT://:2\n", "twice");
    expect_error("controller.quorum.voters=1@localhost\n", "controller.quorum.voters");
    expect_error("log.cleanup.policy=shred\n", "log.cleanup.policy");
    expect_error("default.replication.factor=40000\n", "default.replication.factor");
    expect_error("log.segment.bytes=10\n", "log.segment.bytes");
    /* The line number is part of the message. */
    expect_error("\n\nnum.partitions=-5\n", "line 3");
}

static void test_cross_key_rules(void **state) {
    /* Controller listener name must be a listener. */
    expect_error("listeners=PLAINTEXT://:9092\ncontroller.listener.names=CONTROLLER\n",
                 "controller.listener.names");
    /* A controller must be one of the voters. */
    expect_error("node.id=2\ncontroller.quorum.voters=1@h:9093\n"
                 "listeners=PLAINTEXT://:9092,CONTROLLER://:9093\n"
                 "controller.listener.names=CONTROLLER\n",
                 "voter");
    /* A broker needs a client listener. */
    expect_error("listeners=CONTROLLER://:9093\ncontroller.listener.names=CONTROLLER\n",
                 "listener");
    /* advertised names must exist. */
    expect_error("advertised.listeners=EXTERNAL://h:1\n", "advertised.listeners");
    expect_error("message.max.bytes=2000\nsocket.request.max.bytes=1000\n", "message.max.bytes");
}

static void test_retention_precedence(void **state) {
    struct broker_config c;
    struct warnings w = {0};
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    /* log.retention.ms wins over hours whatever the order. */
    assert_int_equal(parse(&c, "log.retention.ms=5000\nlog.retention.hours=1\n", &w, error), 0);
    assert_int_equal(c.log_retention_ms, 5000);
    assert_int_equal(parse(&c, "log.retention.hours=2\nlog.retention.minutes=3\n", &w, error), 0);
    assert_int_equal(c.log_retention_ms, 3 * 60000);
    assert_int_equal(parse(&c, "log.retention.hours=-1\n", &w, error), 0);
    assert_int_equal(c.log_retention_ms, -1);
    assert_int_equal(parse(&c, "log.roll.ms=100\nlog.roll.hours=1\n", &w, error), 0);
    assert_int_equal(c.log_roll_ms, 100);
    assert_int_equal(parse(&c, "log.flush.interval.messages=1\n", &w, error), 0);
    assert_int_equal(c.log_flush_interval_messages, 1);
}

static void test_meta_properties(void **state) {
    uint8_t random[16];
    for (int i = 0; i < 16; i++) random[i] = (uint8_t)(i * 37 + 1);
    struct broker_meta meta = {.node_id = 7, .version = 1};
    broker_meta_cluster_id(random, meta.cluster_id);
    assert_int_equal(strlen(meta.cluster_id), 22);
    char buf[256];
    int n = broker_meta_format(&meta, buf, sizeof(buf));
    assert_true(n > 0);
    assert_non_null(strstr(buf, "node.id=7\n"));
    assert_non_null(strstr(buf, "version=1\n"));
    struct broker_meta parsed;
    char error[BROKER_CONFIG_ERROR_MAX] = "";
    assert_int_equal(broker_meta_parse(&parsed, buf, (size_t)n, error), 0);
    assert_string_equal(parsed.cluster_id, meta.cluster_id);
    assert_int_equal(parsed.node_id, 7);
    assert_int_equal(parsed.version, 1);
    assert_int_equal(broker_meta_format(&meta, buf, 10), -ENOSPC);
    const char *broken = "cluster.id=abc\nversion=1\n";
    assert_int_equal(broker_meta_parse(&parsed, broken, strlen(broken), error), -EINVAL);
    const char *v9 = "cluster.id=abc\nnode.id=1\nversion=9\n";
    assert_int_equal(broker_meta_parse(&parsed, v9, strlen(v9), error), -EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_stock_kraft_file),
        cmocka_unit_test(test_properties_syntax), cmocka_unit_test(test_unknown_key_warns),
        cmocka_unit_test(test_invalid_values),   cmocka_unit_test(test_cross_key_rules),
        cmocka_unit_test(test_retention_precedence), cmocka_unit_test(test_meta_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
