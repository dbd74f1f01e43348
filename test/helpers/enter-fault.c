/* enter-fault ERRNO MODE -- COMMAND...: runs COMMAND with io_uring_enter(2) calls that submit
 * entries (to_submit > 0) failing with ERRNO, decided per call by this process through a
 * seccomp user-notification filter; every other syscall, and every other io_uring_enter, runs.
 * MODE: "once" fails the first such call only; "until-usr1" fails them all until this process
 * gets SIGUSR1 (the command sends it: it is the command's parent). One byte is written to the
 * command's fd 3 per failed call, so the command can wait until a failure happened.
 * Exits with the command's status. Only the command's process tree is affected. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t released;
static void on_usr1(int sig) { (void)sig; released = 1; }

static int send_fd(int sock, int fd) {
  char byte = 0, ctrl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
  char byte, ctrl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl};
  if (recvmsg(sock, &msg, 0) != 1) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  int fd = -1;
  if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) {
    fprintf(stderr, "usage: enter-fault ERRNO once|until-usr1 -- COMMAND...\n");
    return 2;
  }
  int err = atoi(argv[1]);
  int once = strcmp(argv[2], "once") == 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1; /* no SA_RESTART: poll() below returns EINTR */
  sigaction(SIGUSR1, &sa, NULL);
  int sp[2], report[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || pipe(report) < 0) return perror("setup"), 1;
  pid_t pid = fork();
  if (pid < 0) return perror("fork"), 1;
  if (pid == 0) {
    close(sp[0]);
    close(report[1]);
    if (report[0] != 3) {
      dup2(report[0], 3);
      close(report[0]);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return perror("no_new_privs"), 1;
    int listener = (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
    if (listener < 0) return perror("seccomp"), 1;
    if (send_fd(sp[1], listener) < 0) return perror("send listener"), 1;
    close(listener);
    close(sp[1]);
    execvp(argv[4], argv + 4);
    perror("exec");
    _exit(127);
  }
  close(sp[1]);
  close(report[0]);
  int listener = recv_fd(sp[0]);
  close(sp[0]);
  if (listener < 0) return fprintf(stderr, "enter-fault: no listener\n"), 1;
  int failed = 0, status = 0;
  struct seccomp_notif_sizes sizes;
  if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return perror("sizes"), 1;
  struct seccomp_notif *req = calloc(1, sizes.seccomp_notif);
  struct seccomp_notif_resp *resp = calloc(1, sizes.seccomp_notif_resp);
  for (;;) {
    struct pollfd p = {.fd = listener, .events = POLLIN};
    int n = poll(&p, 1, 1000);
    if (n < 0 && errno != EINTR) break;
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    if (n <= 0) continue;
    if (p.revents & (POLLHUP | POLLERR)) {
      waitpid(pid, &status, 0);
      break;
    }
    memset(req, 0, sizes.seccomp_notif);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) continue; /* the caller was interrupted */
    memset(resp, 0, sizes.seccomp_notif_resp);
    resp->id = req->id;
    bool fail = req->data.args[1] > 0 && !released && !(once && failed > 0);
    if (fail) {
      resp->error = -err;
      failed++;
      char byte = 1;
      if (write(report[1], &byte, 1) < 0) { /* the command closed fd 3: it does not listen */ }
    } else {
      resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    }
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp); /* ENOENT: the caller went away */
  }
  fprintf(stderr, "enter-fault: %d io_uring_enter calls failed with errno %d\n", failed, err);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
