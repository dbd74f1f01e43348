/* Module entry: the native core of aiotx. See native/aiotx.h. */
#include "aiotx.h"

static napi_value init(napi_env env, napi_value exports) {
  ax_init_socket_ops(env, exports);
  ax_init_poller(env, exports);
  ax_init_probe(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
