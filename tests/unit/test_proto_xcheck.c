/*
 * test_proto_xcheck.c — proves our encoder agrees with an independent implementation:
 * for every API and version that both the C codec and kafka-python 2.0.2 (Debian
 * python3-kafka, kafka.protocol.*) define, in both directions, random bodies encoded by the C
 * codec are decoded by kafka-python's schemas, and every value must equal the C value, with
 * no byte left over (tests/golden/xcheck_kafka_python.py does the Python half). This catches
 * a field in the wrong order, of the wrong width, or missing in a version — mistakes that a
 * round trip through our own encoder and decoder cannot see. When kafkajs is installed in
 * tests/integration/js, its response decoders check our responses too (tests/golden/xcheck_kafkajs.js),
 * covering the transaction APIs kafka-python lacks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "test_proto_io.h"
#include "test_proto_util.h"

#ifndef XCHECK_KAFKAJS
#error "XCHECK_KAFKAJS must name tests/golden/xcheck_kafkajs.js"
#endif
#ifndef XCHECK_SCRIPT
#error "XCHECK_SCRIPT must name tests/golden/xcheck_kafka_python.py"
#endif

#define SAMPLES_PER_VERSION 8

/* Writes the values of `s` present at `version`, in wire order, one per line. */
static void flatten(FILE *out, const struct proto_schema *s, int16_t version, const void *in) {
    for (size_t i = 0; i < s->field_count; i++) {
        const struct proto_field *f = &s->fields[i];
        if (!proto_field_present(f, version)) continue;
        const void *p = (const uint8_t *)in + f->offset;
        switch (f->type) {
        case PROTO_T_BOOL: fprintf(out, "%d\n", *(const bool *)p ? 1 : 0); break;
        case PROTO_T_INT8: fprintf(out, "%d\n", *(const int8_t *)p); break;
        case PROTO_T_INT16: fprintf(out, "%d\n", *(const int16_t *)p); break;
        case PROTO_T_INT32: fprintf(out, "%d\n", *(const int32_t *)p); break;
        case PROTO_T_INT64: fprintf(out, "%lld\n", (long long)*(const int64_t *)p); break;
        case PROTO_T_UUID: fprintf(out, "uuid\n"); break;
        case PROTO_T_STRING: {
            const struct proto_string *str = p;
            if (str->len < 0) fprintf(out, "null\n");
            else fprintf(out, "s:%.*s\n", (int)str->len, str->str);
            break;
        }
        case PROTO_T_BYTES:
        case PROTO_T_RECORDS: {
            const struct proto_bytes *b = p;
            if (b->len < 0) {
                fprintf(out, "null\n");
                break;
            }
            fprintf(out, "b:");
            for (int32_t k = 0; k < b->len; k++) fprintf(out, "%02x", b->data[k]);
            fprintf(out, "\n");
            break;
        }
        default: {
            struct proto_array_raw a;
            memcpy(&a, p, sizeof(a));
            fprintf(out, "n=%d\n", a.count);
            size_t es = proto_field_elem_size(f);
            for (int32_t k = 0; k < a.count; k++) {
                const void *item = (const uint8_t *)a.items + es * (size_t)k;
                if (f->type == PROTO_T_ARRAY_INT32) fprintf(out, "%d\n", *(const int32_t *)item);
                else if (f->type == PROTO_T_ARRAY_INT64)
                    fprintf(out, "%lld\n", (long long)*(const int64_t *)item);
                else if (f->type == PROTO_T_ARRAY_STRING) {
                    const struct proto_string *str = item;
                    fprintf(out, "s:%.*s\n", (int)str->len, str->str);
                } else flatten(out, f->elem, version, item);
            }
            break;
        }
        }
    }
}

static void test_kafka_python_decodes_our_bytes(void **state) {
    (void)state;
    char dir[] = "/tmp/trial_proto_xcheck_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct test_proto_io t;
    test_proto_io_init(&t);
    size_t count;
    const struct proto_api *apis = proto_apis(&count);
    int written = 0;
    for (size_t i = 0; i < count; i++) {
        for (int16_t v = apis[i].version_min; v <= apis[i].version_max; v++) {
            if (proto_api_is_flexible(&apis[i], v)) continue; /* kafka-python 2.0.2: none */
            rng_state = 0x51ed270b27d0c5a1ULL ^ (uint64_t)(apis[i].key * 131 + v);
            for (int dir_i = 0; dir_i < 2; dir_i++) {
                const struct proto_schema *s = dir_i == 0 ? apis[i].request : apis[i].response;
                for (int n = 0; n < SAMPLES_PER_VERSION; n++) {
                    struct proto_arena a;
                    proto_arena_init(&a, &t.io, 1 << 20);
                    void *body = proto_arena_alloc(&a, s->size);
                    fill_struct(&a, s, v, body, 0);
                    struct proto_writer w;
                    proto_writer_init(&w, &t.io, 1 << 20);
                    proto_schema_encode(&w, s, v, false, body);
                    assert_int_equal(w.error, 0);
                    char path[256];
                    snprintf(path, sizeof(path), "%s/%d_%d_%s_%d.bin", dir, apis[i].key, v,
                             dir_i == 0 ? "req" : "resp", n);
                    FILE *f = fopen(path, "wb");
                    assert_non_null(f);
                    if (w.len) assert_int_equal(fwrite(w.buf, 1, w.len, f), w.len);
                    fclose(f);
                    path[strlen(path) - 3] = '\0';
                    strcat(path, "txt");
                    f = fopen(path, "w");
                    assert_non_null(f);
                    flatten(f, s, v, body);
                    fclose(f);
                    proto_writer_destroy(&w);
                    proto_arena_destroy(&a);
                    written++;
                }
            }
        }
    }
    assert_true(written > 1000);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", XCHECK_SCRIPT, dir);
    int rc_python = system(cmd);
    /* kafkajs is an npm package, not a Debian one: scripts/install-deps installs it into
     * tests/integration/js. Without it the cross-check is skipped, except in CI, where a
     * missing client is a failure (a skipped check must not pass for a green one). */
    int rc_kafkajs = 0;
    if (access(KAFKAJS_DIR "/src/protocol/requests", R_OK) == 0) {
        snprintf(cmd, sizeof(cmd), "node %s %s %s", XCHECK_KAFKAJS, KAFKAJS_DIR, dir);
        rc_kafkajs = system(cmd);
    } else if (getenv("CI") != NULL) {
        printf("kafkajs missing in %s (run scripts/install-deps)\n", KAFKAJS_DIR);
        rc_kafkajs = 1;
    } else {
        printf("kafkajs not installed in %s: its cross-check is skipped\n", KAFKAJS_DIR);
    }
    if (getenv("TRIAL_XCHECK_KEEP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    } else {
        printf("samples kept in %s\n", dir);
    }
    assert_int_equal(rc_python, 0);
    assert_int_equal(rc_kafkajs, 0);
    assert_int_equal(t.live_bytes, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_python_decodes_our_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
