{
  "targets": [
    {
      "target_name": "multiproc_shm",
      "sources": ["native/shm.cc"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "libraries": ["-lrt"]
    }
  ]
}
