/* The bench's two C loops: the `reference` sender (plain non-blocking send() until EAGAIN, then
 * poll(): the floor the JavaScript layers are compared with) and the `serve` receiver's discard thread (recv with
 * MSG_TRUNC, so the kernel drops the bytes without copying them and JavaScript is not called
 * per chunk). */
#define _GNU_SOURCE
#include "aiotx.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_REFERENCE_FDS 256
#define MAX_REFERENCE_MS (3600 * 1000)

/* 0 for a stream socket, else -EBADF, -ENOTSOCK or -EPROTOTYPE. */
static int check_stream_socket(int fd) {
  struct stat st;
  int type;
  socklen_t tl = sizeof type;
  if (fd < 0 || fstat(fd, &st) < 0) return -EBADF;
  if (!S_ISSOCK(st.st_mode)) return -ENOTSOCK;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) return -errno;
  return type == SOCK_STREAM ? 0 : -EPROTOTYPE;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* referenceSend(fds: Int32Array, data, durationMs, writeSize) -> Float64Array of bytes sent per
 * fd, or -errno. Sends `data` over and over on every stream socket for durationMs, each fd
 * carrying the buffer cyclically in writes of writeSize bytes (a short send continues where it
 * stopped; the last write of a cycle may be shorter), so the stream a receiver sees is `data`
 * repeated. `data` holds as many writes as the JavaScript rows keep buffers, so both copy from the
 * same working set. Blocks the calling thread for the duration, on purpose: nothing else runs. */
static napi_value js_reference_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint8_t *fd_bytes, *data;
  size_t fd_len, len;
  bool detached;
  int64_t duration, write_size;
  napi_typedarray_type type;
  bool is_typed = false;
  if (!ax_get_args(env, info, 4, argv)) return NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, NULL, NULL, NULL, NULL) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fds must be an Int32Array");
    return NULL;
  }
  if (!ax_get_bytes(env, argv[0], &fd_bytes, &fd_len, &detached) ||
      !ax_get_bytes(env, argv[1], &data, &len, &detached) ||
      !ax_get_safe_int(env, argv[2], "durationMs must be a non-negative integer", &duration) ||
      !ax_get_safe_int(env, argv[3], "writeSize must be a positive integer", &write_size))
    return NULL;
  if (write_size <= 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "writeSize must be a positive integer");
    return NULL;
  }
  size_t count = fd_len / sizeof(int32_t);
  if (count == 0 || count > MAX_REFERENCE_FDS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "fds must hold 1 to 256 descriptors");
    return NULL;
  }
  if (duration > MAX_REFERENCE_MS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "durationMs must be at most one hour");
    return NULL;
  }
  if (detached || len == 0) return ax_int(env, -EFAULT);
  /* Copied out: the Int32Array's memory is not ours to keep across the loop. */
  int32_t fds[MAX_REFERENCE_FDS];
  struct pollfd polls[MAX_REFERENCE_FDS];
  double sent[MAX_REFERENCE_FDS] = {0};
  for (size_t i = 0; i < count; i++) {
    fds[i] = ((int32_t *)(void *)fd_bytes)[i];
    int bad = check_stream_socket(fds[i]);
    if (bad != 0) return ax_int(env, bad);
    polls[i].fd = fds[i];
    polls[i].events = POLLOUT;
  }
  /* Send until EAGAIN, and only then wait: a poll() before every send() halves the throughput of
   * this loop on loopback (measured with scripts/measure/send-floor.c). Sockets take turns, one
   * send each; poll() runs only once every socket is full. */
  bool blocked[MAX_REFERENCE_FDS] = {false};
  size_t nblocked = 0;
  const double deadline = now_ms() + (double)duration;
  int failure = 0;
  while (failure == 0 && now_ms() < deadline) {
    if (nblocked == count) {
      int ready = poll(polls, count, 50);
      if (ready < 0 && errno != EINTR) failure = -errno;
      for (size_t i = 0; ready > 0 && i < count; i++) {
        if (blocked[i] && (polls[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
          blocked[i] = false;
          nblocked--;
        }
      }
      continue;
    }
    for (size_t i = 0; failure == 0 && i < count; i++) {
      if (blocked[i]) continue;
      size_t off = (size_t)((uint64_t)sent[i] % len);
      size_t end = (off / (uint64_t)write_size + 1) * (uint64_t)write_size;
      if (end > len) end = len;
      ssize_t n = send(fds[i], data + off, end - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent[i] += (double)n;
      } else if (n < 0 && errno == EAGAIN) {
        blocked[i] = true;
        nblocked++;
      } else if (n < 0 && errno != EINTR) {
        failure = -errno;
      }
    }
  }
  if (failure != 0) return ax_int(env, failure);
  napi_value ab, out;
  void *mem;
  napi_create_arraybuffer(env, count * sizeof(double), &mem, &ab);
  for (size_t i = 0; i < count; i++) ((double *)mem)[i] = sent[i];
  napi_create_typedarray(env, napi_float64_array, count, ab, 0, &out);
  return out;
}

typedef struct {
  int fd;
  double bytes;
  int error;
  napi_threadsafe_function done;
} ax_discard_t;

/* On the JavaScript thread once the discard thread ended: callback(bytes, -errno or 0). */
static void discard_report(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  ax_discard_t *d = data;
  if (env != NULL && callback != NULL) {
    napi_value argv[2], undefined;
    napi_create_double(env, d->bytes, &argv[0]);
    napi_create_int32(env, d->error, &argv[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 2, argv, NULL);
  }
  free(d);
}

static void *discard_main(void *arg) {
  ax_discard_t *d = arg;
  struct pollfd p = {.fd = d->fd, .events = POLLIN};
  for (;;) {
    /* MSG_TRUNC on TCP: the kernel drops up to len bytes without copying them anywhere. */
    ssize_t n = recv(d->fd, NULL, 1 << 30, MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      d->bytes += (double)n;
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN) {
      if (poll(&p, 1, -1) < 0 && errno != EINTR) {
        d->error = -errno;
        break;
      }
    } else if (errno != EINTR) {
      d->error = -errno;
      break;
    }
  }
  close(d->fd);
  napi_threadsafe_function done = d->done;
  if (napi_call_threadsafe_function(done, d, napi_tsfn_blocking) != napi_ok) free(d);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

/* discardStart(fd, callback) -> 0 or -errno. A thread of its own reads the stream socket (through
 * a dup, so closing fd later is safe) and drops everything until end of stream or an error, then
 * calls callback(bytes, -errno or 0) on this thread. To end it early, shut the socket down. */
static napi_value js_discard_start(napi_env env, napi_callback_info info) {
  napi_value argv[2], name;
  int fd;
  napi_valuetype t;
  if (!ax_get_args(env, info, 2, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return NULL;
  }
  int bad = check_stream_socket(fd);
  if (bad != 0) return ax_int(env, bad);
  ax_discard_t *d = calloc(1, sizeof *d);
  if (d == NULL) return ax_int(env, -ENOMEM);
  d->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d->fd < 0) {
    int err = -errno;
    free(d);
    return ax_int(env, err);
  }
  napi_create_string_utf8(env, "aiotx.discard", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, discard_report, &d->done) !=
      napi_ok) {
    close(d->fd);
    free(d);
    return ax_int(env, -ENOMEM);
  }
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&thread, &attr, discard_main, d);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    napi_release_threadsafe_function(d->done, napi_tsfn_abort);
    close(d->fd);
    free(d);
    return ax_int(env, -err);
  }
  return ax_int(env, 0);
}

/* shutdown(fd) -> 0 or -errno: SHUT_RDWR, which also ends a discard thread reading it. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  return ax_int(env, shutdown(fd, SHUT_RDWR) < 0 ? -errno : 0);
}

void ax_init_bench_ops(napi_env env, napi_value exports) {
  ax_export(env, exports, "referenceSend", js_reference_send);
  ax_export(env, exports, "discardStart", js_discard_start);
  ax_export(env, exports, "shutdown", js_shutdown);
}
