/* File-serving syscalls: opening a file beneath a root directory without a way out, and
 * sendfile(2) repeated until the socket is full, so a wake-up costs one call from JavaScript. */
#define _GNU_SOURCE
#include "aiotx.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
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

/* sendfileAll(sockfd, filefd, offset, count, state: Int32Array) -> bytes sent, 0 at end of file, or
 * -errno when the first call failed. Like sendfile() (a blocking socket is non-blocking for this
 * call only), but repeats until count is sent or the socket is full: one flags check and one
 * JavaScript turn per wake-up instead of per call. state[0] is set to 1 when it stopped because
 * the socket was full (EAGAIN), else 0: then the caller waits for writability, not a retry. */
static napi_value js_sendfile_all(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int sock, file;
  int64_t offset, count;
  if (!ax_get_args(env, info, 5, argv) || !ax_get_fd(env, argv[0], &sock) || !ax_get_fd(env, argv[1], &file) ||
      !ax_get_safe_int(env, argv[2], "offset must be a non-negative integer", &offset) ||
      !ax_get_safe_int(env, argv[3], "count must be a non-negative integer", &count))
    return NULL;
  bool is = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[4], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[4], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      length < 1 || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "state must be a non-empty Int32Array");
    return NULL;
  }
  int32_t *state = data;
  state[0] = 0;
  int fl = fcntl(sock, F_GETFL);
  if (fl < 0) return ax_int(env, -errno);
  if (!(fl & O_NONBLOCK) && fcntl(sock, F_SETFL, fl | O_NONBLOCK) < 0) return ax_int(env, -errno);
  off_t off = (off_t)offset;
  int64_t sent = 0;
  int err = 0;
  while (sent < count) {
    int64_t want = count - sent;
    ssize_t n = sendfile(sock, file, &off, (size_t)(want > 0x7ffff000 ? 0x7ffff000 : want));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break; /* end of file: the caller sees the shortfall on its next call */
    sent += n;
  }
  if (!(fl & O_NONBLOCK)) fcntl(sock, F_SETFL, fl);
  if (err == EAGAIN) state[0] = 1;
  return ax_int(env, sent > 0 || err == 0 ? sent : -err);
}

void ax_init_file_ops(napi_env env, napi_value exports) {
  ax_export(env, exports, "openBeneath", js_open_beneath);
  ax_export(env, exports, "sendfileAll", js_sendfile_all);
}
