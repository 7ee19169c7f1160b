#define _GNU_SOURCE
#include "decant_shim.h"

#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

int decant_o_direct(void) {
    return O_DIRECT;
}

int decant_dio_alignment(int fd, unsigned *memory, unsigned *offset) {
    struct statx status;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &status) != 0) return -1;
    if (!(status.stx_mask & STATX_DIOALIGN) || status.stx_dio_mem_align == 0) return -1;
    *memory = status.stx_dio_mem_align;
    *offset = status.stx_dio_offset_align;
    return 0;
}

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

int decant_unshare_file_system_attributes(void) { return unshare(CLONE_FS); }

int decant_start_writeback(int fd, long long offset, long long length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int decant_reserve_blocks(int fd, long long length) {
    return fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, length);
}

#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

int decant_cachestat(int fd, unsigned long long *dirty, unsigned long long *writeback) {
    struct { unsigned long long off, len; } range = { 0, 0 };
    struct {
        unsigned long long cache, dirty, writeback, evicted, recently_evicted;
    } stat = { 0 };
    long result = syscall(__NR_cachestat, fd, &range, &stat, 0);
    if (result != 0) return -1;
    *dirty = stat.dirty;
    *writeback = stat.writeback;
    return 0;
}

struct decant_ring {
    struct io_uring ring;
};

decant_ring *decant_ring_create(unsigned entries, int *error) {
    decant_ring *ring = calloc(1, sizeof(*ring));
    if (ring == NULL) { *error = -ENOMEM; return NULL; }
    int result = io_uring_queue_init(entries, &ring->ring, 0);
    if (result < 0) { free(ring); *error = result; return NULL; }
    return ring;
}

void decant_ring_destroy(decant_ring *ring) {
    io_uring_queue_exit(&ring->ring);
    free(ring);
}

int decant_ring_queue_write(decant_ring *ring, int fd, const void *buffer, unsigned length, uint64_t offset, uint64_t tag) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
    if (sqe == NULL) return 0;
    io_uring_prep_write(sqe, fd, buffer, length, offset);
    io_uring_sqe_set_data64(sqe, tag);
    return 1;
}

int decant_ring_submit_and_wait(decant_ring *ring, unsigned wait) {
    return io_uring_submit_and_wait(&ring->ring, wait);
}

int decant_ring_reap(decant_ring *ring, uint64_t *tag, int32_t *result) {
    struct io_uring_cqe *cqe = NULL;
    if (io_uring_peek_cqe(&ring->ring, &cqe) != 0 || cqe == NULL) return 0;
    *tag = io_uring_cqe_get_data64(cqe);
    *result = cqe->res;
    io_uring_cqe_seen(&ring->ring, cqe);
    return 1;
}

int decant_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}

int decant_openat_dot(int dirfd) {
    return openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

const int DECANT_O_PATH = O_PATH;

ssize_t decant_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }
ssize_t decant_fgetxattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }

int decant_mark_top_directory(int fd) {
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    if (flags & FS_TOPDIR_FL) return 0;
    flags |= FS_TOPDIR_FL;
    return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}
