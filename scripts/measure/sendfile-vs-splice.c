/* sendfile-vs-splice: sender CPU per GB of sendfile(2) vs splice(2) file -> pipe (sized to the
 * chunk) -> socket, over loopback TCP to a forked reader (path overhead, not a NIC). Loops over
 * the file (keep it in the page cache) until TOTAL_GB were sent.
 * Build: gcc -O2 -Wall -o sendfile-vs-splice sendfile-vs-splice.c
 * Usage: sendfile-vs-splice FILE MODE(0 sendfile, 1 splice) CHUNK_BYTES TOTAL_GB */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double cpu(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6; }
static double wall(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: sendfile-vs-splice FILE MODE CHUNK_BYTES TOTAL_GB\n"); return 2; }
  const char *path = argv[1]; int mode = atoi(argv[2]); size_t chunk = (size_t)atol(argv[3]); double total = atof(argv[4]) * 1e9;
  int l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(l, (void *)&a, sizeof a); listen(l, 1); socklen_t al = sizeof a; getsockname(l, (void *)&a, &al);
  pid_t child = fork();
  if (child == 0) { int c = socket(AF_INET, SOCK_STREAM, 0); connect(c, (void *)&a, sizeof a); char *b = malloc(1 << 20); while (read(c, b, 1 << 20) > 0) {} _exit(0); }
  int s = accept(l, NULL, NULL); int f = open(path, O_RDONLY); off_t size = lseek(f, 0, SEEK_END);
  int p[2]; if (pipe(p)) return 2; fcntl(p[1], F_SETPIPE_SZ, (int)chunk);
  double sent = 0, c0 = cpu(), w0 = wall(); off_t off = 0;
  while (sent < total) {
    if (off >= size) off = 0;
    size_t want = chunk; if ((off_t)want > size - off) want = size - off;
    ssize_t n;
    if (mode == 0) { n = sendfile(s, f, &off, want); if (n <= 0) { perror("sendfile"); return 2; } }
    else {
      loff_t o = off; ssize_t in = splice(f, &o, p[1], NULL, want, SPLICE_F_MOVE); if (in <= 0) { perror("splice in"); return 2; }
      n = 0; while (n < in) { ssize_t m = splice(p[0], NULL, s, NULL, in - n, SPLICE_F_MOVE | SPLICE_F_MORE); if (m <= 0) { perror("splice out"); return 2; } n += m; }
      off += n;
    }
    sent += n;
  }
  double c = cpu() - c0, w = wall() - w0;
  printf("%-8s chunk %zu KiB: %.1f Gbit/s  sender %.4f CPU s/GB\n", mode ? "splice" : "sendfile", chunk >> 10, sent * 8 / w / 1e9, c / (sent / 1e9));
  shutdown(s, SHUT_WR); close(s); waitpid(child, NULL, 0); return 0;
}
