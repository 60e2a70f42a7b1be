{
  "targets": [
    {
      "target_name": "multiproc_shm",
      "sources": ["native/shm.c"],
      "cflags_c": ["-std=c11", "-O2"]
    }
  ]
}
