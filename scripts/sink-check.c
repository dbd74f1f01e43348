/* sink-check: proof and measuring tool for the sink rig.
 *
 * Sends UDP datagrams of ~64 KiB, segmented by GSO (UDP_SEGMENT), to an address behind a veth
 * whose peer is down, where the kernel drops them without copying. Two runs:
 *   copy       plain send(): the kernel copies every byte into socket buffers;
 *   zero-copy  SO_ZEROCOPY + send(MSG_ZEROCOPY): the kernel pins our pages, and tells us on the
 *              error queue when it let go of them, flagging SO_EE_CODE_ZEROCOPY_COPIED when it
 *              had to copy after all (loopback, local delivery, a device without SG/checksum).
 * Prints how many zero-copy sends completed truly zero-copy vs copied, and CPU seconds (user+sys,
 * getrusage) per GB sent for each run. Exit status: 0 when every zero-copy send completed without
 * COPIED, 1 when some were copied, 2 on errors.
 *
 * Build: gcc -O2 -Wall -o sink-check sink-check.c
 * Usage: sink-check [-p port] [-n sends] [-g gso_size] [-s bytes_per_send] [-b pool_bytes]
 *                   [-d drain_every] [-i ifname] SINK_ADDR
 *   -b  sends walk through a pool this large (default 64 MiB), so the copy run reads memory
 *       rather than one cache-hot buffer; -b 0 sends the same buffer every time.
 *   -d  drain the error queue every this many sends (default 32; the kernel coalesces
 *       consecutive notifications meanwhile, saving recvmsg calls).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

static void die(const char *what) {
  fprintf(stderr, "sink-check: %s: %s\n", what, strerror(errno));
  exit(2);
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Completion accounting for one zero-copy run. Each successful MSG_ZEROCOPY send gets the next
 * 32-bit id; notifications carry inclusive, possibly coalesced ranges [ee_info, ee_data]. */
struct tally {
  unsigned long completed, copied, notifications;
};

/* Reads every notification queued now; returns how many were read. */
static int drain_errqueue(int fd, struct tally *t) {
  int n = 0;
  for (;;) {
    char control[128];
    struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return n;
      die("recvmsg(MSG_ERRQUEUE)");
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
            (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
        continue;
      struct sock_extended_err *ee = (struct sock_extended_err *)CMSG_DATA(c);
      if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno != 0) {
        fprintf(stderr, "sink-check: unexpected error-queue entry origin=%u errno=%u\n", ee->ee_origin, ee->ee_errno);
        continue;
      }
      unsigned long range = (unsigned long)(ee->ee_data - ee->ee_info) + 1; /* u32 wrap-safe */
      t->completed += range;
      if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) t->copied += range;
      t->notifications++;
      n++;
    }
  }
}

/* Blocks up to timeout_ms for the error queue to become readable (POLLERR), then drains it. */
static void wait_errqueue(int fd, struct tally *t, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = 0};
  if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR) die("poll");
  drain_errqueue(fd, t);
}

struct result {
  unsigned long sends, bytes, enobufs;
  double cpu, wall;
  struct tally tally;
};

struct params {
  int gso;
  size_t size, pool;
  unsigned long count, drain_every;
};

static struct result run(const struct sockaddr_in *sink, const struct params *p, int zerocopy) {
  struct result r = {0};
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (const struct sockaddr *)sink, sizeof *sink) < 0) die("connect");
  /* GSO: the kernel cuts each send into gso-byte datagrams as late as possible (for us: never,
   * since the drop happens before segmentation). */
  if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &p->gso, sizeof p->gso) < 0) die("setsockopt(UDP_SEGMENT)");
  int one = 1;
  /* Without SO_ZEROCOPY the kernel silently ignores MSG_ZEROCOPY. */
  if (zerocopy && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) < 0) die("setsockopt(SO_ZEROCOPY)");
  size_t slots = p->pool / p->size ? p->pool / p->size : 1;
  char *buf = malloc(slots * p->size);
  if (!buf) die("malloc");
  memset(buf, 'x', slots * p->size); /* fault the pages in before measuring */

  double cpu0 = cpu_seconds(), wall0 = wall_seconds();
  while (r.sends < p->count) {
    /* Reusing a slot while an earlier zero-copy send of it is in flight is harmless here: the
     * kernel only reads it, and the contents do not matter to a sink. */
    const char *data = buf + (r.sends % slots) * p->size;
    ssize_t n = send(fd, data, p->size, zerocopy ? MSG_ZEROCOPY : 0);
    if (n < 0) {
      /* ENOBUFS: too many pinned sends outstanding (optmem_max / RLIMIT_MEMLOCK); reap, retry. */
      if (errno == ENOBUFS && zerocopy) {
        r.enobufs++;
        wait_errqueue(fd, &r.tally, 100);
        continue;
      }
      if (errno == ENOBUFS) continue; /* qdisc pushback on the copy path: just retry */
      /* An ICMP port-unreachable for an earlier datagram (a sink that answers, e.g. loopback for
       * comparison) is reported by this call, which sent nothing: retry. */
      if (errno == ECONNREFUSED) continue;
      die("send");
    }
    r.sends++;
    r.bytes += (unsigned long)n;
    if (zerocopy && r.sends % p->drain_every == 0) drain_errqueue(fd, &r.tally);
  }
  /* Wait for the last notifications: the buffer is ours again only once they arrive. */
  for (int tries = 0; zerocopy && r.tally.completed < r.sends && tries < 50; tries++) wait_errqueue(fd, &r.tally, 100);
  r.cpu = cpu_seconds() - cpu0;
  r.wall = wall_seconds() - wall0;
  free(buf);
  close(fd);
  return r;
}

/* Scatter-gather and TX checksum offload of the sending interface (what `ethtool -k` shows). */
static void print_offloads(const char *ifname) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  const struct { unsigned cmd; const char *name; } q[] = {
      {ETHTOOL_GSG, "scatter-gather"}, {ETHTOOL_GTXCSUM, "tx-checksumming"}, {ETHTOOL_GGSO, "generic-segmentation-offload"}};
  printf("offloads of %s:", ifname);
  for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
    struct ethtool_value ev = {.cmd = q[i].cmd};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    ifr.ifr_data = (void *)&ev;
    if (ioctl(s, SIOCETHTOOL, &ifr) < 0)
      printf(" %s=?(%s)", q[i].name, strerror(errno));
    else
      printf(" %s=%s", q[i].name, ev.data ? "on" : "off");
  }
  printf("\n");
  close(s);
}

static void report(const char *label, const struct result *r) {
  double gb = r->bytes / 1e9;
  printf("%-9s %lu sends, %.2f GB in %.2f s wall (%.1f Gbit/s), CPU %.3f s = %.4f s/GB\n", label, r->sends, gb, r->wall,
         r->wall > 0 ? gb * 8 / r->wall : 0, r->cpu, gb > 0 ? r->cpu / gb : 0);
}

int main(int argc, char **argv) {
  int port = 9, opt;
  struct params p = {.gso = 1472, .size = 0, .pool = 64 << 20, .count = 100000, .drain_every = 32};
  const char *ifname = NULL;
  while ((opt = getopt(argc, argv, "p:n:g:s:b:d:i:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'n': p.count = strtoul(optarg, NULL, 10); break;
      case 'g': p.gso = atoi(optarg); break;
      case 's': p.size = strtoul(optarg, NULL, 10); break;
      case 'b': p.pool = strtoul(optarg, NULL, 10); break;
      case 'd': p.drain_every = strtoul(optarg, NULL, 10); break;
      case 'i': ifname = optarg; break;
      default: goto usage;
    }
  }
  if (optind != argc - 1) {
  usage:
    fprintf(stderr, "usage: %s [-p port] [-n sends] [-g gso_size] [-s bytes_per_send] [-b pool_bytes] [-d drain_every] [-i ifname] SINK_ADDR\n", argv[0]);
    return 2;
  }
  if (p.gso <= 0 || p.count == 0 || p.drain_every == 0) goto usage;
  /* As many whole segments as fit one UDP datagram (65507 bytes of payload): 44 x 1472 = 64768. */
  if (p.size == 0) p.size = (65507 / (size_t)p.gso) * (size_t)p.gso;
  struct sockaddr_in sink = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  if (inet_pton(AF_INET, argv[optind], &sink.sin_addr) != 1) {
    fprintf(stderr, "sink-check: not an IPv4 address: %s\n", argv[optind]);
    return 2;
  }
  if (ifname) print_offloads(ifname);
  printf("sending %lu x %zu bytes (GSO %d-byte segments) from a %zu-byte pool to %s:%d, draining every %lu sends\n",
         p.count, p.size, p.gso, p.pool > p.size ? p.pool / p.size * p.size : p.size, argv[optind], port, p.drain_every);

  struct result copy = run(&sink, &p, 0);
  struct result zc = run(&sink, &p, 1);
  report("copy", &copy);
  report("zero-copy", &zc);
  printf("zero-copy completions: %lu of %lu sends; zero-copy %lu, copied %lu (%lu notifications, %lu ENOBUFS retries)\n",
         zc.tally.completed, zc.sends, zc.tally.completed - zc.tally.copied, zc.tally.copied, zc.tally.notifications,
         zc.enobufs);
  if (copy.cpu > 0 && zc.cpu > 0 && copy.bytes && zc.bytes)
    printf("CPU per GB: zero-copy / copy = %.2f\n", (zc.cpu / (zc.bytes / 1e9)) / (copy.cpu / (copy.bytes / 1e9)));
  if (zc.tally.completed < zc.sends) {
    printf("RESULT: missing notifications (%lu of %lu)\n", zc.tally.completed, zc.sends);
    return 2;
  }
  if (zc.tally.copied > 0) {
    printf("RESULT: the kernel COPIED %lu of %lu zero-copy sends: this path is not a true zero-copy sink\n",
           zc.tally.copied, zc.sends);
    return 1;
  }
  printf("RESULT: all %lu zero-copy sends completed without COPIED: true zero-copy\n", zc.sends);
  return 0;
}
