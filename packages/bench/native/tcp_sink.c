/* The TCP sink rig's native half (src/bench/tcp-sink-rig.ts builds the network around it):
 *  - a TCP socket made ESTABLISHED without a handshake (TCP_REPAIR), routed into a veth whose
 *    peer is down, where a tc filter steals every packet: the sender's pages are never copied;
 *  - an eBPF program on that veth's egress (TCX link: it detaches when its fd closes, also when
 *    the process dies) recording the highest sequence number sent, in a map this file mmaps;
 *  - an ACK thread that reads that number and injects pure ACKs from the "peer" through a raw
 *    socket (delivered over lo), batched by bytes and time: one ACK costs ~3 µs of CPU;
 *  - a C send loop (copying or MSG_ZEROCOPY) over such a socket: the floor for the bench.
 * Every entry validates its arguments (throws on wrong types) and returns -errno on failure. */
#define _GNU_SOURCE
#include "aiotx.h"
#include "zerocopy_notes.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/errqueue.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
#define SINK_TCPOPT_MAXSEG 2
#define SINK_TCPOPT_WINDOW 3
/* Kernel 6.6+; older uapi headers lack the name. */
#define SINK_BPF_TCX_EGRESS 47
/* Window scales the repaired connection pretends were negotiated: 0xffff << 14 = 1 GiB. */
#define SND_WSCALE 14
#define RCV_WSCALE 7
#define MAX_ACKERS 16
#define MAX_SEND_MS (3600 * 1000)

/* ---- argument helpers local to this file ---- */

static bool get_string(napi_env env, napi_value v, const char *what, char *out, size_t cap) {
  size_t n;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, out, cap, &n) != napi_ok) return false;
  if (n + 1 >= cap) { /* would have been cut short */
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return false;
  }
  return true;
}

/* An integer in [min, max] (min >= 0): the same TypeError/RangeError as args.c gives. */
static bool get_bounded(napi_env env, napi_value v, const char *what, int64_t min, int64_t max, int64_t *out) {
  if (!ax_get_safe_int(env, v, what, out)) return false;
  if (*out < min || *out > max) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return false;
  }
  return true;
}

/* "a.b.c.d" -> address; false for anything else. */
static bool parse_ipv4(const char *text, struct in_addr *out) { return inet_pton(AF_INET, text, out) == 1; }

/* ---- the repaired socket ---- */

#define SET(fd, level, name, val) (setsockopt((fd), (level), (name), &(val), sizeof(val)) == 0)

/* Order matters (see the research notes): queue sequence numbers, then MSS and congestion control
 * before connect (the MSS in use is computed at connect, and BBR's pacing set at connect outlives a
 * later switch), then window options once connected, then repair off. */
static int repair_connect(int fd, struct sockaddr_in *local, struct sockaddr_in *remote, uint32_t isn, uint32_t peer_isn,
                          int mss) {
  int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF, one = 1;
  int sendq = TCP_SEND_QUEUE, recvq = TCP_RECV_QUEUE, noq = TCP_NO_QUEUE;
  static const char cubic[] = "cubic";
  if (!SET(fd, SOL_SOCKET, SO_REUSEADDR, one) || !SET(fd, IPPROTO_TCP, TCP_REPAIR, on) ||
      !SET(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, sendq) || !SET(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, isn) ||
      !SET(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, recvq) || !SET(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, peer_isn) ||
      !SET(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, noq) || !SET(fd, IPPROTO_TCP, TCP_MAXSEG, mss) ||
      setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cubic, sizeof cubic - 1) != 0)
    return -errno;
  if (bind(fd, (struct sockaddr *)local, sizeof *local) != 0) return -errno;
  if (connect(fd, (struct sockaddr *)remote, sizeof *remote) != 0) return -errno; /* repair: no SYN */
  struct tcp_repair_opt opts[2] = {
      {SINK_TCPOPT_MAXSEG, (uint32_t)mss},
      {SINK_TCPOPT_WINDOW, SND_WSCALE | (RCV_WSCALE << 16)},
  };
  struct tcp_repair_window w = {
      .snd_wl1 = peer_isn,
      .snd_wnd = 0xffffu << SND_WSCALE,
      .max_window = 0xffffu << SND_WSCALE,
      .rcv_wnd = 0xffffu << RCV_WSCALE,
      .rcv_wup = peer_isn,
  };
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, sizeof opts) != 0 || !SET(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, w) ||
      !SET(fd, IPPROTO_TCP, TCP_REPAIR, off) || !SET(fd, SOL_SOCKET, SO_ZEROCOPY, one))
    return -errno;
  return 0;
}

/* tcpSinkSocket(local, localPort, remote, remotePort, isn, peerIsn, mss) -> fd or -errno: a TCP
 * socket ESTABLISHED from local to remote without a packet exchanged, SO_ZEROCOPY on, blocking,
 * close-on-exec. Needs CAP_NET_ADMIN (TCP_REPAIR). */
static napi_value js_tcp_sink_socket(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  char local_s[64], remote_s[64];
  int64_t lport, rport, isn, peer_isn, mss;
  if (!ax_get_args(env, info, 7, argv) || !get_string(env, argv[0], "local must be a string", local_s, sizeof local_s) ||
      !get_bounded(env, argv[1], "localPort must be an integer from 1 to 65535", 1, 65535, &lport) ||
      !get_string(env, argv[2], "remote must be a string", remote_s, sizeof remote_s) ||
      !get_bounded(env, argv[3], "remotePort must be an integer from 1 to 65535", 1, 65535, &rport) ||
      !get_bounded(env, argv[4], "isn must be an integer from 0 to 2^32-1", 0, UINT32_MAX, &isn) ||
      !get_bounded(env, argv[5], "peerIsn must be an integer from 0 to 2^32-1", 0, UINT32_MAX, &peer_isn) ||
      !get_bounded(env, argv[6], "mss must be an integer from 536 to 32767", 536, 32767, &mss))
    return NULL;
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lport)};
  struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons((uint16_t)rport)};
  if (!parse_ipv4(local_s, &local.sin_addr) || !parse_ipv4(remote_s, &remote.sin_addr)) return ax_int(env, -EINVAL);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ax_int(env, -errno);
  int err = repair_connect(fd, &local, &remote, (uint32_t)isn, (uint32_t)peer_isn, (int)mss);
  if (err != 0) {
    close(fd);
    return ax_int(env, err);
  }
  return ax_int(env, fd);
}

/* tcpSinkQuiet(fd) -> 0 or -errno: back into repair mode, so closing the socket sends neither FIN
 * nor RST and leaves no orphan retransmitting into the veth. */
static napi_value js_tcp_sink_quiet(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, on = TCP_REPAIR_ON;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  return ax_int(env, SET(fd, IPPROTO_TCP, TCP_REPAIR, on) ? 0 : -errno);
}

/* The kernel's struct tcp_info up to tcpi_bytes_retrans (linux/tcp.h, ABI-stable: fields are only
 * ever appended); glibc's netinet/tcp.h stops before the byte counters, and the two headers cannot
 * both be included. */
struct kernel_tcp_info {
  uint8_t state, ca_state, retransmits, probes, backoff, options, wscale, app_limited;
  uint32_t rto, ato, snd_mss, rcv_mss, unacked, sacked, lost, retrans, fackets;
  uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
  uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering, rcv_rtt, rcv_space;
  uint32_t total_retrans;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  uint64_t delivery_rate, busy_time, rwnd_limited, sndbuf_limited;
  uint32_t delivered, delivered_ce;
  uint64_t bytes_sent, bytes_retrans;
};

/* tcpInfo(fd) -> { state, bytesSent, bytesAcked, bytesRetrans, totalRetrans, sndMss, sndCwnd,
 * unacked } or -errno: the kernel's own byte counters (bytes written = bytes ACKed proves nothing
 * was lost or re-sent on a rig with no receiver). */
static napi_value js_tcp_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int fd;
  struct kernel_tcp_info ti;
  socklen_t len = sizeof ti;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return ax_int(env, -errno);
  if (len < sizeof ti) return ax_int(env, -ENOPROTOOPT); /* kernel older than 4.19 */
  napi_create_object(env, &out);
  ax_set_int(env, out, "state", ti.state);
  ax_set_int(env, out, "bytesSent", (int64_t)ti.bytes_sent);
  ax_set_int(env, out, "bytesAcked", (int64_t)ti.bytes_acked);
  ax_set_int(env, out, "bytesRetrans", (int64_t)ti.bytes_retrans);
  ax_set_int(env, out, "totalRetrans", ti.total_retrans);
  ax_set_int(env, out, "sndMss", ti.snd_mss);
  ax_set_int(env, out, "sndCwnd", ti.snd_cwnd);
  ax_set_int(env, out, "unacked", ti.unacked);
  return out;
}

/* ---- the sequence tracker: eBPF on the veth's egress ---- */

/* The map's one value, shared with the program (offsets 0 and 8 are in the instructions). */
typedef struct {
  volatile uint32_t snd_nxt; /* highest seq + payload seen */
  uint32_t pad;
  volatile uint64_t packets; /* packets (GSO super-packets) with payload */
} tracker_value_t;

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

#define INSN(c, dst, src, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (dst), .src_reg = (src), .off = (o), .imm = (i)})
/* Jump offsets count instructions after the jump; OUT is the index of the final "r0 = -1". */
#define OUT 29
#define TO_OUT(at) (OUT - (at) - 1)

/* For an IPv4 TCP packet with payload (no IP options): end = seq + payload length; if end is past
 * the map's snd_nxt (serial arithmetic), store it; count the packet. Returns TCX_NEXT (-1), so the
 * clsact filter after it still steals the packet. Ctx offsets: __sk_buff len 0, data 76, data_end 80. */
static int tracker_program(int map_fd, struct bpf_insn *p) {
  int n = 0;
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);          /* 0: r6 = skb */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 6, 76, 0);           /* 1: r2 = data */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 3, 6, 80, 0);           /* 2: r3 = data_end */
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, 4, 2, 0, 0);          /* 3: r4 = data */
  p[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, 14 + 20 + 20); /* 4: r4 += eth + ip + tcp */
  p[n++] = INSN(BPF_JMP | BPF_JGT | BPF_X, 4, 3, TO_OUT(5), 0);    /* 5: headers past data_end: out */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 14 + 9, 0);       /* 6: r5 = ip protocol */
  p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, TO_OUT(7), IPPROTO_TCP);
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_B, 5, 2, 14, 0);           /* 8: r5 = version/ihl */
  p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, 5, 0, TO_OUT(9), 0x45);
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 7, 2, 14 + 20 + 4, 0);  /* 10: r7 = tcp seq (network order) */
  p[n++] = INSN(BPF_ALU | BPF_END | BPF_TO_BE, 7, 0, 0, 32);       /* 11: r7 = host order */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_B, 8, 2, 14 + 20 + 12, 0); /* 12: r8 = data offset byte */
  p[n++] = INSN(BPF_ALU64 | BPF_RSH | BPF_K, 8, 0, 0, 4);          /* 13 */
  p[n++] = INSN(BPF_ALU64 | BPF_LSH | BPF_K, 8, 0, 0, 2);          /* 14: r8 = tcp header bytes */
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 9, 6, 0, 0);            /* 15: r9 = skb->len */
  p[n++] = INSN(BPF_ALU64 | BPF_SUB | BPF_K, 9, 0, 0, 14 + 20);    /* 16 */
  p[n++] = INSN(BPF_ALU64 | BPF_SUB | BPF_X, 9, 8, 0, 0);          /* 17: r9 = payload bytes */
  p[n++] = INSN(BPF_JMP | BPF_JSLE | BPF_K, 9, 0, TO_OUT(18), 0);  /* 18: pure ACK/probe: out */
  p[n++] = INSN(BPF_ALU | BPF_ADD | BPF_X, 7, 9, 0, 0);            /* 19: w7 = end seq */
  p[n++] = INSN(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_VALUE, 0, map_fd); /* 20-21: r1 = &value */
  p[n++] = INSN(0, 0, 0, 0, 0);
  p[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0);            /* 22: r2 = snd_nxt */
  p[n++] = INSN(BPF_ALU | BPF_MOV | BPF_X, 3, 7, 0, 0);            /* 23: w3 = end */
  p[n++] = INSN(BPF_ALU | BPF_SUB | BPF_X, 3, 2, 0, 0);            /* 24: w3 = end - snd_nxt */
  p[n++] = INSN(BPF_JMP32 | BPF_JSLE | BPF_K, 3, 0, 1, 0);         /* 25: not newer: skip the store */
  p[n++] = INSN(BPF_STX | BPF_MEM | BPF_W, 1, 7, 0, 0);            /* 26: snd_nxt = end */
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 1);          /* 27 */
  p[n++] = INSN(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 8, BPF_ADD);  /* 28: packets += 1 */
  p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, -1);         /* 29 = OUT: r0 = TCX_NEXT */
  p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  return n;
}

typedef struct {
  int map_fd, link_fd;
  tracker_value_t *value;
} tracker_t;

static void tracker_close(tracker_t *t) {
  if (t->value != NULL && t->value != MAP_FAILED) munmap((void *)t->value, sizeof *t->value);
  if (t->link_fd >= 0) close(t->link_fd); /* detaches the program */
  if (t->map_fd >= 0) close(t->map_fd);
  t->value = NULL;
  t->link_fd = t->map_fd = -1;
}

static int tracker_open(tracker_t *t, unsigned ifindex, uint32_t isn) {
  union bpf_attr a;
  struct bpf_insn prog[32];
  t->map_fd = t->link_fd = -1;
  t->value = NULL;
  memset(&a, 0, sizeof a);
  a.map_type = BPF_MAP_TYPE_ARRAY;
  a.key_size = 4;
  a.value_size = sizeof(tracker_value_t);
  a.max_entries = 1;
  a.map_flags = BPF_F_MMAPABLE;
  t->map_fd = (int)sys_bpf(BPF_MAP_CREATE, &a);
  if (t->map_fd < 0) return -errno;
  t->value = mmap(NULL, sizeof *t->value, PROT_READ | PROT_WRITE, MAP_SHARED, t->map_fd, 0);
  if (t->value == MAP_FAILED) {
    int err = -errno;
    tracker_close(t);
    return err;
  }
  t->value->snd_nxt = isn;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
  a.insns = (uintptr_t)prog;
  a.insn_cnt = (uint32_t)tracker_program(t->map_fd, prog);
  a.license = (uintptr_t) "GPL";
  /* The verifier gives up with EAGAIN when a signal is pending (bpf(2); the bench's parent gets
   * SIGCHLD from every sender it reaps): the man page says to call again, as libbpf does. */
  int prog_fd = -1;
  for (int attempt = 0; attempt < 5 && prog_fd < 0; attempt++) {
    prog_fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
    if (prog_fd < 0 && errno != EAGAIN) break;
  }
  if (prog_fd < 0) {
    int err = -errno;
    tracker_close(t);
    return err;
  }
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = (uint32_t)prog_fd;
  a.link_create.target_ifindex = ifindex;
  a.link_create.attach_type = SINK_BPF_TCX_EGRESS;
  t->link_fd = (int)sys_bpf(BPF_LINK_CREATE, &a);
  int err = t->link_fd < 0 ? -errno : 0;
  close(prog_fd); /* the link holds the program */
  if (err != 0) tracker_close(t);
  return err;
}

/* ---- the ACK injector ---- */

typedef struct __attribute__((packed)) {
  struct iphdr ip;
  struct tcphdr_ {
    uint16_t source, dest;
    uint32_t seq, ack_seq;
    uint8_t doff_res, flags;
    uint16_t window, check, urg_ptr;
  } tcp;
} ack_packet_t;

typedef struct {
  tracker_t tracker;
  int raw_fd;
  struct sockaddr_in dst;
  ack_packet_t packet;
  uint32_t pseudo_sum; /* pseudo header + the fields that never change */
  uint32_t last_ack;
  uint32_t ack_bytes;
  uint64_t hold_ns, poll_ns;
  int cpu;
  atomic_bool stop;
  atomic_uint_fast64_t acks;
  pthread_t thread;
  napi_env env;
} acker_t;

static acker_t *ackers[MAX_ACKERS];
static pthread_mutex_t ackers_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t sum16(const void *p, size_t n, uint32_t s) {
  const uint16_t *w = p;
  for (size_t i = 0; i < n / 2; i++) s += w[i];
  return s;
}

static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void send_ack(acker_t *a, uint32_t ack) {
  a->packet.tcp.ack_seq = htonl(ack);
  a->packet.tcp.check = 0;
  a->packet.tcp.check = fold(sum16(&a->packet.tcp, sizeof a->packet.tcp, a->pseudo_sum));
  /* The kernel fills the IP id and checksum (IPPROTO_RAW implies IP_HDRINCL). A lost ACK is
   * covered by the next one. */
  if (sendto(a->raw_fd, &a->packet, sizeof a->packet, 0, (struct sockaddr *)&a->dst, sizeof a->dst) == sizeof a->packet) {
    a->last_ack = ack;
    atomic_fetch_add_explicit(&a->acks, 1, memory_order_relaxed);
  }
}

/* ACK once ack_bytes are unacknowledged, or once data has waited hold_ns; between looks, sleep
 * poll_ns (0: spin), so the thread does not take a whole core on a shared machine. */
static void *acker_main(void *arg) {
  acker_t *a = arg;
  uint64_t pending_since = 0;
  struct timespec nap = {.tv_sec = 0, .tv_nsec = (long)a->poll_ns};
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* default slack is 50 µs, longer than the hold */
  while (!atomic_load_explicit(&a->stop, memory_order_relaxed)) {
    uint32_t nxt = a->tracker.value->snd_nxt;
    int32_t pending = (int32_t)(nxt - a->last_ack);
    if (pending > 0) {
      uint64_t t = now_ns();
      if (pending_since == 0) pending_since = t;
      if ((uint32_t)pending >= a->ack_bytes || t - pending_since >= a->hold_ns) {
        send_ack(a, nxt);
        pending_since = 0;
        continue;
      }
    }
    if (a->poll_ns > 0) nanosleep(&nap, NULL);
    else sched_yield();
  }
  return NULL;
}

static void acker_free(acker_t *a) {
  if (a->raw_fd >= 0) close(a->raw_fd);
  tracker_close(&a->tracker);
  free(a);
}

static void acker_stop(acker_t *a) {
  atomic_store(&a->stop, true);
  pthread_join(a->thread, NULL);
}

/* Environment teardown (worker exit, process exit) with the acker still running. */
static void acker_cleanup_hook(void *arg) {
  acker_t *a = arg;
  pthread_mutex_lock(&ackers_lock);
  for (int i = 0; i < MAX_ACKERS; i++)
    if (ackers[i] == a) ackers[i] = NULL;
  pthread_mutex_unlock(&ackers_lock);
  acker_stop(a);
  acker_free(a);
}

static void acker_init_packet(acker_t *a, struct in_addr local, uint16_t lport, struct in_addr remote, uint16_t rport,
                              uint32_t peer_isn) {
  ack_packet_t *p = &a->packet;
  memset(p, 0, sizeof *p);
  p->ip.version = 4;
  p->ip.ihl = 5;
  p->ip.ttl = 64;
  p->ip.protocol = IPPROTO_TCP;
  p->ip.tot_len = htons(sizeof *p);
  p->ip.frag_off = htons(IP_DF);
  p->ip.saddr = remote.s_addr; /* from the peer that does not exist */
  p->ip.daddr = local.s_addr;
  p->tcp.source = htons(rport);
  p->tcp.dest = htons(lport);
  p->tcp.seq = htonl(peer_isn);
  p->tcp.doff_res = 5 << 4;
  p->tcp.flags = 0x10; /* ACK */
  p->tcp.window = htons(0xffff);
  uint32_t s = sum16(&p->ip.saddr, 4, 0);
  s = sum16(&p->ip.daddr, 4, s);
  s += htons(IPPROTO_TCP) + htons(sizeof p->tcp);
  a->pseudo_sum = s;
  a->dst.sin_family = AF_INET;
  a->dst.sin_addr = local;
}

/* tcpAckerStart(ifname, local, localPort, remote, remotePort, isn, peerIsn, ackBytes, holdMicros,
 * pollMicros, cpu) -> handle or -errno. Attaches the tracker to ifname's egress and starts the
 * thread (pinned to cpu) that ACKs the connection local:localPort -> remote:remotePort whose
 * data starts at isn. Needs CAP_BPF/CAP_NET_ADMIN and CAP_NET_RAW. */
static napi_value js_tcp_acker_start(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  char ifname[IF_NAMESIZE + 8], local_s[64], remote_s[64];
  int64_t lport, rport, isn, peer_isn, ack_bytes, hold_us, poll_us, cpu;
  struct in_addr local, remote;
  if (!ax_get_args(env, info, 11, argv) || !get_string(env, argv[0], "ifname must be a string", ifname, sizeof ifname) ||
      !get_string(env, argv[1], "local must be a string", local_s, sizeof local_s) ||
      !get_bounded(env, argv[2], "localPort must be an integer from 1 to 65535", 1, 65535, &lport) ||
      !get_string(env, argv[3], "remote must be a string", remote_s, sizeof remote_s) ||
      !get_bounded(env, argv[4], "remotePort must be an integer from 1 to 65535", 1, 65535, &rport) ||
      !get_bounded(env, argv[5], "isn must be an integer from 0 to 2^32-1", 0, UINT32_MAX, &isn) ||
      !get_bounded(env, argv[6], "peerIsn must be an integer from 0 to 2^32-1", 0, UINT32_MAX, &peer_isn) ||
      !get_bounded(env, argv[7], "ackBytes must be an integer from 1 to 2^30", 1, 1 << 30, &ack_bytes) ||
      !get_bounded(env, argv[8], "holdMicros must be an integer from 0 to 1000000", 0, 1000000, &hold_us) ||
      !get_bounded(env, argv[9], "pollMicros must be an integer from 0 to 1000000", 0, 1000000, &poll_us) ||
      !get_bounded(env, argv[10], "cpu must be an integer from 0 to 1023", 0, CPU_SETSIZE - 1, &cpu))
    return NULL;
  if (!parse_ipv4(local_s, &local) || !parse_ipv4(remote_s, &remote)) return ax_int(env, -EINVAL);
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return ax_int(env, -ENODEV);
  acker_t *a = calloc(1, sizeof *a);
  if (a == NULL) return ax_int(env, -ENOMEM);
  a->raw_fd = -1;
  int err = tracker_open(&a->tracker, ifindex, (uint32_t)isn);
  if (err != 0) {
    free(a);
    return ax_int(env, err);
  }
  a->raw_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  if (a->raw_fd < 0) {
    err = -errno;
    acker_free(a);
    return ax_int(env, err);
  }
  acker_init_packet(a, local, (uint16_t)lport, remote, (uint16_t)rport, (uint32_t)peer_isn);
  a->last_ack = (uint32_t)isn;
  a->ack_bytes = (uint32_t)ack_bytes;
  a->hold_ns = (uint64_t)hold_us * 1000;
  a->poll_ns = (uint64_t)poll_us * 1000;
  a->cpu = (int)cpu;
  a->env = env;
  pthread_attr_t attr;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(a->cpu, &set);
  pthread_attr_init(&attr);
  pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  err = pthread_create(&a->thread, &attr, acker_main, a);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    acker_free(a);
    return ax_int(env, -err);
  }
  /* Published only when complete, so a handle never names a half-built acker. */
  int slot = -1;
  pthread_mutex_lock(&ackers_lock);
  for (int i = 0; i < MAX_ACKERS && slot < 0; i++)
    if (ackers[i] == NULL) slot = i;
  if (slot >= 0) ackers[slot] = a;
  pthread_mutex_unlock(&ackers_lock);
  if (slot < 0) {
    acker_stop(a);
    acker_free(a);
    return ax_int(env, -EMFILE);
  }
  napi_add_env_cleanup_hook(env, acker_cleanup_hook, a);
  return ax_int(env, slot);
}

static acker_t *acker_of(napi_env env, napi_value v, int *slot) {
  int64_t h;
  if (!get_bounded(env, v, "handle must be an integer from 0 to 15", 0, MAX_ACKERS - 1, &h)) return NULL;
  *slot = (int)h;
  pthread_mutex_lock(&ackers_lock);
  acker_t *a = ackers[h];
  pthread_mutex_unlock(&ackers_lock);
  return a != NULL && a->env == env ? a : NULL;
}

static napi_value counters(napi_env env, acker_t *a) {
  napi_value out;
  napi_create_object(env, &out);
  ax_set_int(env, out, "acks", (int64_t)atomic_load(&a->acks));
  ax_set_int(env, out, "packets", (int64_t)a->tracker.value->packets);
  ax_set_int(env, out, "highestSeq", a->tracker.value->snd_nxt);
  return out;
}

/* tcpAckerCounters(handle) -> { acks, packets, highestSeq } or -EBADF for no such acker. */
static napi_value js_tcp_acker_counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int slot;
  bool ok = ax_get_args(env, info, 1, argv);
  acker_t *a = ok ? acker_of(env, argv[0], &slot) : NULL;
  if (a == NULL) {
    bool pending;
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : ax_int(env, -EBADF);
  }
  return counters(env, a);
}

/* tcpAckerStop(handle) -> the final counters, or -EBADF: stops the thread, detaches the tracker. */
static napi_value js_tcp_acker_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int slot;
  bool ok = ax_get_args(env, info, 1, argv);
  acker_t *a = ok ? acker_of(env, argv[0], &slot) : NULL;
  if (a == NULL) {
    bool pending;
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : ax_int(env, -EBADF);
  }
  pthread_mutex_lock(&ackers_lock);
  ackers[slot] = NULL;
  pthread_mutex_unlock(&ackers_lock);
  napi_remove_env_cleanup_hook(env, acker_cleanup_hook, a);
  acker_stop(a);
  napi_value out = counters(env, a);
  acker_free(a);
  return out;
}

/* ---- the C send loop over the rig ---- */

typedef struct {
  double bytes, sends, zero_copy_sends, copied_sends, enobufs;
  uint32_t issued, completed;
} loop_stats_t;

/* Reads every zero-copy completion queued on fd, the way aiotx's drainZerocopy does. */
static int drain_completions(int fd, loop_stats_t *s) {
  bool more = true;
  while (more) {
    ax_zc_note_t notes[AX_ZC_BATCH];
    int n = ax_read_zerocopy_notes(fd, notes, AX_ZC_BATCH, &more);
    if (n < 0) return n == -EAGAIN ? 0 : n;
    for (int i = 0; i < n; i++) {
      if (notes[i].err != 0) return -notes[i].err;
      uint32_t sends = notes[i].hi - notes[i].lo + 1;
      s->completed += sends;
      if (notes[i].copied) s->copied_sends += sends;
      else s->zero_copy_sends += sends;
    }
  }
  return 0;
}

static double now_ms(void) { return (double)now_ns() / 1e6; }

/* sinkReferenceSend(fd, data, size, durationMs, zeroCopy, segment) -> Float64Array [bytes, sends,
 * zeroCopySends, copiedSends, enobufs] or -errno. On a TCP socket (segment 0), or a connected UDP
 * socket with segment > 0 (UDP_SEGMENT for the loop, cleared after: GSO datagrams of `size`
 * bytes, as the UDP sink rig sends them), send(2)s `size` bytes at a time from data's
 * consecutive size-byte slots, wrapping at the end (data larger than the caches: cold), for
 * durationMs, blocking this thread. With zeroCopy, MSG_ZEROCOPY, and it waits (up to 2 s) for
 * every completion so the counts are whole. Nothing rewrites data, so re-sending a slot still in
 * flight is harmless here. */
static napi_value js_sink_reference_send(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int fd;
  uint8_t *data;
  size_t len;
  bool detached, zero_copy;
  int64_t size, duration, segment;
  if (!ax_get_args(env, info, 6, argv) || !ax_get_fd(env, argv[0], &fd) || !ax_get_bytes(env, argv[1], &data, &len, &detached) ||
      !get_bounded(env, argv[2], "size must be an integer from 1 to 2^30", 1, 1 << 30, &size) ||
      !get_bounded(env, argv[3], "durationMs must be an integer from 0 to one hour", 0, MAX_SEND_MS, &duration) ||
      !ax_get_bool(env, argv[4], "zeroCopy must be a boolean", &zero_copy) ||
      !get_bounded(env, argv[5], "segment must be an integer from 0 to 65507", 0, 65507, &segment))
    return NULL;
  if (detached || len < (size_t)size) return ax_int(env, -EFAULT);
  int type;
  socklen_t tl = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) return ax_int(env, -errno);
  if (type != (segment > 0 ? SOCK_DGRAM : SOCK_STREAM)) return ax_int(env, -EPROTOTYPE);
  if (zero_copy) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0) return ax_int(env, -errno);
  }
  int gso = (int)segment;
  if (gso > 0 && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &gso, sizeof gso) != 0) return ax_int(env, -errno);
  const size_t slots = len / (size_t)size;
  const int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (zero_copy ? MSG_ZEROCOPY : 0);
  loop_stats_t s = {0};
  size_t slot = 0;
  int failure = 0;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  const double deadline = now_ms() + (double)duration;
  while (failure == 0 && now_ms() < deadline) {
    ssize_t n = send(fd, data + slot * (size_t)size, (size_t)size, flags);
    if (n > 0) {
      s.bytes += (double)n;
      s.sends++;
      if (zero_copy) s.issued++;
      if (++slot == slots) slot = 0;
    } else if (n < 0 && errno == ENOBUFS && zero_copy) {
      /* optmem full of pending notifications: wait for completions to free it */
      s.enobufs++;
      p.events = 0;
      poll(&p, 1, 10);
    } else if (n < 0 && errno == EAGAIN) {
      p.events = POLLOUT;
      poll(&p, 1, 50);
    } else if (n < 0 && errno != EINTR) {
      failure = -errno;
    }
    if (zero_copy && failure == 0) failure = drain_completions(fd, &s);
  }
  const double give_up = now_ms() + 2000;
  while (failure == 0 && zero_copy && s.completed != s.issued && now_ms() < give_up) {
    p.events = 0;
    poll(&p, 1, 10);
    failure = drain_completions(fd, &s);
  }
  if (gso > 0) {
    int off = 0;
    setsockopt(fd, SOL_UDP, UDP_SEGMENT, &off, sizeof off);
  }
  if (failure != 0) return ax_int(env, failure);
  napi_value ab, out;
  void *mem;
  const double figures[5] = {s.bytes, s.sends, s.zero_copy_sends, s.copied_sends, s.enobufs};
  napi_create_arraybuffer(env, sizeof figures, &mem, &ab);
  memcpy(mem, figures, sizeof figures);
  napi_create_typedarray(env, napi_float64_array, 5, ab, 0, &out);
  return out;
}

void ax_init_tcp_sink(napi_env env, napi_value exports) {
  ax_export(env, exports, "tcpSinkSocket", js_tcp_sink_socket);
  ax_export(env, exports, "tcpSinkQuiet", js_tcp_sink_quiet);
  ax_export(env, exports, "tcpInfo", js_tcp_info);
  ax_export(env, exports, "tcpAckerStart", js_tcp_acker_start);
  ax_export(env, exports, "tcpAckerCounters", js_tcp_acker_counters);
  ax_export(env, exports, "tcpAckerStop", js_tcp_acker_stop);
  ax_export(env, exports, "sinkReferenceSend", js_sink_reference_send);
}
