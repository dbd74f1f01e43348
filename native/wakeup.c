/* A uv_poll on one fd that, when readable, lets its owner fill a shared Int32Array and calls
 * JavaScript once per batch. The poller (epoll fd) and the io_uring ring (eventfd) both use it. */
#include "aiotx.h"
#include <stddef.h>
#include <stdlib.h>

/* The uv_poll lives apart from its owner: it is closed by an async cleanup hook, so Node keeps
 * the loop (and this addon) alive until the close callback ran, which matters for workers. */
typedef struct {
  uv_poll_t poll;
  napi_async_cleanup_hook_handle hook;
} poll_box_t;

static void on_closed(uv_handle_t *h) {
  poll_box_t *box = (poll_box_t *)((char *)h - offsetof(poll_box_t, poll));
  if (box->hook) napi_remove_async_cleanup_hook(box->hook);
  free(box);
}

static void on_env_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  poll_box_t *box = arg;
  box->hook = hook;
  ax_wakeup_t *w = box->poll.data;
  if (w) w->poll = NULL; /* its owner must not close it again */
  uv_close((uv_handle_t *)&box->poll, on_closed);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  ax_wakeup_t *w = h->data;
  if (w == NULL) return;
  for (;;) {
    int n = w->fill(w->owner, w->array, w->cap);
    if (n <= 0) return;
    napi_handle_scope scope;
    napi_open_handle_scope(w->env, &scope);
    napi_value cb, recv, argv[1], result;
    napi_get_reference_value(w->env, w->callback, &cb);
    napi_get_global(w->env, &recv); /* make_callback wants an object receiver */
    argv[0] = ax_int(w->env, n);
    /* make_callback drains microtasks, so promises settled by the engine resolve promptly. */
    napi_make_callback(w->env, w->async, recv, cb, 1, argv, &result);
    napi_close_handle_scope(w->env, scope);
    if ((size_t)n < w->cap) return;
  }
}

bool ax_wakeup_start(napi_env env, ax_wakeup_t *w, int fd, napi_value callback, size_t cap, ax_fill_fn fill, void *owner,
                     const char *name, napi_value *array_out) {
  napi_value ab, arr, resource_name;
  napi_valuetype t;
  uv_loop_t *loop = NULL;
  if (napi_typeof(env, callback, &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return false;
  }
  w->env = env;
  w->cap = cap;
  w->fill = fill;
  w->owner = owner;
  poll_box_t *box = calloc(1, sizeof *box);
  if (box == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &box->poll, fd) != 0) {
    free(box);
    napi_throw_error(env, "ERR_AIOTX_POLLER", "cannot watch the notification fd");
    return false;
  }
  w->poll = &box->poll;
  w->poll->data = w;
  napi_add_async_cleanup_hook(env, on_env_teardown, box, NULL);
  uv_poll_start(w->poll, UV_READABLE, on_readable);
  uv_unref((uv_handle_t *)w->poll);
  napi_create_arraybuffer(env, cap * sizeof(int32_t), (void **)&w->array, &ab);
  napi_create_typedarray(env, napi_int32_array, cap, ab, 0, &arr);
  napi_create_reference(env, arr, 1, &w->array_ref);
  napi_create_reference(env, callback, 1, &w->callback);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &w->async);
  *array_out = arr;
  return true;
}

/* Releases what the owner holds; the handle itself is closed by the teardown hook. */
void ax_wakeup_stop(napi_env env, ax_wakeup_t *w) {
  if (w->poll) {
    uv_poll_stop(w->poll);
    w->poll->data = NULL;
  }
  w->poll = NULL;
  if (w->callback) napi_delete_reference(env, w->callback);
  if (w->array_ref) napi_delete_reference(env, w->array_ref);
  if (w->async) napi_async_destroy(env, w->async);
  w->callback = w->array_ref = NULL;
  w->async = NULL;
}

void ax_wakeup_ref(ax_wakeup_t *w, bool on) {
  if (w->poll == NULL || on == w->refd) return;
  if (on) uv_ref((uv_handle_t *)w->poll);
  else uv_unref((uv_handle_t *)w->poll);
  w->refd = on;
}
