/* aiotx native core: syscalls only. Policy and job logic live in TypeScript (src/). */
#ifndef AIOTX_H
#define AIOTX_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Argument helpers (args.c). Each returns false after throwing a JS exception. */
bool ax_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
bool ax_get_fd(napi_env env, napi_value v, int *fd);
bool ax_get_safe_int(napi_env env, napi_value v, const char *what, int64_t *out);
bool ax_get_bool(napi_env env, napi_value v, const char *what, bool *out);
/* Bytes behind an ArrayBufferView or ArrayBuffer; detached memory yields len 0 and *detached. */
bool ax_get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, bool *detached);
napi_value ax_int(napi_env env, int64_t n);
napi_value ax_bool(napi_env env, bool b);
void ax_set_int(napi_env env, napi_value obj, const char *key, int64_t n);
void ax_set_bool(napi_env env, napi_value obj, const char *key, bool b);
void ax_set_str(napi_env env, napi_value obj, const char *key, const char *s);
void ax_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

/* Per-environment state (main thread or worker), freed with the environment. */
typedef struct ax_poller ax_poller_t;
typedef struct ax_ring ax_ring_t;
typedef struct {
  ax_poller_t *poller;
  ax_ring_t *ring;
} ax_env_t;
ax_env_t *ax_env(napi_env env);
void ax_poller_free(napi_env env, ax_poller_t *p);
void ax_ring_free(napi_env env, ax_ring_t *r);

/* wakeup.c: a uv_poll on an fd that hands batches to a JavaScript callback. fill() writes up to
 * cap ints and returns how many (0: nothing). */
typedef int (*ax_fill_fn)(void *owner, int32_t *out, size_t cap);
typedef struct {
  napi_env env;
  napi_ref callback;
  napi_ref array_ref;
  int32_t *array;
  size_t cap;
  napi_async_context async;
  uv_poll_t *poll;
  ax_fill_fn fill;
  void *owner;
  bool refd;
} ax_wakeup_t;
bool ax_wakeup_start(napi_env env, ax_wakeup_t *w, int fd, napi_value callback, size_t cap, ax_fill_fn fill, void *owner,
                     const char *name, napi_value *array_out);
void ax_wakeup_stop(napi_env env, ax_wakeup_t *w);
void ax_wakeup_ref(ax_wakeup_t *w, bool on);

/* Module parts, each registering its functions on exports. */
void ax_init_socket_ops(napi_env env, napi_value exports);
void ax_init_poller(napi_env env, napi_value exports);
void ax_init_probe(napi_env env, napi_value exports);
void ax_init_uring(napi_env env, napi_value exports);
void ax_init_file_ops(napi_env env, napi_value exports);

#endif
