/* Readiness for every socket the engine drives, through one private epoll instance watched by a
 * single uv_poll. Sockets are registered edge-triggered: a level-triggered EPOLLERR (a non-empty
 * MSG_ZEROCOPY error queue) would otherwise wake the loop forever (DESIGN.md §2). JavaScript gets
 * the ready (fd, events) pairs in a shared Int32Array, one call per wakeup. */
#include "aiotx.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#define MAX_EVENTS 256

typedef struct {
  napi_env env;
  napi_ref callback;
  napi_ref events_ref; /* Int32Array(2 * MAX_EVENTS) shared with JavaScript */
  int32_t *events;
  napi_async_context async;
  int epfd;
  uv_poll_t *poll;
  bool refd;
} poller_t;

static void on_poll_closed(uv_handle_t *h) { free(h); }

static void poller_free(napi_env env, void *data, void *hint) {
  (void)hint;
  poller_t *p = data;
  if (p->poll) uv_close((uv_handle_t *)p->poll, on_poll_closed);
  if (p->epfd >= 0) close(p->epfd);
  if (p->callback) napi_delete_reference(env, p->callback);
  if (p->events_ref) napi_delete_reference(env, p->events_ref);
  if (p->async) napi_async_destroy(env, p->async);
  free(p);
}

static poller_t *get_poller(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  if (p == NULL) napi_throw_error(env, "ERR_AIOTX_POLLER", "poller not started");
  return p;
}

static void on_ready(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  poller_t *p = h->data;
  struct epoll_event evs[MAX_EVENTS];
  int n;
  do n = epoll_wait(p->epfd, evs, MAX_EVENTS, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return;
  for (int i = 0; i < n; i++) {
    p->events[2 * i] = evs[i].data.fd;
    p->events[2 * i + 1] = (int32_t)evs[i].events;
  }
  napi_handle_scope scope;
  napi_open_handle_scope(p->env, &scope);
  napi_value cb, recv, argv[1], result;
  napi_get_reference_value(p->env, p->callback, &cb);
  napi_get_global(p->env, &recv); /* make_callback wants an object receiver */
  argv[0] = ax_int(p->env, n);
  /* make_callback drains microtasks, so promises settled by the engine resolve promptly. */
  napi_make_callback(p->env, p->async, recv, cb, 1, argv, &result);
  napi_close_handle_scope(p->env, scope);
}

/* pollerStart(callback) -> Int32Array of (fd, events) pairs that the callback's count indexes. */
static napi_value js_poller_start(napi_env env, napi_callback_info info) {
  napi_value argv[1], ab, arr, name;
  napi_valuetype t;
  void *existing = NULL;
  if (!ax_get_args(env, info, 1, argv)) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return NULL;
  }
  napi_get_instance_data(env, &existing);
  if (existing != NULL) {
    napi_throw_error(env, "ERR_AIOTX_POLLER", "poller already started");
    return NULL;
  }
  poller_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  p->env = env;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  uv_loop_t *loop = NULL;
  p->poll = malloc(sizeof *p->poll);
  if (p->epfd < 0 || p->poll == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok ||
      uv_poll_init(loop, p->poll, p->epfd) != 0) {
    free(p->poll);
    p->poll = NULL;
    poller_free(env, p, NULL);
    napi_throw_error(env, "ERR_AIOTX_POLLER", "cannot create the readiness poller");
    return NULL;
  }
  p->poll->data = p;
  uv_poll_start(p->poll, UV_READABLE, on_ready);
  uv_unref((uv_handle_t *)p->poll);
  napi_create_arraybuffer(env, 2 * MAX_EVENTS * sizeof(int32_t), (void **)&p->events, &ab);
  napi_create_typedarray(env, napi_int32_array, 2 * MAX_EVENTS, ab, 0, &arr);
  napi_create_reference(env, arr, 1, &p->events_ref);
  napi_create_reference(env, argv[0], 1, &p->callback);
  napi_create_string_utf8(env, "aiotx.poller", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &p->async);
  napi_set_instance_data(env, p, poller_free, NULL);
  return arr;
}

/* watch(fd) -> 0 or -errno. Writability and error-queue arrivals, edge-triggered. */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  poller_t *p = get_poller(env);
  if (p == NULL) return NULL;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET, .data.fd = fd};
  return ax_int(env, epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0);
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  poller_t *p = get_poller(env);
  if (p == NULL) return NULL;
  return ax_int(env, epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0);
}

/* pollerRef(on): keep the process alive only while jobs are pending. */
static napi_value js_poller_ref(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_bool(env, argv[0], "on must be a boolean", &on)) return NULL;
  poller_t *p = get_poller(env);
  if (p == NULL) return NULL;
  if (on != p->refd) {
    if (on) uv_ref((uv_handle_t *)p->poll);
    else uv_unref((uv_handle_t *)p->poll);
    p->refd = on;
  }
  return NULL;
}

void ax_init_poller(napi_env env, napi_value exports) {
  ax_export(env, exports, "pollerStart", js_poller_start);
  ax_export(env, exports, "watch", js_watch);
  ax_export(env, exports, "unwatch", js_unwatch);
  ax_export(env, exports, "pollerRef", js_poller_ref);
}
