{
  "targets": [
    {
      "target_name": "aiotx",
      "sources": [
        "native/addon.c",
        "native/args.c",
        "native/file_ops.c",
        "native/poller.c",
        "native/probe.c",
        "native/socket_ops.c",
        "native/uring.c",
        "native/wakeup.c"
      ],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
