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
    /* One dependent stream, unrolled: about 8 bytes per 3 cycles, several GB/s, which is
     * well above the 1 GB/s recovery target (BENCHMARKS.md P9). Interleaved streams would
     * be faster but need CRC-combination tables; not worth it yet. */
    while (len >= 32) {
        c = __builtin_ia32_crc32di(c, crc32c_load_le64(p));
        c = __builtin_ia32_crc32di(c, crc32c_load_le64(p + 8));
        c = __builtin_ia32_crc32di(c, crc32c_load_le64(p + 16));
        c = __builtin_ia32_crc32di(c, crc32c_load_le64(p + 24));
        p += 32;
        len -= 32;
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
