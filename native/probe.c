/* Facts about the machine: interface offloads (ethtool), RLIMIT_MEMLOCK, and whether the kernel
 * accepts SO_ZEROCOPY here (io_uring is tried by starting the ring: native/uring.c). */
#define _GNU_SOURCE
#include "aiotx.h"
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif

static int ethtool_value(int sock, const char *ifname, uint32_t cmd, bool *out) {
  struct ethtool_value ev = {.cmd = cmd};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  ifr.ifr_data = (void *)&ev;
  if (ioctl(sock, SIOCETHTOOL, &ifr) < 0) return -errno;
  *out = ev.data != 0;
  return 0;
}

/* netdevFeatures(name) -> { sg, txcsum, tso } or -errno (-ENODEV for an unknown interface). */
static napi_value js_netdev_features(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj;
  char name[IFNAMSIZ + 1];
  size_t len;
  napi_valuetype t;
  if (!ax_get_args(env, info, 1, argv)) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "interface name must be a string");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
  if (len == 0 || len >= IFNAMSIZ) return ax_int(env, -ENODEV);
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return ax_int(env, -errno);
  bool sg = false, csum = false, tso = false;
  int r = ethtool_value(sock, name, ETHTOOL_GSG, &sg);
  if (r == 0) r = ethtool_value(sock, name, ETHTOOL_GTXCSUM, &csum);
  if (r == 0) r = ethtool_value(sock, name, ETHTOOL_GTSO, &tso);
  close(sock);
  if (r < 0) return ax_int(env, r);
  napi_create_object(env, &obj);
  ax_set_bool(env, obj, "sg", sg);
  ax_set_bool(env, obj, "txcsum", csum);
  ax_set_bool(env, obj, "tso", tso);
  return obj;
}

static int64_t limit_value(rlim_t v) { return v == RLIM_INFINITY ? -1 : (int64_t)v; }

/* memlock() -> { soft, hard } in bytes, -1 meaning unlimited. */
static napi_value js_memlock(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  struct rlimit rl;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0) return ax_int(env, -errno);
  napi_create_object(env, &obj);
  ax_set_int(env, obj, "soft", limit_value(rl.rlim_cur));
  ax_set_int(env, obj, "hard", limit_value(rl.rlim_max));
  return obj;
}

/* probeZerocopy() -> 0 when a TCP socket accepts SO_ZEROCOPY, else -errno. */
static napi_value js_probe_zerocopy(napi_env env, napi_callback_info info) {
  (void)info;
  int one = 1, r = 0;
  int sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return ax_int(env, -errno);
  if (setsockopt(sock, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) < 0) r = -errno;
  close(sock);
  return ax_int(env, r);
}

void ax_init_probe(napi_env env, napi_value exports) {
  ax_export(env, exports, "netdevFeatures", js_netdev_features);
  ax_export(env, exports, "memlock", js_memlock);
  ax_export(env, exports, "probeZerocopy", js_probe_zerocopy);
}
