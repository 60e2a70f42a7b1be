// POSIX shared memory for multiproc: a named file under /dev/shm mapped with
// mmap, exposed to JavaScript as an external ArrayBuffer over the mapping.
//
// Plain C against node_api.h (no C++ runtime): the compiled addon needs
// nothing but libc, so the same source builds with gcc for glibc, with a
// cross gcc for arm64 and with musl-gcc, and one N-API build loads on every
// Node version (NAPI_VERSION 8 is in Node >= 12.22).
//
// Portability of the prebuilt binaries: shm_open/shm_unlink and fstat carry
// glibc symbol versions from 2.33/2.34 on, which would refuse to load on
// older glibc (Node itself runs on glibc >= 2.28). shm_open on Linux is an
// open() under /dev/shm in both glibc and musl, so it is done here the same
// way; the inode and size come from statx on glibc (2.28) and fstat on musl.
//
// Lifetime: a mapping is released by unmap() (SharedMemory.close) or, if
// JavaScript forgets, by the ArrayBuffer's finalizer. Both go through one
// list under a mutex so a region is never unmapped twice (a second munmap
// could tear down an unrelated mapping that reused the address). unlink()
// only removes the name; mappings stay valid until they are unmapped.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Mapping {
  void* addr;
  size_t length;
  bool unmapped;
  struct Mapping* next;
} Mapping;

static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
static Mapping* table = NULL;

// Caller holds table_mutex.
static Mapping* Find(void* addr) {
  for (Mapping* m = table; m != NULL; m = m->next) {
    if (m->addr == addr) return m;
  }
  return NULL;
}

// Caller holds table_mutex.
static void Remove(Mapping* mapping) {
  for (Mapping** p = &table; *p != NULL; p = &(*p)->next) {
    if (*p == mapping) {
      *p = mapping->next;
      return;
    }
  }
}

static napi_value ThrowErrno(napi_env env, const char* syscall, int err, const char* name) {
  char message[512];
  snprintf(message, sizeof message, "%s %s: %s", syscall, name, strerror(err));
  const char* code_name = err == ENOENT   ? "ENOENT"
                          : err == EEXIST ? "EEXIST"
                          : err == EACCES ? "EACCES"
                          : err == EINVAL ? "EINVAL"
                          : err == ENOMEM ? "ENOMEM"
                          : err == ENOSPC ? "ENOSPC"
                                          : "EIO";
  napi_value msg, code, error, syscall_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, code_name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

// A POSIX shared memory name: one leading slash, no other, 1..250 bytes after
// it (the rules glibc's shm_open enforces). Writes "/dev/shm/<name>" to path.
static bool GetShmPath(napi_env env, napi_value value, char* name, size_t name_size, char* path, size_t path_size) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, name, name_size, &length) != napi_ok) return false;
  if (length >= name_size - 1 || length < 2 || name[0] != '/' || strchr(name + 1, '/') != NULL) {
    errno = EINVAL;
    path[0] = '\0';
    return true;
  }
  snprintf(path, path_size, "/dev/shm%s", name);
  return true;
}

// Size and inode of an open descriptor; -1 with errno on failure.
static int Describe(int fd, uint64_t* size, uint64_t* inode) {
#if defined(__GLIBC__)
  struct statx st;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_SIZE, &st) != 0) return -1;
  *size = st.stx_size;
  *inode = st.stx_ino;
#else
  struct stat st;
  if (fstat(fd, &st) != 0) return -1;
  *size = (uint64_t)st.st_size;
  *inode = (uint64_t)st.st_ino;
#endif
  return 0;
}

static void Finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  Mapping* mapping = (Mapping*)hint;
  pthread_mutex_lock(&table_mutex);
  if (!mapping->unmapped) munmap(mapping->addr, mapping->length);
  Remove(mapping);
  pthread_mutex_unlock(&table_mutex);
  free(mapping);
}

#define NAME_SIZE 256
#define PATH_SIZE (NAME_SIZE + 16)

// open(name: string, create: boolean, size: number) -> { buffer: ArrayBuffer, inode: number }
// create: O_CREAT | O_EXCL and ftruncate to size; attach: size from the file.
// The inode tells a later attach whether the name still means this block.
static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[NAME_SIZE], path[PATH_SIZE];
  bool create = false;
  double size_arg = 0;
  if (argc < 3 || !GetShmPath(env, argv[0], name, sizeof name, path, sizeof path) ||
      napi_get_value_bool(env, argv[1], &create) != napi_ok || napi_get_value_double(env, argv[2], &size_arg) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(name, create, size)");
    return NULL;
  }
  if (path[0] == '\0') return ThrowErrno(env, "shm_open", EINVAL, name);
  int flags = (create ? (O_RDWR | O_CREAT | O_EXCL) : O_RDWR) | O_NOFOLLOW | O_CLOEXEC;
  int fd = open(path, flags, 0600);
  if (fd < 0) return ThrowErrno(env, "shm_open", errno, name);
  size_t size = (size_t)size_arg;
  uint64_t file_size = 0, inode = 0;
  if (Describe(fd, &file_size, &inode) != 0) {
    int err = errno;
    close(fd);
    if (create) unlink(path);
    return ThrowErrno(env, "fstat", err, name);
  }
  if (create) {
    if (ftruncate(fd, (off_t)size) != 0) {
      int err = errno;
      close(fd);
      unlink(path);
      return ThrowErrno(env, "ftruncate", err, name);
    }
  } else {
    size = (size_t)file_size;
  }
  if (size == 0) {
    close(fd);
    return ThrowErrno(env, "mmap", EINVAL, name);
  }
  void* addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);  // the mapping keeps the memory; the descriptor is not needed
  if (addr == MAP_FAILED) {
    if (create) unlink(path);
    return ThrowErrno(env, "mmap", err, name);
  }
  Mapping* mapping = (Mapping*)malloc(sizeof(Mapping));
  if (mapping == NULL) {
    munmap(addr, size);
    if (create) unlink(path);
    return ThrowErrno(env, "malloc", ENOMEM, name);
  }
  mapping->addr = addr;
  mapping->length = size;
  mapping->unmapped = false;
  pthread_mutex_lock(&table_mutex);
  mapping->next = table;
  table = mapping;
  pthread_mutex_unlock(&table_mutex);
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, addr, size, Finalize, mapping, &buffer) != napi_ok) {
    pthread_mutex_lock(&table_mutex);
    munmap(addr, size);
    Remove(mapping);
    pthread_mutex_unlock(&table_mutex);
    free(mapping);
    napi_throw_error(env, NULL, "cannot create an external ArrayBuffer over the mapping");
    return NULL;
  }
  napi_value result, inode_value;
  napi_create_object(env, &result);
  napi_create_double(env, (double)inode, &inode_value);
  napi_set_named_property(env, result, "buffer", buffer);
  napi_set_named_property(env, result, "inode", inode_value);
  return result;
}

// inode(name: string) -> number: which block the name means now.
static napi_value Inode(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[NAME_SIZE], path[PATH_SIZE];
  if (argc < 1 || !GetShmPath(env, argv[0], name, sizeof name, path, sizeof path)) {
    napi_throw_type_error(env, NULL, "inode(name)");
    return NULL;
  }
  if (path[0] == '\0') return ThrowErrno(env, "shm_open", EINVAL, name);
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "shm_open", errno, name);
  uint64_t size = 0, inode = 0;
  int rc = Describe(fd, &size, &inode);
  int err = errno;
  close(fd);
  if (rc != 0) return ThrowErrno(env, "fstat", err, name);
  napi_value inode_value;
  napi_create_double(env, (double)inode, &inode_value);
  return inode_value;
}

// unmap(buffer: ArrayBuffer): unmaps now and detaches the buffer, so any
// view over it reads as empty instead of touching unmapped memory.
static napi_value Unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_buffer = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "unmap(arrayBuffer)");
    return NULL;
  }
  void* data = NULL;
  size_t length = 0;
  napi_get_arraybuffer_info(env, argv[0], &data, &length);
  if (data == NULL) return NULL;  // already detached
  pthread_mutex_lock(&table_mutex);
  Mapping* mapping = Find(data);
  if (mapping == NULL || mapping->unmapped) {
    pthread_mutex_unlock(&table_mutex);
    return NULL;
  }
  munmap(mapping->addr, mapping->length);
  mapping->unmapped = true;
  pthread_mutex_unlock(&table_mutex);
  napi_detach_arraybuffer(env, argv[0]);
  return NULL;
}

// unlink(name: string): removes the name; existing mappings stay valid.
static napi_value Unlink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[NAME_SIZE], path[PATH_SIZE];
  if (argc < 1 || !GetShmPath(env, argv[0], name, sizeof name, path, sizeof path)) {
    napi_throw_type_error(env, NULL, "unlink(name)");
    return NULL;
  }
  if (path[0] == '\0') return ThrowErrno(env, "shm_unlink", EINVAL, name);
  if (unlink(path) != 0) return ThrowErrno(env, "shm_unlink", errno, name);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_default, NULL},
      {"unmap", NULL, Unmap, NULL, NULL, NULL, napi_default, NULL},
      {"inode", NULL, Inode, NULL, NULL, NULL, napi_default, NULL},
      {"unlink", NULL, Unlink, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
