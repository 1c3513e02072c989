/*
 * crc32c.c — CRC-32C in two implementations chosen at run time.
 *
 * The hardware path uses the SSE4.2 CRC32 instruction through a function-level target
 * attribute, so the rest of the build needs no -msse4.2 and still runs on CPUs without it.
 * The portable path is slice-by-8 over const tables (crc32c_table.h: table[0] is the
 * byte-wise table of the reflected polynomial 0x82F63B78; table[k][i] =
 * (table[k-1][i] >> 8) ^ table[0][table[k-1][i] & 0xff]).
 */
#include "log/crc32c.h"

#include <string.h>

#include "base/base.h"
#include "log/crc32c_table.h"

static inline uint64_t crc32c_load_le64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t crc32c_update_portable(uint32_t crc, const void *data, size_t len) {
    ASSERT(data != NULL || len == 0);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t v = crc32c_load_le64(p) ^ c;
        c = crc32c_table[7][v & 0xff] ^ crc32c_table[6][(v >> 8) & 0xff] ^
            crc32c_table[5][(v >> 16) & 0xff] ^ crc32c_table[4][(v >> 24) & 0xff] ^
            crc32c_table[3][(v >> 32) & 0xff] ^ crc32c_table[2][(v >> 40) & 0xff] ^
            crc32c_table[1][(v >> 48) & 0xff] ^ crc32c_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
        len--;
    }
    return ~c;
}

#if defined(__x86_64__)

#define CRC32C_LONG 8192u /* Block sizes of the shift tables in crc32c_table.h. */
#define CRC32C_SHORT 256u

static inline uint32_t crc32c_shift(const uint32_t table[4][256], uint32_t crc) {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
           table[3][crc >> 24];
}

bool crc32c_hardware_available(void) { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2"))) uint32_t crc32c_update_hardware(uint32_t crc,
                                                                  const void *data,
                                                                  size_t len) {
    ASSERT(data != NULL || len == 0);
    const uint8_t *p = data;
    uint64_t c = (uint32_t)~crc;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    /* The instruction has a 3-cycle latency and a 1-cycle throughput, so three
     * independent streams over adjacent blocks run about three times faster than one;
     * the block CRCs are then joined by shifting the earlier one over the later block's
     * length (a linear map, tabulated in crc32c_table.h) and xoring (Mark Adler's method). */
    while (len >= 3 * CRC32C_LONG) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC32C_LONG; i += 8) {
            c = __builtin_ia32_crc32di(c, crc32c_load_le64(p + i));
            c1 = __builtin_ia32_crc32di(c1, crc32c_load_le64(p + CRC32C_LONG + i));
            c2 = __builtin_ia32_crc32di(c2, crc32c_load_le64(p + 2 * CRC32C_LONG + i));
        }
        c = crc32c_shift(crc32c_long_shift, (uint32_t)c) ^ c1;
        c = crc32c_shift(crc32c_long_shift, (uint32_t)c) ^ c2;
        p += 3 * CRC32C_LONG;
        len -= 3 * CRC32C_LONG;
    }
    while (len >= 3 * CRC32C_SHORT) {
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < CRC32C_SHORT; i += 8) {
            c = __builtin_ia32_crc32di(c, crc32c_load_le64(p + i));
            c1 = __builtin_ia32_crc32di(c1, crc32c_load_le64(p + CRC32C_SHORT + i));
            c2 = __builtin_ia32_crc32di(c2, crc32c_load_le64(p + 2 * CRC32C_SHORT + i));
        }
        c = crc32c_shift(crc32c_short_shift, (uint32_t)c) ^ c1;
        c = crc32c_shift(crc32c_short_shift, (uint32_t)c) ^ c2;
        p += 3 * CRC32C_SHORT;
        len -= 3 * CRC32C_SHORT;
    }
    while (len >= 8) {
        c = __builtin_ia32_crc32di(c, crc32c_load_le64(p));
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    return ~(uint32_t)c;
}

#else

bool crc32c_hardware_available(void) { return false; }

uint32_t crc32c_update_hardware(uint32_t crc, const void *data, size_t len) {
    UNREACHABLE();
}

#endif

uint32_t crc32c_update(uint32_t crc, const void *data, size_t len) {
    if (crc32c_hardware_available()) return crc32c_update_hardware(crc, data, len);
    return crc32c_update_portable(crc, data, len);
}
