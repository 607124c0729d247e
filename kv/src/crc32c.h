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

/**
 * The operator crc32c_range() takes for ranges of @p len bytes (x^(8 len)
 * modulo the polynomial). O(log len): a caller checking many ranges of one
 * length computes it once.
 */
uint32_t crc32c_shift(uint64_t len);

/**
 * The CRC of bytes [a, b) of a buffer, from the CRCs of its first a and
 * first b bytes: @p crc_a = crc32c(0, buf, a), @p crc_b = crc32c(0, buf, b),
 * @p shift = crc32c_shift(b - a). O(1): CRCs of many overlapping ranges
 * cost one pass over the buffer (rec_resync()).
 */
uint32_t crc32c_range(uint32_t crc_a, uint32_t crc_b, uint32_t shift);

/** The portable implementation, exposed for tests and measurement. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/** Name of the implementation crc32c() uses ("sse4.2+vpclmulqdq",
 *  "sse4.2" or "slice8"). */
const char *crc32c_impl(void);

#endif
