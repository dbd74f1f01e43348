/* io_uring with raw syscalls (no liburing): one ring per environment, SEND_ZC submissions in
 * batches, completions delivered to JavaScript in batches through an eventfd watched by uv_poll,
 * and a sparse table of registered ("wired") buffers filled by buffer pools.
 * Ring memory protocol: the kernel writes CQ tail and reads SQ tail; we load-acquire what it
 * writes and store-release what it reads (see io_uring(7)). */
#define _GNU_SOURCE
#include "aiotx.h"
#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define SQ_ENTRIES 256
#define CQ_ENTRIES 8192
#define BUFFER_SLOTS 1024
/* Submission table entries from JavaScript: fd, offset, length, tag, buffer index (-1: none),
 * flags (ENTRY_LINK: IOSQE_IO_LINK to the next entry, so the kernel runs them in order;
 * ENTRY_WAITALL: MSG_WAITALL, so a stream send is retried by the kernel until complete instead
 * of completing short, which would not break the link; ENTRY_COPY: IORING_OP_SEND, the kernel
 * copies, for sockets without zero-copy support or pages that could not be pinned). */
#define ENTRY_WIDTH 6
#define ENTRY_LINK 1
#define ENTRY_WAITALL 2
#define ENTRY_COPY 4
#define COMPLETION_INTS (3 * 1024)

struct ax_ring {
  int fd, efd;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *sq_flags;
  unsigned *cq_head, *cq_tail, *cq_mask;
  struct io_uring_cqe *cqes;
  struct io_uring_sqe *sqes;
  void *sq_ptr, *cq_ptr;
  size_t sq_len, cq_len, sqes_len;
  unsigned buffer_slots; /* 0 when the sparse buffer table could not be registered */
  int buffer_errno;
  ax_wakeup_t wakeup;
};

static int uring_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}

/* One attempt: EINTR, like EAGAIN and EBUSY, is the caller's to retry later. */
static int uring_enter(int fd, unsigned submit, unsigned flags) {
  int r = (int)syscall(__NR_io_uring_enter, fd, submit, 0, flags, NULL, 0);
  return r < 0 ? -errno : r;
}

static int uring_register(int fd, unsigned op, void *arg, unsigned n) {
  int r = (int)syscall(__NR_io_uring_register, fd, op, arg, n);
  return r < 0 ? -errno : r;
}

void ax_ring_free(napi_env env, ax_ring_t *r) {
  ax_wakeup_stop(env, &r->wakeup);
  if (r->sqes && r->sqes != MAP_FAILED) munmap(r->sqes, r->sqes_len);
  if (r->cq_ptr && r->cq_ptr != MAP_FAILED && r->cq_ptr != r->sq_ptr) munmap(r->cq_ptr, r->cq_len);
  if (r->sq_ptr && r->sq_ptr != MAP_FAILED) munmap(r->sq_ptr, r->sq_len);
  if (r->efd >= 0) close(r->efd);
  if (r->fd >= 0) close(r->fd);
  free(r);
}

/* Maps the rings; returns 0 or -errno. */
static int ring_map(ax_ring_t *r, struct io_uring_params *p) {
  r->sq_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
  r->cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
  bool single = p->features & IORING_FEAT_SINGLE_MMAP;
  if (single && r->cq_len > r->sq_len) r->sq_len = r->cq_len;
  r->sq_ptr = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  if (r->sq_ptr == MAP_FAILED) return -errno;
  r->cq_ptr = single ? r->sq_ptr
                     : mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
  if (r->cq_ptr == MAP_FAILED) return -errno;
  r->sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
  r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) return -errno;
  char *sq = r->sq_ptr, *cq = r->cq_ptr;
  r->sq_head = (unsigned *)(sq + p->sq_off.head);
  r->sq_tail = (unsigned *)(sq + p->sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p->sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p->sq_off.array);
  r->sq_flags = (unsigned *)(sq + p->sq_off.flags);
  r->cq_head = (unsigned *)(cq + p->cq_off.head);
  r->cq_tail = (unsigned *)(cq + p->cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p->cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p->cq_off.cqes);
  return 0;
}

/* CQEs the kernel could not post (CQ full) wait in its overflow list until an enter flushes them. */
static void ring_flush_overflow(ax_ring_t *r) {
  if (__atomic_load_n(r->sq_flags, __ATOMIC_RELAXED) & IORING_SQ_CQ_OVERFLOW) uring_enter(r->fd, 0, IORING_ENTER_GETEVENTS);
}

/* Copies completions out as (tag, res, flags) triples. */
static int fill_completions(void *owner, int32_t *out, size_t cap) {
  ax_ring_t *r = owner;
  uint64_t count;
  if (read(r->efd, &count, sizeof count) < 0) { /* EAGAIN: a later pass of the loop */ }
  ring_flush_overflow(r);
  unsigned head = *r->cq_head, tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
  size_t n = 0;
  while (head != tail && n + 3 <= cap) {
    struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
    out[n++] = (int32_t)(uint32_t)cqe->user_data;
    out[n++] = cqe->res;
    out[n++] = (int32_t)cqe->flags;
    head++;
  }
  __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  return (int)n;
}

static ax_ring_t *get_ring(napi_env env) {
  ax_ring_t *r = ax_env(env)->ring;
  if (r == NULL) napi_throw_error(env, "ERR_AIOTX_URING", "io_uring ring not started");
  return r;
}

static void ring_params(struct io_uring_params *p) {
  memset(p, 0, sizeof *p);
  p->flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  p->cq_entries = CQ_ENTRIES;
}

/* uringProbe() -> 0 when a ring like the one uringStart makes can be set up here, else -errno
 * (disabled, filtered by seccomp, RLIMIT_MEMLOCK too low for its memory). Closed at once. */
static napi_value js_uring_probe(napi_env env, napi_callback_info info) {
  (void)info;
  struct io_uring_params p;
  ring_params(&p);
  int fd = uring_setup(SQ_ENTRIES, &p);
  if (fd < 0) return ax_int(env, -errno);
  close(fd);
  return ax_int(env, 0);
}

/* uringStart(callback) -> Int32Array of (tag, res, flags) triples, or -errno when io_uring
 * cannot be used here (disabled, filtered by seccomp, too old). callback(count) gives the ints. */
static napi_value js_uring_start(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  if (!ax_get_args(env, info, 1, argv)) return NULL;
  ax_env_t *e = ax_env(env);
  if (e->ring != NULL) {
    napi_throw_error(env, "ERR_AIOTX_URING", "io_uring ring already started");
    return NULL;
  }
  ax_ring_t *r = calloc(1, sizeof *r);
  if (r == NULL) return ax_int(env, -ENOMEM);
  r->fd = r->efd = -1;
  struct io_uring_params p;
  ring_params(&p);
  r->fd = uring_setup(SQ_ENTRIES, &p);
  int err = r->fd < 0 ? -errno : ring_map(r, &p);
  if (err == 0) {
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0) err = -errno;
  }
  if (err == 0) err = uring_register(r->fd, IORING_REGISTER_EVENTFD, &r->efd, 1);
  if (err < 0) {
    ax_ring_free(env, r);
    return ax_int(env, err);
  }
  struct io_uring_rsrc_register reg = {.nr = BUFFER_SLOTS, .flags = IORING_RSRC_REGISTER_SPARSE};
  int rr = uring_register(r->fd, IORING_REGISTER_BUFFERS2, &reg, sizeof reg);
  r->buffer_slots = rr < 0 ? 0 : BUFFER_SLOTS;
  r->buffer_errno = rr < 0 ? rr : 0;
  if (!ax_wakeup_start(env, &r->wakeup, r->efd, argv[0], COMPLETION_INTS, fill_completions, r, "aiotx.uring", &arr)) {
    ax_ring_free(env, r);
    return NULL;
  }
  e->ring = r;
  return arr;
}

/* uringSubmit(table: Float64Array, buffers: Array, count) -> how many of the entries, from the
 * first, the kernel took, or -errno when io_uring_enter took none. The entries it did not take
 * are taken back from the submission ring (without SQPOLL the kernel reads it only inside
 * io_uring_enter), so the ring holds nothing between calls and the caller alone decides what
 * goes again. Staging stops before an entry whose buffer is detached or too short: that entry
 * and those after it count as not taken. The last entry may not be linked: a chain never spans
 * two submissions. */
static napi_value js_uring_submit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  bool is;
  int64_t count;
  if (!ax_get_args(env, info, 3, argv) ||
      !ax_get_safe_int(env, argv[2], "count must be a non-negative integer", &count))
    return NULL;
  napi_typedarray_type type;
  size_t table_len = 0;
  void *base = NULL;
  if (napi_is_typedarray(env, argv[0], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[0], &type, &table_len, &base, NULL, NULL) != napi_ok ||
      type != napi_float64_array || (base == NULL && count > 0)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "table must be a Float64Array");
    return NULL;
  }
  uint32_t buffers_len = 0;
  if (napi_is_array(env, argv[1], &is) != napi_ok || !is) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buffers must be an Array");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &buffers_len);
  if ((uint64_t)count * ENTRY_WIDTH > table_len || (uint64_t)count > buffers_len || count > SQ_ENTRIES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "count exceeds the table, the buffers or the ring");
    return NULL;
  }
  ax_ring_t *r = get_ring(env);
  if (r == NULL) return NULL;
  const double *t = base;
  struct io_uring_sqe staged[SQ_ENTRIES];
  int64_t n = 0;
  for (; n < count; n++) {
    const double *entry = t + n * ENTRY_WIDTH;
    double fd = entry[0], off = entry[1], len = entry[2], tag = entry[3], idx = entry[4], fl = entry[5];
    if (!(fd >= 0 && fd <= INT32_MAX) || !(off >= 0 && off <= 9007199254740991.0) || !(len >= 0 && len <= UINT32_MAX) ||
        !(tag >= 0 && tag <= UINT32_MAX) || !(idx >= -1 && idx < (double)r->buffer_slots) ||
        !(fl >= 0 && fl <= (ENTRY_LINK | ENTRY_WAITALL | ENTRY_COPY)) || fl != (double)(int)fl ||
        (n == count - 1 && ((int)fl & ENTRY_LINK))) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "bad submission table entry");
      return NULL;
    }
    napi_value buf;
    uint8_t *data;
    size_t blen;
    bool detached;
    napi_get_element(env, argv[1], (uint32_t)n, &buf);
    if (!ax_get_bytes(env, buf, &data, &blen, &detached)) return NULL;
    if (detached || (size_t)off > blen || (size_t)len > blen - (size_t)off) break;
    struct io_uring_sqe *sqe = &staged[n];
    bool copy = (int)fl & ENTRY_COPY;
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = copy ? IORING_OP_SEND : IORING_OP_SEND_ZC;
    sqe->fd = (int)fd;
    sqe->addr = (uint64_t)(uintptr_t)(data + (size_t)off);
    sqe->len = (uint32_t)len;
    sqe->msg_flags = MSG_NOSIGNAL | (((int)fl & ENTRY_WAITALL) ? MSG_WAITALL : 0);
    sqe->flags = ((int)fl & ENTRY_LINK) ? IOSQE_IO_LINK : 0;
    if (!copy) {
      sqe->ioprio = IORING_SEND_ZC_REPORT_USAGE | (idx >= 0 ? IORING_RECVSEND_FIXED_BUF : 0);
      sqe->buf_index = idx >= 0 ? (uint16_t)idx : 0;
    }
    sqe->user_data = (uint64_t)tag;
  }
  if (n > 0 && n < count) staged[n - 1].flags &= (uint8_t)~IOSQE_IO_LINK; /* its chain ends here now */
  unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE), tail = *r->sq_tail, mask = *r->sq_mask;
  if (tail != head) return ax_int(env, -EBUSY); /* cannot happen: every call leaves the ring empty */
  for (int64_t i = 0; i < n; i++) {
    unsigned slot = tail & mask;
    r->sqes[slot] = staged[i];
    r->sq_array[slot] = slot;
    tail++;
  }
  __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
  int entered = n > 0 ? uring_enter(r->fd, (unsigned)n, 0) : 0;
  unsigned now = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
  unsigned taken = now - head;
  if (taken != (unsigned)n) __atomic_store_n(r->sq_tail, now, __ATOMIC_RELEASE);
  return ax_int(env, taken == 0 && entered < 0 ? entered : (int64_t)taken);
}

/* uringReap() -> ints of (tag, res, flags) triples written to the completions array that
 * uringStart returned: the completions already posted, read without waiting for the eventfd
 * (a send that completed inline has its CQEs posted when io_uring_enter returns). It clears the
 * eventfd too, a read(2) per flush: leaving that to the loop's wakeup made datagrams through a
 * full socket arrive out of order in 2 of 12 runs of uring-unlinked.test (cause not yet found).
 * Must not be called while the completions callback is still reading that array. */
static napi_value js_uring_reap(napi_env env, napi_callback_info info) {
  (void)info;
  ax_ring_t *r = get_ring(env);
  if (r == NULL) return NULL;
  return ax_int(env, fill_completions(r, r->wakeup.array, r->wakeup.cap));
}

/* uringRegisterBuffers(memory, slot, size, count) -> 0 or -errno: wires `count` buffers of
 * `size` bytes from `memory` into the ring's table at `slot` (pinned once, not per send). */
static napi_value js_uring_register_buffers(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t slot, size, count;
  uint8_t *data;
  size_t len;
  bool detached;
  if (!ax_get_args(env, info, 4, argv) || !ax_get_bytes(env, argv[0], &data, &len, &detached) ||
      !ax_get_safe_int(env, argv[1], "slot must be a non-negative integer", &slot) ||
      !ax_get_safe_int(env, argv[2], "size must be a non-negative integer", &size) ||
      !ax_get_safe_int(env, argv[3], "count must be a non-negative integer", &count))
    return NULL;
  ax_ring_t *r = get_ring(env);
  if (r == NULL) return NULL;
  if (r->buffer_slots == 0) return ax_int(env, r->buffer_errno ? r->buffer_errno : -ENOTSUP);
  if (detached || size == 0 || count == 0 || (uint64_t)size * (uint64_t)count > len ||
      (uint64_t)slot + (uint64_t)count > r->buffer_slots) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "buffers do not fit the memory or the ring's table");
    return NULL;
  }
  struct iovec *iov = calloc((size_t)count, sizeof *iov);
  if (iov == NULL) return ax_int(env, -ENOMEM);
  for (int64_t i = 0; i < count; i++) {
    iov[i].iov_base = data + i * size;
    iov[i].iov_len = (size_t)size;
  }
  /* The kernel stops at the first buffer it cannot pin and returns how many it registered; asked
   * again for the rest it names the errno. All or none: a partial pool is emptied again. */
  int64_t done = 0;
  int rr = 0;
  while (done < count) {
    struct io_uring_rsrc_update2 up = {
        .offset = (uint32_t)(slot + done), .data = (uint64_t)(uintptr_t)(iov + done), .nr = (uint32_t)(count - done)};
    rr = uring_register(r->fd, IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof up);
    if (rr <= 0) break;
    done += rr;
  }
  if (done < count && done > 0) {
    memset(iov, 0, (size_t)done * sizeof *iov);
    struct io_uring_rsrc_update2 up = {.offset = (uint32_t)slot, .data = (uint64_t)(uintptr_t)iov, .nr = (uint32_t)done};
    uring_register(r->fd, IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof up);
  }
  free(iov);
  return ax_int(env, done == count ? 0 : rr < 0 ? rr : -EIO);
}

/* uringUnregisterBuffers(slot, count) -> 0 or -errno: empties table slots (the kernel keeps the
 * pages pinned until sends still using them complete). */
static napi_value js_uring_unregister_buffers(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t slot, count;
  if (!ax_get_args(env, info, 2, argv) || !ax_get_safe_int(env, argv[0], "slot must be a non-negative integer", &slot) ||
      !ax_get_safe_int(env, argv[1], "count must be a non-negative integer", &count))
    return NULL;
  ax_ring_t *r = get_ring(env);
  if (r == NULL) return NULL;
  if (r->buffer_slots == 0 || count == 0 || (uint64_t)slot + (uint64_t)count > r->buffer_slots) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "slots outside the ring's table");
    return NULL;
  }
  struct iovec *iov = calloc((size_t)count, sizeof *iov);
  if (iov == NULL) return ax_int(env, -ENOMEM);
  struct io_uring_rsrc_update2 up = {.offset = (uint32_t)slot, .data = (uint64_t)(uintptr_t)iov, .nr = (uint32_t)count};
  int rr = uring_register(r->fd, IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof up);
  free(iov);
  return ax_int(env, rr < 0 ? rr : 0);
}

/* uringBufferSlots() -> table size, or the -errno why the table could not be registered. */
static napi_value js_uring_buffer_slots(napi_env env, napi_callback_info info) {
  (void)info;
  ax_ring_t *r = get_ring(env);
  if (r == NULL) return NULL;
  return ax_int(env, r->buffer_slots ? (int64_t)r->buffer_slots : r->buffer_errno);
}

void ax_init_uring(napi_env env, napi_value exports) {
  ax_export(env, exports, "uringProbe", js_uring_probe);
  ax_export(env, exports, "uringStart", js_uring_start);
  ax_export(env, exports, "uringSubmit", js_uring_submit);
  ax_export(env, exports, "uringReap", js_uring_reap);
  ax_export(env, exports, "uringRegisterBuffers", js_uring_register_buffers);
  ax_export(env, exports, "uringUnregisterBuffers", js_uring_unregister_buffers);
  ax_export(env, exports, "uringBufferSlots", js_uring_buffer_slots);
}
