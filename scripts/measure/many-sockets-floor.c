/* many-sockets-floor: the C floor beside scripts/measure/many-sockets.mjs: N connected UDP sockets
 * to the sink rig, each with UDP_SEGMENT, sent to round-robin (socket 0, 1, ... N-1, 0, ...) with
 * plain send(2) of 65000-byte GSO datagrams from the same cold 64 MiB set of 1024 buffers. What the
 * kernel alone costs when one thread spreads its sends over N sockets instead of one. With EPOLL=1
 * every socket is also registered edge-triggered in an epoll instance (never waited on), the way
 * aiotx's poller holds them: each freed skb then wakes that epoll entry (sock_def_write_space).
 * Prints one JSON line: bytes, wall and CPU seconds (user, system).
 * Build: gcc -O2 -Wall -o many-sockets-floor many-sockets-floor.c
 * Usage: many-sockets-floor N LOCAL_ADDR SINK_ADDR PORT SECONDS EPOLL */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define BUFFERS 1024
#define BUFFER_BYTES 65536
#define DATAGRAM 65000
#define SEGMENT 1472
static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void cpu(double *user, double *sys) {
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  *user = u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6; *sys = u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}
int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: many-sockets-floor N LOCAL_ADDR SINK_ADDR PORT SECONDS EPOLL\n"); return 2; }
  int n = atoi(argv[1]); double secs = atof(argv[5]); int use_epoll = atoi(argv[6]);
  struct sockaddr_in local = {.sin_family = AF_INET}, sink = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[4]))};
  if (n < 1 || inet_pton(AF_INET, argv[2], &local.sin_addr) != 1 || inet_pton(AF_INET, argv[3], &sink.sin_addr) != 1) { fprintf(stderr, "bad arguments\n"); return 2; }
  int ep = use_epoll ? epoll_create1(0) : -1;
  int *fds = calloc(n, sizeof *fds); int seg = SEGMENT;
  for (int i = 0; i < n; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fds[i] < 0 || bind(fds[i], (void *)&local, sizeof local) || connect(fds[i], (void *)&sink, sizeof sink) ||
        setsockopt(fds[i], IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg)) { perror("socket"); return 2; }
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET, .data.fd = fds[i]};
    if (ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev)) { perror("epoll_ctl"); return 2; }
  }
  char *region = malloc((size_t)BUFFERS * BUFFER_BYTES);
  for (size_t i = 0; i < (size_t)BUFFERS * BUFFER_BYTES; i++) region[i] = (char)(i * 2654435761u >> 24);
  double sent = 0, u0, s0, u1, s1; unsigned long k = 0;
  cpu(&u0, &s0);
  double w0 = wall(), end = w0 + secs;
  while (wall() < end) {
    for (int j = 0; j < 64; j++, k++) {
      ssize_t r = send(fds[k % n], region + (k % BUFFERS) * BUFFER_BYTES, DATAGRAM, 0);
      if (r > 0) sent += r;
      else if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) { perror("send"); return 2; }
    }
  }
  double w = wall() - w0;
  cpu(&u1, &s1);
  printf("{\"bytes\":%.0f,\"wallSeconds\":%.6f,\"userSeconds\":%.6f,\"systemSeconds\":%.6f}\n", sent, w, u1 - u0, s1 - s0);
  return 0;
}
