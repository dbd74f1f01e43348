/* Socket syscalls: send (copying or MSG_ZEROCOPY), sendfile, error-queue draining, socket facts.
 * Every call returns a byte count or -errno; the engine turns errnos into rejections. */
#define _GNU_SOURCE
#include "aiotx.h"
#include "zerocopy_notes.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#include <stdio.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

/* send(fd, data, offset, length, zerocopy) -> bytes accepted or -errno. Never blocks, never SIGPIPE. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int fd;
  int64_t offset, length;
  bool zerocopy, detached;
  uint8_t *data;
  size_t len;
  if (!ax_get_args(env, info, 5, argv) || !ax_get_fd(env, argv[0], &fd) ||
      !ax_get_bytes(env, argv[1], &data, &len, &detached) ||
      !ax_get_safe_int(env, argv[2], "offset must be a non-negative integer", &offset) ||
      !ax_get_safe_int(env, argv[3], "length must be a non-negative integer", &length) ||
      !ax_get_bool(env, argv[4], "zerocopy must be a boolean", &zerocopy))
    return NULL;
  /* A buffer detached or shrunk since the job began: refuse rather than read freed memory. */
  if (detached || (uint64_t)offset > len || (uint64_t)length > len - (size_t)offset) return ax_int(env, -EFAULT);
  if (length == 0) return ax_int(env, 0);
  int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (zerocopy ? MSG_ZEROCOPY : 0);
  ssize_t n;
  do n = send(fd, data + offset, (size_t)length, flags);
  while (n < 0 && errno == EINTR);
  return ax_int(env, n < 0 ? -errno : n);
}

/* sendGathered(fd, views, spans, count) -> bytes accepted or -errno: one sendmsg(2) of views[i]'s
 * bytes spans[2i] .. spans[2i] + spans[2i+1], in order (queued copy jobs of one stream socket).
 * A view that is detached or shorter than its span ends the gather before it: the engine meets
 * it again on its own send. -EFAULT when that is the first one. Never blocks, never SIGPIPE. */
#define GATHER_MAX 64
static napi_value js_send_gathered(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  int64_t count;
  bool is;
  if (!ax_get_args(env, info, 4, argv) || !ax_get_fd(env, argv[0], &fd) ||
      !ax_get_safe_int(env, argv[3], "count must be a non-negative integer", &count))
    return NULL;
  uint32_t views_len = 0;
  if (napi_is_array(env, argv[1], &is) != napi_ok || !is) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "views must be an Array");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &views_len);
  napi_typedarray_type type;
  size_t spans_len = 0;
  void *base = NULL;
  if (napi_is_typedarray(env, argv[2], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[2], &type, &spans_len, &base, NULL, NULL) != napi_ok ||
      type != napi_float64_array || (base == NULL && count > 0)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spans must be a Float64Array");
    return NULL;
  }
  if (count > GATHER_MAX || (uint64_t)count > views_len || (uint64_t)count * 2 > spans_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "count exceeds the views, the spans or 64");
    return NULL;
  }
  const double *spans = base;
  struct iovec iov[GATHER_MAX];
  int n = 0;
  for (; n < count; n++) {
    double off = spans[2 * n], len = spans[2 * n + 1];
    if (!(off >= 0 && off <= 9007199254740991.0) || !(len >= 0 && len <= 9007199254740991.0)) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "bad span");
      return NULL;
    }
    napi_value v;
    uint8_t *data;
    size_t blen;
    bool detached;
    if (napi_get_element(env, argv[1], (uint32_t)n, &v) != napi_ok || !ax_get_bytes(env, v, &data, &blen, &detached)) return NULL;
    if (detached || (size_t)off > blen || (size_t)len > blen - (size_t)off) break;
    iov[n].iov_base = data + (size_t)off;
    iov[n].iov_len = (size_t)len;
  }
  if (n == 0) return ax_int(env, count == 0 ? 0 : -EFAULT);
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
  ssize_t r;
  do r = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  return ax_int(env, r < 0 ? -errno : r);
}

/* sendfile(sockfd, filefd, offset, count) -> bytes sent (0 at end of file) or -errno.
 * sendfile(2) has no MSG_DONTWAIT, and O_NONBLOCK belongs to the open file description the
 * caller shares with aiotx's duplicate: a blocking socket is made non-blocking for this call
 * only and restored before returning, so the caller never sees its flags changed. */
static napi_value js_sendfile(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int sock, file;
  int64_t offset, count;
  if (!ax_get_args(env, info, 4, argv) || !ax_get_fd(env, argv[0], &sock) || !ax_get_fd(env, argv[1], &file) ||
      !ax_get_safe_int(env, argv[2], "offset must be a non-negative integer", &offset) ||
      !ax_get_safe_int(env, argv[3], "count must be a non-negative integer", &count))
    return NULL;
  if (count > 0x7ffff000) count = 0x7ffff000;
  off_t off = (off_t)offset;
  int fl = fcntl(sock, F_GETFL);
  if (fl < 0) return ax_int(env, -errno);
  if (!(fl & O_NONBLOCK) && fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0) return ax_int(env, -errno);
  ssize_t n;
  do n = sendfile(sock, file, &off, (size_t)count);
  while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  if (!(fl & O_NONBLOCK)) fcntl(sock, F_SETFL, fl);
  return ax_int(env, n < 0 ? -err : n);
}

/* drainZerocopy(fd, out: Uint32Array) -> number of records written to out as (lo, hi, copied)
 * triples, or -errno when the first read fails. Stops when the queue is empty (one recvmmsg when
 * it held what one call takes) or out is full. Notifications of failed sends are skipped. */
static napi_value js_drain_zerocopy(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool is;
  if (!ax_get_args(env, info, 2, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  napi_typedarray_type type;
  size_t count = 0;
  void *base = NULL;
  if (napi_is_typedarray(env, argv[1], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[1], &type, &count, &base, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || base == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "out must be a Uint32Array");
    return NULL;
  }
  uint32_t *out = base;
  size_t cap = count / 3, records = 0;
  bool more = true;
  while (more && records < cap) {
    ax_zc_note_t notes[AX_ZC_BATCH];
    size_t room = cap - records;
    int n = ax_read_zerocopy_notes(fd, notes, room < AX_ZC_BATCH ? (unsigned)room : AX_ZC_BATCH, &more);
    if (n < 0) {
      if (n == -EAGAIN || records > 0) break;
      return ax_int(env, n);
    }
    for (int i = 0; i < n; i++) {
      if (notes[i].err != 0) continue;
      out[records * 3] = notes[i].lo;
      out[records * 3 + 1] = notes[i].hi;
      out[records * 3 + 2] = notes[i].copied ? 1 : 0;
      records++;
    }
  }
  return ax_int(env, (int64_t)records);
}

/* socketInfo(fd) -> { dev, ino, type, domain, listening, zerocopy, connected, udpSegment } or -errno
 * (-ENOTSOCK for a file that is not a socket). */
static napi_value js_socket_info(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj;
  int fd, v;
  socklen_t vl = sizeof v;
  struct stat st;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  if (fstat(fd, &st) < 0) return ax_int(env, -errno);
  if (!S_ISSOCK(st.st_mode)) return ax_int(env, -ENOTSOCK);
  napi_create_object(env, &obj);
  ax_set_int(env, obj, "dev", (int64_t)st.st_dev);
  ax_set_int(env, obj, "ino", (int64_t)st.st_ino);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl) < 0) return ax_int(env, -errno);
  ax_set_int(env, obj, "type", v);
  vl = sizeof v;
  ax_set_int(env, obj, "domain", getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vl) < 0 ? -1 : v);
  vl = sizeof v;
  ax_set_bool(env, obj, "listening", getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0 && v);
  vl = sizeof v;
  ax_set_bool(env, obj, "zerocopy", getsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &v, &vl) == 0 && v);
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  ax_set_bool(env, obj, "connected", getpeername(fd, (struct sockaddr *)&ss, &sl) == 0);
  /* UDP_SEGMENT an earlier owner left set (0 on other sockets): restored when aiotx lets go. */
  vl = sizeof v;
  ax_set_int(env, obj, "udpSegment", getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &vl) == 0 ? v : 0);
  return obj;
}

/* socketKey(fd) -> "dev:ino" of the socket behind fd (one fstat), or -errno (-ENOTSOCK). */
static napi_value js_socket_key(napi_env env, napi_callback_info info) {
  napi_value argv[1], key;
  int fd;
  struct stat st;
  char buf[48];
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  if (fstat(fd, &st) < 0) return ax_int(env, -errno);
  if (!S_ISSOCK(st.st_mode)) return ax_int(env, -ENOTSOCK);
  snprintf(buf, sizeof buf, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &key);
  return key;
}

/* pushPending(fd) -> 0 or -errno. Zero-copy jobs settle on the peer's ACK; a sub-MSS tail held
 * back by Nagle would wait for the previous ACK (and a delayed one). Switching TCP_NODELAY on
 * pushes pending frames; it is switched back off unless the caller had it on. */
static napi_value js_push_pending(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, on = 0, one = 1, zero = 0;
  socklen_t len = sizeof on;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) < 0) return ax_int(env, -errno);
  if (on) return ax_int(env, 0);
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero) < 0)
    return ax_int(env, -errno);
  return ax_int(env, 0);
}

/* sendRoom(fd) -> SO_SNDBUF minus the bytes the socket's sends still hold (SIOCOUTQ: for UDP,
 * sk_wmem_alloc), 0 when they hold more, or -errno. A UDP send fails with EAGAIN only when the
 * bytes held have reached SO_SNDBUF as it starts, so sends whose charges fit in the room cannot
 * meet a full socket. */
static napi_value js_send_room(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, sndbuf = 0, queued = 0;
  socklen_t len = sizeof sndbuf;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || ioctl(fd, SIOCOUTQ, &queued) < 0) return ax_int(env, -errno);
  return ax_int(env, sndbuf > queued ? (int64_t)sndbuf - queued : 0);
}

/* pageSize() -> the kernel's page size: what a datagram's frags are charged per page touched. */
static napi_value js_page_size(napi_env env, napi_callback_info info) {
  (void)info;
  long n = sysconf(_SC_PAGESIZE);
  return ax_int(env, n > 0 ? n : 4096);
}

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t n);

/* setUdpSegment(fd, size) -> 0 or -errno: UDP GSO, every send cut into `size`-byte datagrams
 * by the stack (0 turns it off). Set per socket, so it applies to whatever backend sends. */
static napi_value js_set_udp_segment(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t size;
  if (!ax_get_args(env, info, 2, argv) || !ax_get_fd(env, argv[0], &fd) ||
      !ax_get_safe_int(env, argv[1], "size must be a non-negative integer", &size))
    return NULL;
  if (size > 65535) return ax_int(env, -EINVAL);
  int v = (int)size;
  return ax_int(env, setsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, sizeof v) < 0 ? -errno : 0);
}

/* disconnect(fd) -> 0 or -errno: connect(AF_UNSPEC) aborts a TCP connection (RST) and purges
 * its queues, so the kernel releases zero-copy pages still queued on a socket being closed. */
static napi_value js_disconnect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_family = AF_UNSPEC;
  return ax_int(env, connect(fd, &sa, sizeof sa) < 0 ? -errno : 0);
}

/* addressOwner(address) -> the interface holding that local address ('' if none). Unlike
 * os.networkInterfaces(), it sees interfaces without carrier too. */
static napi_value js_address_owner(napi_env env, napi_callback_info info) {
  napi_value argv[1], name;
  char want[INET6_ADDRSTRLEN], have[INET6_ADDRSTRLEN];
  size_t len;
  napi_valuetype t;
  if (!ax_get_args(env, info, 1, argv)) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "address must be a string");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], want, sizeof want, &len);
  struct ifaddrs *list = NULL;
  const char *owner = "";
  if (getifaddrs(&list) == 0) {
    for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
      if (i->ifa_addr == NULL) continue;
      format_addr((const struct sockaddr_storage *)i->ifa_addr, have, sizeof have);
      if (have[0] && strcmp(have, want) == 0) {
        owner = i->ifa_name;
        break;
      }
    }
  }
  napi_create_string_utf8(env, owner, NAPI_AUTO_LENGTH, &name);
  if (list) freeifaddrs(list);
  return name;
}

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t n) {
  buf[0] = 0;
  if (ss->ss_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, n);
  else if (ss->ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, n);
}

/* addresses(fd) -> { local, remote } as text ('' when unknown) or -errno. */
static napi_value js_addresses(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj;
  int fd;
  char buf[INET6_ADDRSTRLEN];
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  napi_create_object(env, &obj);
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) return ax_int(env, -errno);
  format_addr(&ss, buf, sizeof buf);
  ax_set_str(env, obj, "local", buf);
  memset(&ss, 0, sizeof ss);
  sl = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) buf[0] = 0;
  else format_addr(&ss, buf, sizeof buf);
  ax_set_str(env, obj, "remote", buf);
  return obj;
}

/* enableZerocopy(fd) -> 0 or -errno: without SO_ZEROCOPY the kernel silently ignores MSG_ZEROCOPY. */
static napi_value js_enable_zerocopy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, one = 1;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  return ax_int(env, setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) < 0 ? -errno : 0);
}

/* dup(fd) -> a close-on-exec duplicate or -errno: a transmitter on a raw fd works on its own
 * descriptor, so the caller closing (and the kernel reusing) the number cannot misdirect bytes. */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return ax_int(env, d < 0 ? -errno : d);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  return ax_int(env, close(fd) < 0 ? -errno : 0);
}

/* isDetached(data) -> true when the memory behind data is gone. */
static napi_value js_is_detached(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  uint8_t *data;
  size_t len;
  bool detached;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_bytes(env, argv[0], &data, &len, &detached)) return NULL;
  return ax_bool(env, detached);
}

void ax_init_socket_ops(napi_env env, napi_value exports) {
  ax_export(env, exports, "send", js_send);
  ax_export(env, exports, "sendGathered", js_send_gathered);
  ax_export(env, exports, "sendfile", js_sendfile);
  ax_export(env, exports, "drainZerocopy", js_drain_zerocopy);
  ax_export(env, exports, "socketInfo", js_socket_info);
  ax_export(env, exports, "addresses", js_addresses);
  ax_export(env, exports, "enableZerocopy", js_enable_zerocopy);
  ax_export(env, exports, "isDetached", js_is_detached);
  ax_export(env, exports, "dup", js_dup);
  ax_export(env, exports, "socketKey", js_socket_key);
  ax_export(env, exports, "pushPending", js_push_pending);
  ax_export(env, exports, "disconnect", js_disconnect);
  ax_export(env, exports, "setUdpSegment", js_set_udp_segment);
  ax_export(env, exports, "sendRoom", js_send_room);
  ax_export(env, exports, "pageSize", js_page_size);
  ax_export(env, exports, "addressOwner", js_address_owner);
  ax_export(env, exports, "close", js_close);
}
