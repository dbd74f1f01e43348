/* Argument checking for every function exported to JavaScript: wrong input throws, never crashes. */
#include "aiotx.h"
#include <math.h>

bool ax_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "aiotx native: too few arguments");
    return false;
  }
  return true;
}

/* An integral number in [min, max]: TypeError for a non-number, RangeError otherwise. */
static bool get_integer(napi_env env, napi_value v, const char *what, double min, double max, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return false;
  }
  napi_get_value_double(env, v, out);
  if (!(*out >= min && *out <= max) || *out != floor(*out)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return false;
  }
  return true;
}

bool ax_get_fd(napi_env env, napi_value v, int *fd) {
  double d;
  if (!get_integer(env, v, "fd must be an integer from 0 to 2^31-1", 0, INT32_MAX, &d)) return false;
  *fd = (int)d;
  return true;
}

bool ax_get_safe_int(napi_env env, napi_value v, const char *what, int64_t *out) {
  double d;
  if (!get_integer(env, v, what, 0, 9007199254740991.0, &d)) return false;
  *out = (int64_t)d;
  return true;
}

bool ax_get_bool(napi_env env, napi_value v, const char *what, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

bool ax_get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len, bool *detached) {
  bool is;
  napi_value ab = NULL;
  void *base = NULL;
  *detached = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t count, offset;
    napi_get_typedarray_info(env, v, &type, &count, &base, &ab, &offset);
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    *data = base;
    *len = count * elem;
  } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    size_t offset;
    napi_get_dataview_info(env, v, len, &base, &ab, &offset);
    *data = base;
  } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    ab = v;
    napi_get_arraybuffer_info(env, v, &base, len);
    *data = base;
  } else {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "data must be an ArrayBufferView or ArrayBuffer");
    return false;
  }
  if (ab != NULL && napi_is_detached_arraybuffer(env, ab, detached) == napi_ok && *detached) {
    *data = NULL;
    *len = 0;
  }
  if (*data == NULL) *len = 0;
  return true;
}

napi_value ax_int(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

napi_value ax_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

void ax_set_int(napi_env env, napi_value obj, const char *key, int64_t n) {
  napi_set_named_property(env, obj, key, ax_int(env, n));
}

void ax_set_bool(napi_env env, napi_value obj, const char *key, bool b) {
  napi_set_named_property(env, obj, key, ax_bool(env, b));
}

void ax_set_str(napi_env env, napi_value obj, const char *key, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

void ax_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}
