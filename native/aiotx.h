/* aiotx native core: syscalls only. Policy and job logic live in TypeScript (src/). */
#ifndef AIOTX_H
#define AIOTX_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Module parts, each registering its functions on exports. */
void ax_init_socket_ops(napi_env env, napi_value exports);
void ax_init_poller(napi_env env, napi_value exports);
void ax_init_probe(napi_env env, napi_value exports);

#endif
