/* Module entry of aiotx-bench's native half: the bench's C loops (bench_ops.c, uring_floor.c) and
 * the TCP sink rig (tcp_sink.c). The argument helpers are aiotx's own (its native/args.c, built in here). */
#include "aiotx.h"

void ax_init_bench_ops(napi_env env, napi_value exports);
void ax_init_tcp_sink(napi_env env, napi_value exports);
void ax_init_uring_floor(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  ax_init_bench_ops(env, exports);
  ax_init_tcp_sink(env, exports);
  ax_init_uring_floor(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
