/* File-serving syscalls: opening a file beneath a root directory without a way out, and
 * sendfile(2) repeated until the socket is full, so a wake-up costs one call from JavaScript. */
#define _GNU_SOURCE
#include "aiotx.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

/* A path argument: -EINVAL for an embedded NUL, -ENAMETOOLONG past PATH_MAX; false when it threw. */
static bool get_path(napi_env env, napi_value v, char *buf, int *err) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return false;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  *err = 0;
  if (len >= PATH_MAX) {
    *err = -ENAMETOOLONG;
    return true;
  }
  napi_get_value_string_utf8(env, v, buf, PATH_MAX, &len);
  if (strlen(buf) != len) *err = -EINVAL;
  return true;
}

/* openBeneath(root, relative) -> fd (O_RDONLY | O_NONBLOCK | O_CLOEXEC) or -errno. The file is
 * resolved by openat2(2) from the root directory as it is now, with RESOLVE_BENEATH (no `..` above
 * it, no absolute path or symlink) and RESOLVE_NO_MAGICLINKS: EXDEV or ELOOP means "not provably
 * inside", ENOSYS an older kernel; the caller then checks the slow way. */
static napi_value js_open_beneath(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char root[PATH_MAX], rel[PATH_MAX];
  int err;
  if (!ax_get_args(env, info, 2, argv)) return NULL;
  if (!get_path(env, argv[0], root, &err)) return NULL;
  if (err) return ax_int(env, err);
  if (!get_path(env, argv[1], rel, &err)) return NULL;
  if (err) return ax_int(env, err);
  int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return ax_int(env, -errno);
  struct open_how how = {
      .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
  };
  long fd;
  do fd = syscall(SYS_openat2, dir, rel, &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  err = fd < 0 ? -errno : 0;
  close(dir);
  return ax_int(env, err ? err : fd);
}

/* The state argument of sendfileAll and sendHeadAndFile: a non-empty Int32Array; false when it threw. */
static bool get_state(napi_env env, napi_value v, int32_t **state) {
  bool is = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      length < 1 || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "state must be a non-empty Int32Array");
    return false;
  }
  *state = data;
  return true;
}

/* sendfile(2) until count is sent, the socket is full (*err = EAGAIN), an error (*err) or the end
 * of the file (*err = 0 with less sent). The socket must be non-blocking for the call. */
static int64_t sendfile_loop(int sock, int file, off_t off, int64_t count, int *err) {
  int64_t sent = 0;
  *err = 0;
  while (sent < count) {
    int64_t want = count - sent;
    ssize_t n = sendfile(sock, file, &off, (size_t)(want > 0x7ffff000 ? 0x7ffff000 : want));
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      break;
    }
    if (n == 0) break; /* end of file: the caller sees the shortfall on its next call */
    sent += n;
  }
  return sent;
}

/* Makes the socket non-blocking for one call; *fl is what to restore (-1: nothing), or -errno. */
static int nonblocking(int sock, int *fl) {
  *fl = -1;
  int f = fcntl(sock, F_GETFL);
  if (f < 0) return -errno;
  if (f & O_NONBLOCK) return 0;
  if (fcntl(sock, F_SETFL, f | O_NONBLOCK) < 0) return -errno;
  *fl = f;
  return 0;
}

/* sendfileAll(sockfd, filefd, offset, count, state: Int32Array) -> bytes sent, 0 at end of file, or
 * -errno when the first call failed. Like sendfile() (a blocking socket is non-blocking for this
 * call only), but repeats until count is sent or the socket is full: one flags check and one
 * JavaScript turn per wake-up instead of per call. state[0] is set to 1 when it stopped because
 * the socket was full (EAGAIN), else 0: then the caller waits for writability, not a retry. */
static napi_value js_sendfile_all(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int sock, file;
  int64_t offset, count;
  int32_t *state;
  if (!ax_get_args(env, info, 5, argv) || !ax_get_fd(env, argv[0], &sock) || !ax_get_fd(env, argv[1], &file) ||
      !ax_get_safe_int(env, argv[2], "offset must be a non-negative integer", &offset) ||
      !ax_get_safe_int(env, argv[3], "count must be a non-negative integer", &count) || !get_state(env, argv[4], &state))
    return NULL;
  state[0] = 0;
  int fl, err = nonblocking(sock, &fl);
  if (err < 0) return ax_int(env, err);
  int64_t sent = sendfile_loop(sock, file, (off_t)offset, count, &err);
  if (fl >= 0) fcntl(sock, F_SETFL, fl);
  if (err == EAGAIN) state[0] = 1;
  return ax_int(env, sent > 0 || err == 0 ? sent : -err);
}

/* Headers held on the stack up to this size; longer ones are copied to the heap. */
#define HEAD_STACK 4096

/* sendHeadAndFile(sockfd, head: string (latin1) | ArrayBufferView | ArrayBuffer, headOffset, filefd,
 * offset, count, state: Int32Array) -> bytes sent (of head[headOffset..] and then the file's
 * [offset, offset + count)), or -errno when nothing went. An HTTP response's headers and body in
 * one call, as nginx does it: the rest of the head by send(MSG_MORE) (so it leaves in the body's
 * first packet, not in a tiny packet of its own), then sendfile(2) as sendfileAll. It stops at a
 * short send of the head (state[0] = 1: the socket is full), or where sendfileAll stops. A head
 * string is sent as Node writes one with 'latin1': one byte per UTF-16 unit, its low 8 bits. */
static napi_value js_send_head_and_file(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int sock, file;
  int64_t head_offset, offset, count;
  int32_t *state;
  if (!ax_get_args(env, info, 7, argv) || !ax_get_fd(env, argv[0], &sock) ||
      !ax_get_safe_int(env, argv[2], "headOffset must be a non-negative integer", &head_offset) ||
      !ax_get_fd(env, argv[3], &file) ||
      !ax_get_safe_int(env, argv[4], "offset must be a non-negative integer", &offset) ||
      !ax_get_safe_int(env, argv[5], "count must be a non-negative integer", &count) || !get_state(env, argv[6], &state))
    return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  char stack[HEAD_STACK];
  char *heap = NULL;
  const char *head;
  size_t head_len = 0;
  if (t == napi_string) {
    if (napi_get_value_string_latin1(env, argv[1], NULL, 0, &head_len) != napi_ok) return NULL;
    char *buf = stack;
    if (head_len >= sizeof stack) {
      heap = malloc(head_len + 1);
      if (heap == NULL) return ax_int(env, -ENOMEM);
      buf = heap;
    }
    size_t copied = 0;
    if (napi_get_value_string_latin1(env, argv[1], buf, head_len + 1, &copied) != napi_ok) {
      free(heap);
      return NULL;
    }
    head_len = copied;
    head = buf;
  } else {
    uint8_t *data;
    bool detached;
    if (!ax_get_bytes(env, argv[1], &data, &head_len, &detached)) return NULL;
    if (detached) return ax_int(env, -EFAULT);
    head = (const char *)data;
  }
  if ((uint64_t)head_offset > head_len) {
    free(heap);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "headOffset is past the end of head");
    return NULL;
  }
  state[0] = 0;
  int64_t sent = 0;
  int err = 0;
  size_t rest = head_len - (size_t)head_offset;
  while (rest > 0) {
    ssize_t n = send(sock, head + head_offset, rest, MSG_DONTWAIT | MSG_NOSIGNAL | (count > 0 ? MSG_MORE : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    sent = n;
    break;
  }
  free(heap);
  if (err == 0 && (size_t)sent < rest) err = EAGAIN; /* a short send: the socket is full */
  if (err == 0 && count > 0) {
    int fl;
    err = -nonblocking(sock, &fl);
    if (err == 0) {
      sent += sendfile_loop(sock, file, (off_t)offset, count, &err);
      if (fl >= 0) fcntl(sock, F_SETFL, fl);
    }
  }
  if (err == EAGAIN) state[0] = 1;
  return ax_int(env, sent > 0 || err == 0 ? sent : -err);
}

void ax_init_file_ops(napi_env env, napi_value exports) {
  ax_export(env, exports, "openBeneath", js_open_beneath);
  ax_export(env, exports, "sendfileAll", js_sendfile_all);
  ax_export(env, exports, "sendHeadAndFile", js_send_head_and_file);
}
