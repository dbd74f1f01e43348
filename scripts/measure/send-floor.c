/* send-floor: how fast a plain C loop sends a TCP stream over loopback to a forked reader that
 * drops the bytes with recv(MSG_TRUNC) (as `aiotx serve` does), by how it waits for the socket:
 *   0 poll() before every send (the old bench `reference`)
 *   1 non-blocking send() until EAGAIN, poll() only then (the bench `reference` now)
 *   2 blocking send() (netperf's and iperf3's way)
 * SPIN_US (optional) burns that many µs of user CPU after each whole write, as a runtime's
 * per-write work would: it shows how little userland per write moves loopback's kernel cost
 * (a sender slower than the reader wakes the sleeping reader on every segment).
 * Prints Gbit/s, the sender's CPU s/GB (getrusage) and its system µs per write. Run it beside
 * iperf3 in one session to compare. Build: gcc -O2 -Wall -o send-floor send-floor.c
 * Usage: send-floor MODE WRITE_BYTES SECONDS [SPIN_US] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double sys_cpu(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6; }
static double cpu(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6; }
static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) { fprintf(stderr, "usage: send-floor MODE WRITE_BYTES SECONDS [SPIN_US]\n"); return 2; }
  int mode = atoi(argv[1]); size_t len = (size_t)atol(argv[2]); double secs = atof(argv[3]);
  double spin = argc == 5 ? atof(argv[4]) / 1e6 : 0;
  int l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(l, (void *)&a, sizeof a); listen(l, 1); socklen_t al = sizeof a; getsockname(l, (void *)&a, &al);
  pid_t child = fork();
  if (child == 0) { int c = socket(AF_INET, SOCK_STREAM, 0); connect(c, (void *)&a, sizeof a); while (recv(c, NULL, 1 << 30, MSG_TRUNC) > 0) {} _exit(0); }
  int s = accept(l, NULL, NULL);
  if (mode != 2) fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
  char *buf = malloc(len); memset(buf, 0x5a, len);
  struct pollfd p = {.fd = s, .events = POLLOUT};
  double sent = 0, c0 = cpu(), s0 = sys_cpu(), w0 = wall(), end = w0 + secs;
  while (wall() < end) {
    if (mode == 0 && poll(&p, 1, 50) <= 0) continue;
    size_t off = (size_t)((unsigned long long)sent % len);
    ssize_t n = send(s, buf + off, len - off, MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
      if (spin > 0 && (size_t)n == len - off) for (double t = wall() + spin; wall() < t;) {}
    }
    else if (errno == EAGAIN) poll(&p, 1, 50);
    else if (errno != EINTR) { perror("send"); return 2; }
  }
  double w = wall() - w0, c = cpu() - c0, sc = sys_cpu() - s0;
  shutdown(s, SHUT_WR); waitpid(child, NULL, 0);
  printf("mode %d size %zu spin %.1f us: %.1f Gbit/s, sender %.3f s CPU/GB, %.2f us system per write\n", mode, len, spin * 1e6,
         sent * 8 / w / 1e9, c / (sent / 1e9), sc * 1e6 / (sent / len));
  return 0;
}
