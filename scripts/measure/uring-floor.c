/* uring-floor: what io_uring SEND_ZC costs from C on the sink rig, the floor for
 * the uring backend. Rounds of `depth` 65000-byte UDP GSO sends (1472-byte segments), linked with
 * IOSQE_IO_LINK or not, from registered (fixed) buffers or not, cycling through 64 MiB; each round
 * is submitted in one io_uring_enter and waits for every send and notification CQE. Prints
 * Gbit/s and CPU s/GB (getrusage). Needs a sink rig (scripts/sink-check.sh shows how to build one).
 * Build: gcc -O2 -Wall -o uring-floor uring-floor.c
 * Usage: uring-floor LOCAL_ADDR SINK_ADDR PORT DEPTH LINK(0|1) FIXED(0|1) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
static double cpu(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6; }
static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: uring-floor LOCAL_ADDR SINK_ADDR PORT DEPTH LINK FIXED\n"); return 2; }
  const char *local = argv[1], *sink = argv[2]; int port = atoi(argv[3]); int depth = atoi(argv[4]); int link = atoi(argv[5]); int fixed = atoi(argv[6]);
  size_t size = 65000, count = 1024; double secs = 3;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET}; inet_pton(AF_INET, local, &a.sin_addr);
  if (bind(s, (void *)&a, sizeof a)) { perror("bind"); return 2; }
  a.sin_port = htons(port); inet_pton(AF_INET, sink, &a.sin_addr);
  if (connect(s, (void *)&a, sizeof a)) { perror("connect"); return 2; }
  int gso = 1472; setsockopt(s, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso);
  char *mem = aligned_alloc(4096, size * count); memset(mem, 7, size * count);
  struct io_uring_params p = {0}; p.flags = IORING_SETUP_CQSIZE; p.cq_entries = 8192;
  int fd = syscall(__NR_io_uring_setup, 256, &p); if (fd < 0) { perror("setup"); return 2; }
  size_t sql = p.sq_off.array + p.sq_entries * 4, cql = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe); if (cql > sql) sql = cql;
  char *sq = mmap(0, sql, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof *sqes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  unsigned *stail = (void *)(sq + p.sq_off.tail), *smask = (void *)(sq + p.sq_off.ring_mask), *sarr = (void *)(sq + p.sq_off.array);
  unsigned *chead = (void *)(sq + p.cq_off.head), *ctail = (void *)(sq + p.cq_off.tail), *cmask = (void *)(sq + p.cq_off.ring_mask);
  struct io_uring_cqe *cqes = (void *)(sq + p.cq_off.cqes);
  if (fixed) { struct iovec *iov = calloc(count, sizeof *iov); for (size_t i = 0; i < count; i++) { iov[i].iov_base = mem + i * size; iov[i].iov_len = size; }
    if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, iov, count) < 0) { perror("register"); return 2; } }
  size_t next = 0; unsigned long sends = 0, copied = 0; double c0 = cpu(), w0 = wall();
  while (wall() - w0 < secs) {
    unsigned tail = *stail;
    for (int i = 0; i < depth; i++) {
      struct io_uring_sqe *e = &sqes[tail & *smask]; memset(e, 0, sizeof *e);
      e->opcode = IORING_OP_SEND_ZC; e->fd = s; e->addr = (unsigned long)(mem + next * size); e->len = size; e->msg_flags = MSG_NOSIGNAL;
      e->ioprio = IORING_SEND_ZC_REPORT_USAGE | (fixed ? IORING_RECVSEND_FIXED_BUF : 0); e->buf_index = fixed ? next : 0;
      e->flags = (link && i < depth - 1) ? IOSQE_IO_LINK : 0; e->user_data = next;
      sarr[tail & *smask] = tail & *smask; tail++; next = (next + 1) % count;
    }
    __atomic_store_n(stail, tail, __ATOMIC_RELEASE);
    int want = depth, got = 0; long spins = 0;
    int r = syscall(__NR_io_uring_enter, fd, depth, 0, 0, NULL, 0); if (r < 0) { perror("enter"); return 2; }
    while (got < want) {
      unsigned h = *chead, t = __atomic_load_n(ctail, __ATOMIC_ACQUIRE);
      if (h == t) { if (++spins > 1000000) { fprintf(stderr, "stuck: got %d of %d, sends %lu\n", got, want, sends); return 3; } syscall(__NR_io_uring_enter, fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0); continue; }
      for (; h != t; h++) { struct io_uring_cqe *c = &cqes[h & *cmask]; if (c->flags & IORING_CQE_F_NOTIF) { got++; if (c->res & IORING_NOTIF_USAGE_ZC_COPIED) copied++; } else { if (c->res < 0) { fprintf(stderr, "send %d\n", c->res); return 2; } sends++; if (!(c->flags & IORING_CQE_F_MORE)) got++; } }
      __atomic_store_n(chead, h, __ATOMIC_RELEASE);
    }
  }
  double c = cpu() - c0, w = wall() - w0, gb = sends * (double)size / 1e9;
  printf("depth %d link %d fixed %d: %.1f Gbit/s  %.4f s/GB  %.2f us/send  copied %lu\n", depth, link, fixed, gb * 8 / w, c / gb, c / sends * 1e6, copied);
  return 0;
}
