/*
 * fuse_uring_proto.h - the FUSE-over-io_uring additions to the kernel's
 * FUSE protocol, as include/uapi/linux/fuse.h declares them from protocol
 * 7.42 (Linux 6.14) on. Debian 12's linux-libc-dev stops at 7.38, so the
 * daemon declares them here, byte for byte; the base protocol (headers,
 * INIT) comes from the system's <linux/fuse.h>. A newer <linux/fuse.h>
 * that has them already wins.
 *
 * The layout is fixed by the kernel (fs/fuse/dev_uring.c reads it through
 * the SQE and the registered buffers); the asserts pin the sizes.
 */
#ifndef CASKFS_FUSE_URING_PROTO_H
#define CASKFS_FUSE_URING_PROTO_H

#include <linux/fuse.h>
#include <stdint.h>

/* The first protocol minor that knows FUSE_OVER_IO_URING. */
#define FUSE_URING_MINOR 42

#ifndef FUSE_URING_IN_OUT_HEADER_SZ

/* INIT flag (flags2 bit 9): the kernel offers, the daemon accepts. */
#define FUSE_OVER_IO_URING (1ULL << 41)

#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ	    128

/* Part of struct fuse_uring_req_header, written by both sides. */
struct fuse_uring_ent_in_out {
	uint64_t flags;
	/* The request's unique; sent back in fuse_uring_cmd_req.commit_id. */
	uint64_t commit_id;
	/* Bytes of the payload buffer in use (request or reply). */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

/* The first of the two buffers a ring entry registers (iov[0]). */
struct fuse_uring_req_header {
	/* struct fuse_in_header from the kernel, fuse_out_header back */
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
	/* the opcode's fixed argument (fuse_write_in, ...), if it has one */
	char op_in[FUSE_URING_OP_IN_OUT_SZ];
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

/* The cmd_op of an IORING_OP_URING_CMD SQE on /dev/fuse. */
enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	/* register an entry's buffers; completes with its first request */
	FUSE_IO_URING_CMD_REGISTER = 1,
	/* commit the reply in the buffers; completes with the next request */
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

/* In the command area of a 128-byte SQE (IORING_SETUP_SQE128). */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#endif /* FUSE_URING_IN_OUT_HEADER_SZ */

_Static_assert(sizeof(struct fuse_uring_ent_in_out) == 32,
	       "fuse_uring_ent_in_out is 32 bytes");
_Static_assert(sizeof(struct fuse_uring_req_header) == 288,
	       "fuse_uring_req_header is 288 bytes");
_Static_assert(sizeof(struct fuse_uring_cmd_req) == 24,
	       "fuse_uring_cmd_req is 24 bytes");

#endif /* CASKFS_FUSE_URING_PROTO_H */
