/* Runs a program with io_uring forbidden the way Docker's default seccomp profile forbids it:
 * io_uring_setup, io_uring_enter and io_uring_register (425-427, the same numbers on x86-64 and
 * aarch64) fail with EPERM; everything else is allowed. The filter is inherited across exec and
 * by every thread, so it changes nothing outside the launched process tree.
 * Usage: no-uring PROGRAM [ARG...] */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "no-uring: only x86-64 and aarch64 are known"
#endif

#define X32_SYSCALL_BIT 0x40000000u

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: no-uring PROGRAM [ARG...]\n");
    return 2;
  }
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 1, 0),
      /* Another ABI would number syscalls differently: refuse it outright. */
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      /* x32 calls carry a high bit on x86-64; no aarch64 syscall is that high. */
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~X32_SYSCALL_BIT),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 425, 0, 2),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 427, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "no-uring: cannot install the seccomp filter: %s\n", strerror(errno));
    return 125;
  }
  /* Proof the filter holds before handing over: io_uring_setup must fail with EPERM. */
  if (syscall(425, 1, NULL) != -1 || errno != EPERM) {
    fprintf(stderr, "no-uring: io_uring_setup was not refused with EPERM\n");
    return 125;
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "no-uring: exec %s: %s\n", argv[1], strerror(errno));
  return 127;
}
