/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of every record, segment
 * header and hint file.
 *
 * The implementation is picked once at start-up by CPU feature (SSE4.2 crc32
 * instruction, three interleaved streams for long buffers) with a portable
 * slicing-by-8 fallback; docs/BENCHMARKS.md has the measurements that chose it.
 */
#ifndef CASK_CRC32C_H
#define CASK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/**
 * Extend @p crc (0 to start) over @p len bytes at @p buf. The pre- and
 * post-inversion are done inside, so crc32c(crc32c(0, a), b) equals the CRC
 * of a followed by b. crc32c(0, "123456789", 9) == 0xe3069283.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/** The portable implementation, exposed for tests and measurement. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/** Name of the implementation crc32c() uses ("sse4.2+vpclmulqdq",
 *  "sse4.2" or "slice8"). */
const char *crc32c_impl(void);

#endif
