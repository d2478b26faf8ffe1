{
  "targets": [
    {
      "target_name": "nvo_io",
      "sources": ["nvo_io.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
