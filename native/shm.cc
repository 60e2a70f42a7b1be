// POSIX shared memory for multiproc: shm_open + mmap, exposed to JavaScript
// as an external ArrayBuffer over the mapping. Plain Node-API (no C++
// wrapper), so it builds against the headers Node installs and loads in
// every worker thread.
//
// Lifetime: a mapping is released by unmap() (SharedMemory.close) or, if
// JavaScript forgets, by the ArrayBuffer's finalizer. Both go through one
// table under a mutex so a region is never unmapped twice (a second munmap
// could tear down an unrelated mapping that reused the address). unlink()
// only removes the name; mappings stay valid until they are unmapped.
#include <node_api.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

struct Mapping {
  void* addr;
  size_t length;
  bool unmapped;
};

std::mutex table_mutex;
std::unordered_map<void*, Mapping*> table;

napi_value ThrowErrno(napi_env env, const char* syscall, int err, const std::string& name) {
  std::string message = std::string(syscall) + " " + name + ": " + std::strerror(err);
  napi_value msg, code, error;
  napi_create_string_utf8(env, message.c_str(), NAPI_AUTO_LENGTH, &msg);
  const char* code_name = err == ENOENT ? "ENOENT" : err == EEXIST ? "EEXIST" : err == EACCES ? "EACCES" : err == EINVAL ? "EINVAL" : err == ENOMEM ? "ENOMEM" : err == ENOSPC ? "ENOSPC" : "EIO";
  napi_create_string_utf8(env, code_name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_value syscall_value;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return nullptr;
}

bool GetString(napi_env env, napi_value value, std::string* out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  out->resize(length + 1);
  napi_get_value_string_utf8(env, value, &(*out)[0], length + 1, &length);
  out->resize(length);
  return true;
}

void Finalize(napi_env, void*, void* hint) {
  Mapping* mapping = static_cast<Mapping*>(hint);
  std::lock_guard<std::mutex> lock(table_mutex);
  if (!mapping->unmapped) munmap(mapping->addr, mapping->length);
  table.erase(mapping->addr);
  delete mapping;
}

// open(name: string, create: boolean, size: number) -> { buffer: ArrayBuffer, inode: number }
// create: O_CREAT | O_EXCL and ftruncate to size; attach: size from fstat.
// The inode tells a later attach whether the name still means this block.
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string name;
  bool create = false;
  double size_arg = 0;
  if (argc < 3 || !GetString(env, argv[0], &name) || napi_get_value_bool(env, argv[1], &create) != napi_ok ||
      napi_get_value_double(env, argv[2], &size_arg) != napi_ok) {
    napi_throw_type_error(env, nullptr, "open(name, create, size)");
    return nullptr;
  }
  int fd = shm_open(name.c_str(), create ? (O_RDWR | O_CREAT | O_EXCL) : O_RDWR, 0600);
  if (fd < 0) return ThrowErrno(env, "shm_open", errno, name);
  size_t size = static_cast<size_t>(size_arg);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    if (create) shm_unlink(name.c_str());
    return ThrowErrno(env, "fstat", err, name);
  }
  if (create) {
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      int err = errno;
      close(fd);
      shm_unlink(name.c_str());
      return ThrowErrno(env, "ftruncate", err, name);
    }
  } else {
    size = static_cast<size_t>(st.st_size);
  }
  if (size == 0) {
    close(fd);
    return ThrowErrno(env, "mmap", EINVAL, name);
  }
  void* addr = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  close(fd);  // the mapping keeps the memory; the descriptor is not needed
  if (addr == MAP_FAILED) {
    if (create) shm_unlink(name.c_str());
    return ThrowErrno(env, "mmap", err, name);
  }
  Mapping* mapping = new Mapping{addr, size, false};
  {
    std::lock_guard<std::mutex> lock(table_mutex);
    table[addr] = mapping;
  }
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, addr, size, Finalize, mapping, &buffer) != napi_ok) {
    std::lock_guard<std::mutex> lock(table_mutex);
    munmap(addr, size);
    table.erase(addr);
    delete mapping;
    napi_throw_error(env, nullptr, "cannot create an external ArrayBuffer over the mapping");
    return nullptr;
  }
  napi_value result, inode;
  napi_create_object(env, &result);
  napi_create_double(env, static_cast<double>(st.st_ino), &inode);
  napi_set_named_property(env, result, "buffer", buffer);
  napi_set_named_property(env, result, "inode", inode);
  return result;
}

// inode(name: string) -> number: which block the name means now.
napi_value Inode(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string name;
  if (argc < 1 || !GetString(env, argv[0], &name)) {
    napi_throw_type_error(env, nullptr, "inode(name)");
    return nullptr;
  }
  int fd = shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return ThrowErrno(env, "shm_open", errno, name);
  struct stat st;
  int rc = fstat(fd, &st);
  int err = errno;
  close(fd);
  if (rc != 0) return ThrowErrno(env, "fstat", err, name);
  napi_value inode;
  napi_create_double(env, static_cast<double>(st.st_ino), &inode);
  return inode;
}

// unmap(buffer: ArrayBuffer): unmaps now and detaches the buffer, so any
// view over it reads as empty instead of touching unmapped memory.
napi_value Unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is_buffer = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, nullptr, "unmap(arrayBuffer)");
    return nullptr;
  }
  void* data = nullptr;
  size_t length = 0;
  napi_get_arraybuffer_info(env, argv[0], &data, &length);
  if (data == nullptr) return nullptr;  // already detached
  {
    std::lock_guard<std::mutex> lock(table_mutex);
    auto it = table.find(data);
    if (it == table.end() || it->second->unmapped) return nullptr;
    munmap(it->second->addr, it->second->length);
    it->second->unmapped = true;
  }
  napi_detach_arraybuffer(env, argv[0]);
  return nullptr;
}

// unlink(name: string): removes the name; existing mappings stay valid.
napi_value Unlink(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  std::string name;
  if (argc < 1 || !GetString(env, argv[0], &name)) {
    napi_throw_type_error(env, nullptr, "unlink(name)");
    return nullptr;
  }
  if (shm_unlink(name.c_str()) != 0) return ThrowErrno(env, "shm_unlink", errno, name);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unmap", nullptr, Unmap, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"inode", nullptr, Inode, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unlink", nullptr, Unlink, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
