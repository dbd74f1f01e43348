/* MSG_ZEROCOPY notifications read from a socket's error queue, for the library (drainZerocopy)
 * and the bench's C floor alike, so the floor does the same work per drain as aiotx. */
#ifndef AIOTX_ZEROCOPY_NOTES_H
#define AIOTX_ZEROCOPY_NOTES_H
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Messages per call: the kernel merges consecutive notifications, so one is the common case. */
#define AX_ZC_BATCH 16

/* One notification: sends [lo, hi] released; copied: the kernel copied them after all; err: the
 * ee_errno of a failed zero-copy send (0 when it succeeded). */
typedef struct {
  uint32_t lo, hi;
  bool copied;
  int err;
} ax_zc_note_t;

/* One recvmmsg(MSG_ERRQUEUE | MSG_DONTWAIT) of up to `max` (at most AX_ZC_BATCH) messages: it
 * takes what is queued and learns the queue is empty in the same call, where recvmsg needs a
 * second call that fails with EAGAIN. Writes the zero-copy notifications among them (at most one
 * per message) to out; returns how many, or -errno (-EAGAIN: nothing queued). *more: every
 * message asked for came, so more may be queued. */
static inline int ax_read_zerocopy_notes(int fd, ax_zc_note_t *out, unsigned max, bool *more) {
  char control[AX_ZC_BATCH][128];
  struct mmsghdr msgs[AX_ZC_BATCH];
  if (max > AX_ZC_BATCH) max = AX_ZC_BATCH;
  memset(msgs, 0, max * sizeof msgs[0]);
  for (unsigned i = 0; i < max; i++) {
    msgs[i].msg_hdr.msg_control = control[i];
    msgs[i].msg_hdr.msg_controllen = sizeof control[i];
  }
  int got;
  do got = recvmmsg(fd, msgs, max, MSG_ERRQUEUE | MSG_DONTWAIT, NULL);
  while (got < 0 && errno == EINTR);
  *more = got == (int)max;
  if (got < 0) return -errno;
  int n = 0;
  for (int m = 0; m < got; m++) {
    struct msghdr *msg = &msgs[m].msg_hdr;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
      if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
            (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
        continue;
      struct sock_extended_err ee;
      memcpy(&ee, CMSG_DATA(cm), sizeof ee);
      if (ee.ee_origin != SO_EE_ORIGIN_ZEROCOPY) continue;
      out[n++] = (ax_zc_note_t){
          .lo = ee.ee_info, .hi = ee.ee_data, .copied = (ee.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) != 0, .err = (int)ee.ee_errno};
      break;
    }
  }
  return n;
}

#endif
