/*
 * test_crc32c.c — proves CRC-32C gives the standard values (RFC 3720 / iSCSI test
 * vectors and "123456789"), that the SSE4.2 path and the portable slice-by-8 path agree on
 * every length and alignment (including the three-stream paths for long inputs), and that
 * updates chain over split buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f) {
    uint8_t buf[32];
    assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(f(0, "", 0), 0);
    memset(buf, 0, sizeof buf);
    assert_int_equal(f(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(f(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(f(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    assert_int_equal(f(0, buf, 32), 0x113FDB5Cu);
}

static void test_vectors_portable(void **state) {
    (void)state;
    check_vectors(crc32c_update_portable);
}

static void test_vectors_hardware(void **state) {
    (void)state;
    if (!crc32c_hardware_available()) skip();
    check_vectors(crc32c_update_hardware);
}

static void test_vectors_dispatch(void **state) {
    (void)state;
    check_vectors(crc32c_update);
}

static void test_paths_agree_and_chain(void **state) {
    (void)state;
    static uint8_t buf[1100];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    for (size_t align = 0; align < 8; align++) {
        for (size_t len = 0; len + align <= 1000; len += (len < 80 ? 1 : 37)) {
            uint32_t sw = crc32c_update_portable(0, buf + align, len);
            if (crc32c_hardware_available()) {
                assert_int_equal(crc32c_update_hardware(0, buf + align, len), sw);
            }
            size_t cut = len / 3;
            uint32_t chained = crc32c_update(crc32c_update(0, buf + align, cut),
                                             buf + align + cut, len - cut);
            assert_int_equal(chained, sw);
        }
    }
}

/* Long inputs take the three-stream paths (blocks of 3 x 8192 and 3 x 256 bytes) whose
 * results are joined with the shift tables; every boundary around them must agree. */
static void test_long_inputs_agree(void **state) {
    (void)state;
    static uint8_t buf[100003];
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
    const size_t lens[] = {767, 768, 769, 24575, 24576, 24577, 24576 + 768, 49151, 49152,
                           49152 + 767, 99999, 100000};
    for (size_t a = 0; a < 3; a++) {
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            uint32_t sw = crc32c_update_portable(0x12345678, buf + a, lens[i]);
            assert_int_equal(crc32c_update(0x12345678, buf + a, lens[i]), sw);
            if (crc32c_hardware_available()) {
                assert_int_equal(crc32c_update_hardware(0x12345678, buf + a, lens[i]), sw);
            }
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_portable),
        cmocka_unit_test(test_vectors_hardware),
        cmocka_unit_test(test_vectors_dispatch),
        cmocka_unit_test(test_paths_agree_and_chain),
        cmocka_unit_test(test_long_inputs_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
