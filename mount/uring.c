/*
 * uring.c - FUSE over io_uring: the daemon serves the kernel's per-CPU
 * request queues from one or more threads per CPU, while libfuse 3.14
 * (which knows nothing of the ring) keeps mounting, decoding and replying.
 * docs/CASKFS.md ("Transport") is the design; the protocol is the
 * kernel's fs/fuse/dev_uring.c (Linux 6.14, FUSE 7.42).
 *
 * How it hooks into libfuse: uring_attach() gives the mounted session a
 * fuse_custom_io whose read() and writev() are the plain system calls
 * except in three places:
 *   - read() sees the kernel's INIT request. If the kernel offers
 *     FUSE_OVER_IO_URING and io_uring works here, INIT's reply is marked
 *     to be accepted; otherwise one log line says why not, and nothing
 *     else changes.
 *   - writev() of that INIT reply sets FUSE_OVER_IO_URING in flags2 (libfuse
 *     3.14 does not know the flag) and, once the kernel has taken the
 *     reply, starts the ring threads. From then on the kernel holds every
 *     request back until each CPU's queue has an entry registered, or one
 *     registration fails (then it goes on through /dev/fuse).
 *   - writev() of a reply to a request that came from a ring entry copies
 *     the reply into that entry's buffers instead of /dev/fuse; the ring
 *     thread then commits it and fetches the next request in one SQE.
 * INIT's reply also takes FUSE_HANDLE_KILLPRIV_V2 when the kernel offers
 * it, on either transport (with -o no_io_uring the hook is attached but
 * the ring is not tried): the kernel then leaves clearing set-user-ID and
 * set-group-ID to the daemon on the requests it marks, and
 * uring_kill_suidgid() reads that mark from the request as the kernel sent
 * it (libfuse 3.14 passes none of the three marks to the handlers).
 * A ring thread turns each request back into the byte layout /dev/fuse
 * would have delivered (header, fixed argument, payload, adjacent in one
 * buffer) and hands it to fuse_session_process_buf(), so every handler of
 * ops.c runs unchanged on either transport. FORGET, INTERRUPT and
 * notifications stay on /dev/fuse, served by libfuse's own loop.
 *
 * Threads: ring threads are started by the libfuse worker that wrote the
 * INIT reply and joined by uring_stop() in the main thread. A ring entry
 * is only touched by its thread (and by the kernel in that thread's
 * context), so entries need no lock; the thread serving a request marks
 * the entry it works on in a thread-local pointer, which is how writev()
 * finds it. ur.lock guards the thread table and the fallback reason;
 * counters are atomics.
 */
#include <errno.h>
#include <inttypes.h>
#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon.h"
#include "fuse_uring_proto.h"

/* Ring entries per thread: one being served, one the kernel can fill
 * meanwhile (so the next request is waiting when the commit is done). */
#define ENTS_PER_THREAD 2

/* Each entry maps one page for its header, then its payload buffer. The
 * request is rebuilt in front of the payload, in the header page's tail. */
#define HDR_AREA 4096
_Static_assert(sizeof(struct fuse_uring_req_header) +
			       sizeof(struct fuse_in_header) +
			       FUSE_URING_OP_IN_OUT_SZ <=
		       HDR_AREA,
	       "a request's header and fixed argument fit before its payload");

#define ENABLE_URING   "/sys/module/fuse/parameters/enable_uring"
#define URING_DISABLED "/proc/sys/kernel/io_uring_disabled"

struct ring_ent {
	struct fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2]; /* what REGISTER hands the kernel */
	uint64_t unique;     /* the request being served */
	bool replied;
};

struct ring_thread {
	pthread_t tid;
	unsigned qid;
	int stop_fd; /* eventfd: written by uring_stop() */
	char *map;   /* the entries' buffers, unmapped after the join */
	size_t map_len;
	struct ring_ent ents[ENTS_PER_THREAD];
	atomic_uint_fast64_t served;
};

static struct {
	struct fuse_session *se;
	int fd;
	unsigned per_queue; /* threads per CPU queue */
	/* Set by read() of INIT, read by writev() of its reply. */
	_Atomic uint64_t init_unique;
	atomic_bool init_pending;
	atomic_bool accept;
	atomic_bool killpriv; /* the kernel offered FUSE_HANDLE_KILLPRIV_V2 */
	atomic_bool refused;  /* uring_refuse(): the ring is not tried */
	atomic_bool running;
	atomic_uint_fast64_t dev_requests;
	size_t payload_max;
	pthread_mutex_t lock;
	/* guarded by lock */
	char why[200]; /* why /dev/fuse serves alone; "" if it does not */
	struct ring_thread *threads;
	unsigned nthreads;
} ur = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* The ring entry this thread is serving, NULL outside a ring request. */
static __thread struct ring_ent *cur_ent;
/* The request this thread serves as the kernel sent it (from /dev/fuse or
 * rebuilt from a ring entry), NULL before the first. */
static __thread const struct fuse_in_header *cur_in;

/* /dev/fuse serves alone from now on; the first reason is logged, once. */
static void fall_back(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void fall_back(const char *fmt, ...)
{
	va_list ap;
	bool first;

	pthread_mutex_lock(&ur.lock);
	first = !ur.why[0];
	if (first) {
		va_start(ap, fmt);
		vsnprintf(ur.why, sizeof(ur.why), fmt, ap);
		va_end(ap);
	}
	atomic_store(&ur.running, false);
	pthread_mutex_unlock(&ur.lock);
	if (first)
		log_msg(LOG_NOTICE, "FUSE over io_uring not used: %s", ur.why);
}

/* The first character of a small sysfs/procfs file, or 0. */
static char read_flag(const char *path)
{
	char c = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = 0;
		fclose(f);
	}
	return c;
}

/* Why the kernel did not offer the flag in an INIT of minor @p minor. */
static void explain_not_offered(uint32_t minor)
{
	char on = read_flag(ENABLE_URING);

	if (minor < FUSE_URING_MINOR)
		fall_back("the kernel speaks FUSE 7.%u, io_uring needs 7.%u "
			  "(Linux 6.14)",
			  minor, FUSE_URING_MINOR);
	else if (!on)
		fall_back("the kernel is built without CONFIG_FUSE_IO_URING");
	else
		fall_back("%s is %c (root can write Y before mounting)",
			  ENABLE_URING, on);
}

static int ring_init(struct io_uring *ring, unsigned entries, unsigned flags)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SQE128 | flags};

	return io_uring_queue_init_params(entries, ring, &p);
}

/* Can this process make the ring it needs? Says why not. */
static bool probe_io_uring(void)
{
	struct io_uring ring;
	int rc = ring_init(&ring, 1, 0);
	char off;

	if (rc == 0) {
		io_uring_queue_exit(&ring);
		return true;
	}
	off = read_flag(URING_DISABLED);
	if ((rc == -EPERM || rc == -ENOSYS) && off && off != '0')
		fall_back("io_uring is disabled (sysctl kernel.io_uring_"
			  "disabled = %c)",
			  off);
	else
		fall_back("io_uring_setup: %s", strerror(-rc));
	return false;
}

/* read() of INIT: decide whether its reply accepts the ring. */
static void on_init(const struct fuse_in_header *in, size_t len)
{
	const struct fuse_init_in *arg = (const void *)(in + 1);
	uint64_t flags;

	if (len < sizeof(*in) + sizeof(*arg) || arg->major != 7) {
		fall_back("INIT of FUSE %u.%u not understood",
			  len >= sizeof(*in) + 8 ? arg->major : 0,
			  len >= sizeof(*in) + 8 ? arg->minor : 0);
		return;
	}
	flags = arg->flags;
	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)arg->flags2 << 32;
	atomic_store(&ur.killpriv, (flags & FUSE_HANDLE_KILLPRIV_V2) != 0);
	atomic_store(&ur.init_unique, in->unique);
	atomic_store(&ur.init_pending, true);
	if (atomic_load(&ur.refused))
		return;
	if (!(flags & FUSE_OVER_IO_URING)) {
		explain_not_offered(arg->minor);
		return;
	}
	if (!probe_io_uring())
		return;
	atomic_store(&ur.accept, true);
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	cur_in = NULL;
	if (n >= (ssize_t)sizeof(*in)) {
		cur_in = in;
		atomic_fetch_add_explicit(&ur.dev_requests, 1,
					  memory_order_relaxed);
		if (in->opcode == FUSE_INIT)
			on_init(in, (size_t)n);
	}
	return n;
}

/* ------------------------------------------------------------ ring entries */

/* Queue the command @p op for entry @p e on @p ring; -EBUSY if full. */
static int prep_cmd(struct io_uring *ring, const struct ring_thread *rt,
		    struct ring_ent *e, uint32_t op)
{
	struct fuse_uring_cmd_req req = {.qid = (uint16_t)rt->qid};
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) /* never: a ring has a slot per entry */
		return -EBUSY;

	memset(sqe, 0, 2 * sizeof(*sqe)); /* SQE128: two slots */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ur.fd;
	sqe->cmd_op = op;
	if (op == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		req.commit_id = e->unique;
	}
	memcpy((char *)sqe->cmd, &req, sizeof(req));
	io_uring_sqe_set_data(sqe, e);
	return 0;
}

/* Reply @p error with no payload to the request in @p e. */
static void reply_error(struct ring_ent *e, int error)
{
	struct fuse_out_header out = {
		.len = sizeof(out), .error = -error, .unique = e->unique};

	memcpy(e->hdr->in_out, &out, sizeof(out));
	e->hdr->ring_ent_in_out.payload_sz = 0;
	e->replied = true;
}

/* writev() of a reply to the ring request @p e: into its buffers. */
static ssize_t ring_reply(struct ring_ent *e, const struct iovec *iov,
			  int count)
{
	size_t total = 0, off = 0;

	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	if (total - sizeof(struct fuse_out_header) > ur.payload_max) {
		log_msg(LOG_ERR,
			"io_uring: a %zu-byte reply does not fit the "
			"ring buffer",
			total);
		reply_error(e, EIO);
		return (ssize_t)total;
	}
	/* Gather: the first 16 bytes are the header, the rest payload.
	 * memmove: a reply may quote the request's own bytes. */
	for (int i = 0; i < count; i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		while (n) {
			size_t hdr_left =
				off < sizeof(struct fuse_out_header)
					? sizeof(struct fuse_out_header) - off
					: 0;
			size_t k = hdr_left ? (n < hdr_left ? n : hdr_left) : n;

			if (hdr_left)
				memcpy(e->hdr->in_out + off, p, k);
			else
				memmove(e->payload + off -
						sizeof(struct fuse_out_header),
					p, k);
			p += k;
			n -= k;
			off += k;
		}
	}
	e->hdr->ring_ent_in_out.payload_sz =
		(uint32_t)(total - sizeof(struct fuse_out_header));
	e->replied = true;
	return (ssize_t)total;
}

/* A request arrived in @p e: rebuild its /dev/fuse layout and serve it. */
static void serve(struct ring_thread *rt, struct ring_ent *e)
{
	struct fuse_in_header in;
	uint32_t psz = e->hdr->ring_ent_in_out.payload_sz;
	size_t arg0;
	char *start;

	memcpy(&in, e->hdr->in_out, sizeof(in));
	e->unique = in.unique;
	e->replied = false;
	/* The kernel puts the first argument in op_in and the rest in the
	 * payload; in.len is what /dev/fuse would have delivered. */
	if (psz > ur.payload_max || in.len < sizeof(in) + psz ||
	    in.len - sizeof(in) - psz > FUSE_URING_OP_IN_OUT_SZ) {
		log_msg(LOG_ERR,
			"io_uring: request %llu (opcode %u) of %u bytes "
			"with a %u-byte payload does not add up",
			(unsigned long long)in.unique, in.opcode, in.len, psz);
		reply_error(e, EIO);
		return;
	}
	arg0 = in.len - sizeof(in) - psz;
	start = e->payload - arg0 - sizeof(in);
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), e->hdr->op_in, arg0);

	cur_ent = e;
	cur_in = (const void *)start;
	fuse_session_process_buf(ur.se, &(struct fuse_buf){
						.size = in.len,
						.mem = start,
					});
	cur_ent = NULL;
	cur_in = NULL;
	if (!e->replied) { /* every ring opcode has a reply */
		log_msg(LOG_ERR,
			"io_uring: request %llu (opcode %u) got no "
			"reply",
			(unsigned long long)in.unique, in.opcode);
		reply_error(e, EIO);
	}
	atomic_fetch_add_explicit(&rt->served, 1, memory_order_relaxed);
}

/*
 * Make the kernel give up waiting for the ring: a registration that fails
 * (an entry whose two buffers are empty) turns the connection's io_uring off
 * and wakes the requests held back, which then go through /dev/fuse.
 */
static void release_kernel(void)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct ring_ent none = {0};
	struct ring_thread rt = {0};

	if (ring_init(&ring, 1, 0) < 0) {
		log_msg(LOG_ERR, "io_uring: cannot make the kernel give up "
				 "the ring; requests to the mount hang");
		return;
	}
	if (prep_cmd(&ring, &rt, &none, FUSE_IO_URING_CMD_REGISTER) == 0 &&
	    io_uring_submit(&ring) == 1 && io_uring_wait_cqe(&ring, &cqe) == 0)
		io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
}

static void pin_to(unsigned cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* A CPU that is possible but offline refuses: serve unpinned. */
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Register the entries and the stop poll; -errno if the ring is unusable. */
static int ring_start(struct ring_thread *rt, struct io_uring *ring)
{
	struct io_uring_sqe *sqe;
	int rc;

	rc = ring_init(ring, ENTS_PER_THREAD + 1,
		       IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
			       IORING_SETUP_TASKRUN_FLAG);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < ENTS_PER_THREAD && !rc; i++)
		rc = prep_cmd(ring, rt, &rt->ents[i],
			      FUSE_IO_URING_CMD_REGISTER);
	sqe = io_uring_get_sqe(ring);
	if (rc || !sqe) {
		io_uring_queue_exit(ring);
		return -EBUSY;
	}
	io_uring_prep_poll_add(sqe, rt->stop_fd, POLLIN);
	io_uring_sqe_set_data(sqe, NULL);
	rc = io_uring_submit(ring);
	if (rc < 0) {
		io_uring_queue_exit(ring);
		return rc;
	}
	return 0;
}

static void *ring_main(void *arg)
{
	struct ring_thread *rt = arg;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	unsigned live = ENTS_PER_THREAD;
	bool registered = false; /* a first request came: REGISTER worked */
	int rc;

	pin_to(rt->qid);
	rc = ring_start(rt, &ring);
	if (rc < 0) {
		fall_back("queue %u: io_uring setup: %s", rt->qid,
			  strerror(-rc));
		release_kernel();
		return NULL;
	}
	while (live) {
		struct ring_ent *e;
		int res;

		rc = io_uring_wait_cqe(&ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0)
			break;
		e = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
		if (!e) /* uring_stop() */
			break;
		if (res == -ENOTCONN || res == -ECANCELED)
			break; /* unmounted or aborted: the end */
		if (res < 0) {
			/* A failed REGISTER has turned the ring off in the
			 * kernel: /dev/fuse serves everything. */
			if (!registered)
				fall_back("registering queue %u: %s", rt->qid,
					  strerror(-res));
			else
				log_msg(LOG_WARNING,
					"io_uring: queue %u lost an entry: %s",
					rt->qid, strerror(-res));
			live--;
			continue;
		}
		registered = true;
		serve(rt, e);
		rc = prep_cmd(&ring, rt, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
		if (!rc)
			rc = io_uring_submit(&ring);
		if (rc < 0) {
			log_msg(LOG_ERR, "io_uring: queue %u: commit: %s",
				rt->qid, strerror(-rc));
			live--;
		}
	}
	/* Cancels what the kernel still holds; the buffers are unmapped by
	 * uring_stop() once this thread has exited. */
	io_uring_queue_exit(&ring);
	return NULL;
}

/*
 * The kernel's number of queues: one per possible CPU (num_possible_cpus),
 * the highest in /sys/devices/system/cpu/possible plus one. A queue left
 * without an entry would hold every request back, so this is read from the
 * kernel rather than from glibc's idea of configured CPUs.
 */
static unsigned possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	unsigned lo, hi, max = 0;
	int n, c = ',';

	if (!f)
		return (unsigned)get_nprocs_conf();
	/* "0-3", "0", "0-3,8-11" */
	while (c == ',' && (n = fscanf(f, "%u", &lo)) == 1) {
		hi = lo;
		c = fgetc(f);
		if (c == '-' && fscanf(f, "%u", &hi) == 1)
			c = fgetc(f);
		if (hi > max)
			max = hi;
	}
	fclose(f);
	return max + 1;
}

/* Map the buffers of @p rt's entries. */
static int ents_map(struct ring_thread *rt)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t payload = (ur.payload_max + page - 1) / page * page;
	size_t one = HDR_AREA + payload;

	rt->map_len = one * ENTS_PER_THREAD;
	rt->map = mmap(NULL, rt->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (rt->map == MAP_FAILED) {
		rt->map = NULL;
		return -errno;
	}
	for (unsigned i = 0; i < ENTS_PER_THREAD; i++) {
		struct ring_ent *e = &rt->ents[i];

		e->hdr = (void *)(rt->map + i * one);
		e->payload = rt->map + i * one + HDR_AREA;
		e->iov[0] = (struct iovec){e->hdr, sizeof(*e->hdr)};
		e->iov[1] = (struct iovec){e->payload, payload};
	}
	return 0;
}

/* After INIT accepted the ring: a thread (or several) per CPU queue. */
static int threads_start(void)
{
	unsigned queues = possible_cpus();
	unsigned n = queues * ur.per_queue;
	int rc = 0;

	pthread_mutex_lock(&ur.lock);
	ur.threads = calloc(n, sizeof(*ur.threads));
	if (!ur.threads) {
		pthread_mutex_unlock(&ur.lock);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n && !rc; i++) {
		struct ring_thread *rt = &ur.threads[i];

		rt->qid = i % queues;
		rt->stop_fd = eventfd(0, EFD_CLOEXEC);
		if (rt->stop_fd < 0) {
			rc = -errno;
			break;
		}
		rc = ents_map(rt);
		if (!rc)
			rc = -pthread_create(&rt->tid, NULL, ring_main, rt);
		if (rc) {
			close(rt->stop_fd);
			if (rt->map)
				munmap(rt->map, rt->map_len);
			break;
		}
		ur.nthreads++;
	}
	pthread_mutex_unlock(&ur.lock);
	return rc;
}

/* writev() of INIT's reply: take killpriv v2 if offered; accept the ring if
 * read() of INIT decided so, and start serving it. */
static ssize_t init_reply(int fd, struct iovec *iov, int count)
{
	struct fuse_init_out *out;
	ssize_t n;
	uint64_t pages;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int rc;

	atomic_store(&ur.init_pending, false);
	if (count < 2 || iov[1].iov_len < sizeof(*out) ||
	    ((struct fuse_out_header *)iov[0].iov_base)->error) {
		if (atomic_exchange(&ur.accept, false))
			fall_back("libfuse's INIT reply has no room for the "
				  "flag");
		return writev(fd, iov, count);
	}
	out = iov[1].iov_base;
	if (atomic_load(&ur.killpriv))
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
	if (!atomic_exchange(&ur.accept, false))
		return writev(fd, iov, count);
	out->flags |= FUSE_INIT_EXT;
	out->flags2 |= (uint32_t)(FUSE_OVER_IO_URING >> 32);
	/* What the kernel sizes the ring's payload by (fuse_uring_create). */
	pages = (out->flags & FUSE_MAX_PAGES) && out->max_pages ? out->max_pages
								: 32;
	ur.payload_max = pages * page;
	if (ur.payload_max < out->max_write)
		ur.payload_max = out->max_write;
	if (ur.payload_max < FUSE_MIN_READ_BUFFER)
		ur.payload_max = FUSE_MIN_READ_BUFFER;

	n = writev(fd, iov, count);
	if (n < 0)
		return n;
	/* The kernel has taken INIT: it now waits for the ring. */
	atomic_store(&ur.running, true);
	rc = threads_start();
	if (rc) {
		fall_back("starting the ring threads: %s", strerror(-rc));
		release_kernel();
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	struct ring_ent *e = cur_ent;

	(void)userdata;
	if (e && out->unique == e->unique)
		return ring_reply(e, iov, count);
	if (atomic_load(&ur.init_pending) &&
	    out->unique == atomic_load(&ur.init_unique))
		return init_reply(fd, iov, count);
	return writev(fd, iov, count);
}

/* ------------------------------------------------------------ the API */

void uring_attach(struct fuse_session *se, unsigned threads)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};
	unsigned queues = possible_cpus();
	int rc;

	ur.se = se;
	ur.fd = fuse_session_fd(se);
	ur.per_queue = threads > queues ? (threads + queues - 1) / queues : 1;
	rc = fuse_session_custom_io(se, &io, ur.fd);
	if (rc)
		fall_back("fuse_session_custom_io: %s", strerror(-rc));
}

void uring_refuse(const char *why)
{
	pthread_mutex_lock(&ur.lock);
	snprintf(ur.why, sizeof(ur.why), "%s", why);
	pthread_mutex_unlock(&ur.lock);
	atomic_store(&ur.refused, true);
}

/* The fixed argument of the current request if it is @p opcode and holds
 * @p size bytes of it, else NULL. */
static const void *cur_arg(uint32_t opcode, size_t size)
{
	const struct fuse_in_header *in = cur_in;

	if (!in || in->opcode != opcode || in->len < sizeof(*in) + size)
		return NULL;
	return in + 1;
}

bool uring_kill_suidgid(void)
{
	const struct fuse_write_in *w;
	const struct fuse_setattr_in *sa;
	const struct fuse_open_in *o;
	const struct fuse_create_in *c;

	if (!atomic_load(&ur.killpriv) || !cur_in)
		return false;
	if ((w = cur_arg(FUSE_WRITE, sizeof(*w))))
		return w->write_flags & FUSE_WRITE_KILL_SUIDGID;
	if ((sa = cur_arg(FUSE_SETATTR, sizeof(*sa))))
		return sa->valid & FATTR_KILL_SUIDGID;
	if ((o = cur_arg(FUSE_OPEN, sizeof(*o))))
		return o->open_flags & FUSE_OPEN_KILL_SUIDGID;
	if ((c = cur_arg(FUSE_CREATE, sizeof(*c))))
		return c->open_flags & FUSE_OPEN_KILL_SUIDGID;
	return false;
}

void uring_stop(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&ur.lock);
	for (unsigned i = 0; i < ur.nthreads; i++)
		if (write(ur.threads[i].stop_fd, &one, sizeof(one)) < 0)
			log_msg(LOG_WARNING, "io_uring: waking queue %u: %s",
				ur.threads[i].qid, strerror(errno));
	for (unsigned i = 0; i < ur.nthreads; i++) {
		struct ring_thread *rt = &ur.threads[i];

		pthread_join(rt->tid, NULL);
		close(rt->stop_fd);
		munmap(rt->map, rt->map_len);
	}
	free(ur.threads);
	ur.threads = NULL;
	ur.nthreads = 0;
	atomic_store(&ur.running, false);
	pthread_mutex_unlock(&ur.lock);
}

int uring_stats_text(char **text)
{
	uint64_t ring = 0;
	int rc;

	pthread_mutex_lock(&ur.lock);
	for (unsigned i = 0; i < ur.nthreads; i++)
		ring += atomic_load(&ur.threads[i].served);
	if (atomic_load(&ur.running))
		rc = asprintf(text,
			      "transport: io_uring\nring_threads: %u\n"
			      "ring_requests: %" PRIu64
			      "\ndev_requests: %" PRIu64 "\n",
			      ur.nthreads, ring,
			      (uint64_t)atomic_load(&ur.dev_requests));
	else
		rc = asprintf(text, "transport: /dev/fuse\ntransport_why: %s\n",
			      ur.why[0] ? ur.why : "not negotiated yet");
	pthread_mutex_unlock(&ur.lock);
	return rc < 0 ? -ENOMEM : 0;
}
