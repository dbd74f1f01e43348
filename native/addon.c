/* Module entry: the native core of aiotx. See native/aiotx.h. */
#include "aiotx.h"
#include <stdlib.h>

static void env_free(napi_env env, void *data, void *hint) {
  (void)hint;
  ax_env_t *e = data;
  if (e->ring) ax_ring_free(env, e->ring);
  if (e->poller) ax_poller_free(env, e->poller);
  free(e);
}

ax_env_t *ax_env(napi_env env) {
  void *e = NULL;
  napi_get_instance_data(env, &e);
  return e;
}

static napi_value init(napi_env env, napi_value exports) {
  ax_env_t *e = calloc(1, sizeof *e);
  if (e == NULL || napi_set_instance_data(env, e, env_free, NULL) != napi_ok) {
    free(e);
    napi_throw_error(env, "ENOMEM", "aiotx: cannot allocate per-environment state");
    return NULL;
  }
  ax_init_socket_ops(env, exports);
  ax_init_poller(env, exports);
  ax_init_probe(env, exports);
  ax_init_uring(env, exports);
  ax_init_file_ops(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
