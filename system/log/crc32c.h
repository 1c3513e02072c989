/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of Kafka record batch v2 and of Trial's
 * producer-state snapshots.
 *
 * crc32c_update() picks the SSE4.2 CRC32 instruction when the CPU has it (asked through
 * cpuid on every call, which costs a load) and a portable slice-by-8 table otherwise. Both
 * paths are exported so tests can prove they agree. The value is the standard one:
 * crc32c_update(0, "123456789", 9) == 0xE3069283, and updates chain:
 * crc32c_update(crc32c_update(0, a), b) == crc32c_update(0, a || b).
 */
#ifndef TRIAL_LOG_CRC32C_H
#define TRIAL_LOG_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C of `len` bytes, continuing from `crc` (0 to start). */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* The portable slice-by-8 path; always available. */
uint32_t crc32c_update_portable(uint32_t crc, const void *data, size_t len);

/* True when this CPU executes the SSE4.2 CRC32 instruction. */
bool crc32c_hardware_available(void);

/* The hardware path; only call when crc32c_hardware_available(). */
uint32_t crc32c_update_hardware(uint32_t crc, const void *data, size_t len);

#endif /* TRIAL_LOG_CRC32C_H */
