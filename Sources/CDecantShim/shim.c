#define _GNU_SOURCE
#include "decant_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

int decant_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int decant_openat(int dirfd, const char *path, int flags, mode_t mode) {
    return openat(dirfd, path, flags, mode);
}

const uint64_t DECANT_RESOLVE_IN_ROOT = RESOLVE_IN_ROOT;
const uint64_t DECANT_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
const uint64_t DECANT_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;

dev_t decant_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int decant_major(dev_t dev) { return major(dev); }
unsigned int decant_minor(dev_t dev) { return minor(dev); }

int decant_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0);
}
int decant_lsetxattr(const char *path, const char *name, const void *value, size_t size) {
    return lsetxattr(path, name, value, size, 0);
}
ssize_t decant_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}
ssize_t decant_llistxattr(const char *path, char *list, size_t size) {
    return llistxattr(path, list, size);
}

int decant_syncfs(int fd) { return syncfs(fd); }

const uint8_t DECANT_IOSQE_IO_LINK = IOSQE_IO_LINK;

int decant_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}

int decant_openat_dot(int dirfd) {
    return openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

const int DECANT_O_PATH = O_PATH;
