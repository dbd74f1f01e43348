{
  "variables": {
    "aiotx_native": "<!(node -p \"require('path').join(require('path').dirname(require.resolve('aiotx/package.json')), 'native')\")"
  },
  "targets": [
    {
      "target_name": "aiotx_bench",
      "sources": [
        "native/addon.c",
        "native/bench_ops.c",
        "native/tcp_sink.c",
        "native/uring_floor.c",
        "native/aiotx_args.c"
      ],
      "include_dirs": ["<(aiotx_native)"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
