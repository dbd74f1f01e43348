/* Readiness for every socket the engine drives, through one private epoll instance watched by a
 * single uv_poll. Sockets are registered edge-triggered: a level-triggered EPOLLERR (a non-empty
 * MSG_ZEROCOPY error queue) would otherwise wake the loop forever: tcp_poll reports it for as long
 * as the queue holds a notification, and libuv re-polls at once. JavaScript gets
 * the ready (fd, events) pairs in a shared Int32Array, one call per wakeup. */
#include "aiotx.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct ax_poller {
  int epfd;
  ax_wakeup_t wakeup;
};

void ax_poller_free(napi_env env, ax_poller_t *p) {
  ax_wakeup_stop(env, &p->wakeup);
  if (p->epfd >= 0) close(p->epfd);
  free(p);
}

static ax_poller_t *get_poller(napi_env env) {
  ax_poller_t *p = ax_env(env)->poller;
  if (p == NULL) napi_throw_error(env, "ERR_AIOTX_POLLER", "poller not started");
  return p;
}

static int fill_events(void *owner, int32_t *out, size_t cap) {
  ax_poller_t *p = owner;
  struct epoll_event evs[MAX_EVENTS];
  int n;
  do n = epoll_wait(p->epfd, evs, (int)(cap / 2 < MAX_EVENTS ? cap / 2 : MAX_EVENTS), 0);
  while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; i++) {
    out[2 * i] = evs[i].data.fd;
    out[2 * i + 1] = (int32_t)evs[i].events;
  }
  return n < 0 ? 0 : 2 * n;
}

/* pollerStart(callback) -> Int32Array of (fd, events) pairs; callback(count) gives how many ints. */
static napi_value js_poller_start(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr;
  if (!ax_get_args(env, info, 1, argv)) return NULL;
  ax_env_t *e = ax_env(env);
  if (e->poller != NULL) {
    napi_throw_error(env, "ERR_AIOTX_POLLER", "poller already started");
    return NULL;
  }
  ax_poller_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (p->epfd < 0) {
    free(p);
    napi_throw_error(env, "ERR_AIOTX_POLLER", "epoll_create1 failed");
    return NULL;
  }
  if (!ax_wakeup_start(env, &p->wakeup, p->epfd, argv[0], 2 * MAX_EVENTS, fill_events, p, "aiotx.poller", &arr)) {
    ax_poller_free(env, p);
    return NULL;
  }
  e->poller = p;
  return arr;
}

/* watch(fd) -> 0 or -errno. Writability and error-queue arrivals, edge-triggered. */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  ax_poller_t *p = get_poller(env);
  if (p == NULL) return NULL;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLET, .data.fd = fd};
  return ax_int(env, epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0);
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_fd(env, argv[0], &fd)) return NULL;
  ax_poller_t *p = get_poller(env);
  if (p == NULL) return NULL;
  return ax_int(env, epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0);
}

/* pollerRef(on): keep the process alive only while jobs are pending. */
static napi_value js_poller_ref(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on;
  if (!ax_get_args(env, info, 1, argv) || !ax_get_bool(env, argv[0], "on must be a boolean", &on)) return NULL;
  ax_poller_t *p = get_poller(env);
  if (p == NULL) return NULL;
  ax_wakeup_ref(&p->wakeup, on);
  return NULL;
}

void ax_init_poller(napi_env env, napi_value exports) {
  ax_export(env, exports, "pollerStart", js_poller_start);
  ax_export(env, exports, "watch", js_watch);
  ax_export(env, exports, "unwatch", js_unwatch);
  ax_export(env, exports, "pollerRef", js_poller_ref);
}
