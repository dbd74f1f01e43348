/* The io_uring floor of the sink rigs: what the kernel's SEND_ZC path costs with nothing of
 * aiotx's around it. A C loop on its own ring (raw syscalls, set up as aiotx sets up its own),
 * sending GSO datagrams (UDP sink) or a stream (TCP sink, MSG_WAITALL as aiotx sends) from one
 * registered (fixed) buffer or from plain memory, `depth` sends in flight, the free slots refilled
 * as one linked chain per io_uring_enter, which also waits for a completion whenever every slot
 * is in flight. */
#define _GNU_SOURCE
#include "aiotx.h"
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_ENTRIES 64
#define FLOOR_MAX_DEPTH 64
#define FLOOR_MAX_MS (3600 * 1000)

typedef struct {
  int fd;
  void *sq_ptr, *cq_ptr;
  size_t sq_len, cq_len, sqes_len;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_cqe *cqes;
  struct io_uring_sqe *sqes;
} floor_ring_t;

static double floor_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void floor_ring_close(floor_ring_t *r) {
  if (r->sqes != NULL && r->sqes != MAP_FAILED) munmap(r->sqes, r->sqes_len);
  if (r->cq_ptr != NULL && r->cq_ptr != MAP_FAILED && r->cq_ptr != r->sq_ptr) munmap(r->cq_ptr, r->cq_len);
  if (r->sq_ptr != NULL && r->sq_ptr != MAP_FAILED) munmap(r->sq_ptr, r->sq_len);
  if (r->fd >= 0) close(r->fd);
}

/* 0 or -errno; on failure the caller still calls floor_ring_close. */
static int floor_ring_open(floor_ring_t *r) {
  memset(r, 0, sizeof *r);
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL; /* as native/uring.c */
  p.cq_entries = 4 * FLOOR_ENTRIES;
  r->fd = (int)syscall(__NR_io_uring_setup, FLOOR_ENTRIES, &p);
  if (r->fd < 0) return -errno;
  r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && r->cq_len > r->sq_len) r->sq_len = r->cq_len;
  r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  if (r->sq_ptr == MAP_FAILED) return -errno;
  r->cq_ptr = single ? r->sq_ptr : mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
  if (r->cq_ptr == MAP_FAILED) return -errno;
  r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) return -errno;
  char *sq = r->sq_ptr, *cq = r->cq_ptr;
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
  return 0;
}

static int floor_enter(floor_ring_t *r, unsigned submit, unsigned wait) {
  int n = (int)syscall(__NR_io_uring_enter, r->fd, submit, wait, wait > 0 ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
  return n < 0 ? -errno : n;
}

typedef struct {
  double bytes, sends, zero_copy_sends, copied_sends;
  unsigned in_flight; /* sends whose last CQE has not come */
} floor_stats_t;

/* Reads the posted CQEs; 0 or the first failed send's -errno. */
static int floor_reap(floor_ring_t *r, floor_stats_t *s) {
  int failure = 0;
  unsigned head = *r->cq_head, tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
  for (; head != tail; head++) {
    const struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
    if (cqe->flags & IORING_CQE_F_NOTIF) {
      s->in_flight--;
      if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED) s->copied_sends++;
      else s->zero_copy_sends++;
      continue;
    }
    if (cqe->res < 0 && failure == 0) failure = cqe->res;
    if (cqe->res > 0) {
      s->bytes += cqe->res;
      s->sends++;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) s->in_flight--; /* no notification follows */
  }
  __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  return failure;
}

/* sinkReferenceUring(fd, data, size, durationMs, segment, depth, fixed) -> Float64Array [bytes,
 * sends, zeroCopySends, copiedSends, 0] or -errno. On a connected UDP socket with segment > 0,
 * UDP_SEGMENT `segment` (cleared after); on a TCP socket with segment 0, MSG_WAITALL. SEND_ZC of
 * `size` bytes at a time from data's consecutive size-byte slots, wrapping at the end (data larger
 * than the caches: cold), `data` registered as one fixed buffer when `fixed`, for durationMs,
 * blocking this thread; then it waits (up to 2 s) for every notification, so the counts are
 * whole. Nothing rewrites data, so re-sending a slot still in flight is harmless. */
static napi_value js_sink_reference_uring(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int fd;
  uint8_t *data;
  size_t len;
  bool detached, fixed;
  int64_t size, duration, segment, depth;
  if (!ax_get_args(env, info, 7, argv) || !ax_get_fd(env, argv[0], &fd) || !ax_get_bytes(env, argv[1], &data, &len, &detached) ||
      !ax_get_safe_int(env, argv[2], "size must be a non-negative integer", &size) ||
      !ax_get_safe_int(env, argv[3], "durationMs must be a non-negative integer", &duration) ||
      !ax_get_safe_int(env, argv[4], "segment must be a non-negative integer", &segment) ||
      !ax_get_safe_int(env, argv[5], "depth must be a non-negative integer", &depth) ||
      !ax_get_bool(env, argv[6], "fixed must be a boolean", &fixed))
    return NULL;
  if (size < 1 || size > (segment > 0 ? 65507 * 64 : 1 << 30) || duration > FLOOR_MAX_MS || segment > 65507 || depth < 1 || depth > FLOOR_MAX_DEPTH) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "size, durationMs, segment or depth out of range");
    return NULL;
  }
  if (detached || len < (size_t)size || len > (1u << 30)) return ax_int(env, -EFAULT);
  int type;
  socklen_t tl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) return ax_int(env, -errno);
  if (type != (segment > 0 ? SOCK_DGRAM : SOCK_STREAM)) return ax_int(env, -EPROTOTYPE);
  const size_t slots = len / (size_t)size;
  floor_ring_t r;
  int err = floor_ring_open(&r);
  struct iovec iov = {.iov_base = data, .iov_len = slots * (size_t)size};
  if (err == 0 && fixed && syscall(__NR_io_uring_register, r.fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) err = -errno;
  int gso = (int)segment;
  if (err == 0 && gso > 0 && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso) != 0) err = -errno;
  /* A stream send returns short only on failure, as in aiotx: a short result would not break the link. */
  const int msg_flags = MSG_NOSIGNAL | (gso > 0 ? 0 : MSG_WAITALL);
  floor_stats_t s = {0};
  size_t slot = 0;
  const double deadline = floor_now_ms() + (double)duration;
  while (err == 0 && floor_now_ms() < deadline) {
    unsigned tail = *r.sq_tail, mask = *r.sq_mask, k = 0;
    while (s.in_flight + k < (unsigned)depth) {
      unsigned i = (tail + k) & mask;
      struct io_uring_sqe *sqe = &r.sqes[i];
      memset(sqe, 0, sizeof *sqe);
      sqe->opcode = IORING_OP_SEND_ZC;
      sqe->fd = fd;
      sqe->addr = (uint64_t)(uintptr_t)(data + slot * (size_t)size);
      sqe->len = (uint32_t)size;
      sqe->msg_flags = (uint32_t)msg_flags;
      sqe->ioprio = IORING_SEND_ZC_REPORT_USAGE | (fixed ? IORING_RECVSEND_FIXED_BUF : 0);
      sqe->buf_index = 0;
      sqe->flags = IOSQE_IO_LINK;
      r.sq_array[i] = i;
      if (++slot == slots) slot = 0;
      k++;
    }
    if (k > 0) r.sqes[(tail + k - 1) & mask].flags = 0; /* the chain ends at the last */
    __atomic_store_n(r.sq_tail, tail + k, __ATOMIC_RELEASE);
    s.in_flight += k;
    int n = floor_enter(&r, k, s.in_flight >= (unsigned)depth ? 1 : 0);
    if (n < 0 && n != -EINTR && n != -EAGAIN && n != -EBUSY) err = n;
    if (err == 0) err = floor_reap(&r, &s);
  }
  const double give_up = floor_now_ms() + 2000;
  while (r.fd >= 0 && s.in_flight > 0 && floor_now_ms() < give_up) {
    floor_enter(&r, 0, 1);
    int f = floor_reap(&r, &s);
    if (err == 0) err = f;
  }
  int off = 0;
  if (gso > 0) setsockopt(fd, SOL_UDP, UDP_SEGMENT, &off, sizeof off);
  floor_ring_close(&r); /* unregisters the buffer */
  if (err != 0) return ax_int(env, err);
  napi_value ab, out;
  void *mem;
  const double figures[5] = {s.bytes, s.sends, s.zero_copy_sends, s.copied_sends, 0};
  napi_create_arraybuffer(env, sizeof figures, &mem, &ab);
  memcpy(mem, figures, sizeof figures);
  napi_create_typedarray(env, napi_float64_array, 5, ab, 0, &out);
  return out;
}

void ax_init_uring_floor(napi_env env, napi_value exports) {
  ax_export(env, exports, "sinkReferenceUring", js_sink_reference_uring);
}
