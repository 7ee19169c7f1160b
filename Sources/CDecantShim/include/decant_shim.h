// The little C that Swift cannot reach directly: variadic syscall(), function-like macros,
// headers the Glibc module does not export. Everything else is called from Swift as it is.
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

/// openat2(2) through syscall(): glibc 2.36 has no wrapper. Returns an fd, or -1 with errno set.
int decant_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// openat(2) with an explicit mode (the libc prototype is variadic).
int decant_openat(int dirfd, const char *path, int flags, mode_t mode);

/// RESOLVE_* flags of <linux/openat2.h>.
extern const uint64_t DECANT_RESOLVE_IN_ROOT;
extern const uint64_t DECANT_RESOLVE_NO_MAGICLINKS;
extern const uint64_t DECANT_RESOLVE_NO_SYMLINKS;

/// makedev/major/minor are macros in <sys/sysmacros.h>.
dev_t decant_makedev(unsigned int major, unsigned int minor);
unsigned int decant_major(dev_t dev);
unsigned int decant_minor(dev_t dev);

/// <sys/xattr.h>, which the Glibc module does not export.
int decant_fsetxattr(int fd, const char *name, const void *value, size_t size);
int decant_lsetxattr(const char *path, const char *name, const void *value, size_t size);
ssize_t decant_lgetxattr(const char *path, const char *name, void *value, size_t size);
ssize_t decant_llistxattr(const char *path, char *list, size_t size);

/// syncfs(2) needs _GNU_SOURCE in the header.
int decant_syncfs(int fd);

/// unshare(2) with CLONE_FS: the calling thread stops sharing its working directory, root and
/// umask with the other threads (both need _GNU_SOURCE, like syncfs).
int decant_unshare_file_system_attributes(void);

/// Sets FS_TOPDIR_FL (chattr +T) on a directory through FS_IOC_GETFLAGS/SETFLAGS; -1 with errno
/// set where the file system has no such flag (ENOTTY, EOPNOTSUPP).
int decant_mark_top_directory(int fd);

/// The open(2) flag O_DIRECT, which <fcntl.h> defines only with _GNU_SOURCE.
int decant_o_direct(void);

/// statx(2) with STATX_DIOALIGN (Linux 6.1) on an open file: the alignment direct I/O needs of
/// buffer addresses (`memory`) and of file offsets and lengths (`offset`). -1 where the kernel or
/// the file system does not say.
int decant_dio_alignment(int fd, unsigned *memory, unsigned *offset);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writeback of a range without waiting
/// for it (the flags need _GNU_SOURCE, like syncfs).
int decant_start_writeback(int fd, long long offset, long long length);

/// fallocate(2) with FALLOC_FL_KEEP_SIZE: allocates blocks for the file's first `length` bytes
/// without changing its size (the flag needs _GNU_SOURCE).
int decant_reserve_blocks(int fd, long long length);

/// cachestat(2) (Linux 6.5) over a whole file: its pages in the page cache that are dirty and
/// under writeback. -1 with errno set where the kernel lacks it (ENOSYS).
int decant_cachestat(int fd, unsigned long long *dirty, unsigned long long *writeback);

/// An io_uring instance, opaque to Swift: swift-system's headers pull in the kernel's
/// <linux/io_uring.h>, whose definitions clash with liburing's own copy in one Swift module.
typedef struct decant_ring decant_ring;

/// io_uring_queue_init(3) on a new ring; NULL with *error set to a negative errno on failure.
decant_ring *decant_ring_create(unsigned entries, int *error);
/// io_uring_queue_exit(3) and free.
void decant_ring_destroy(decant_ring *ring);
/// Queues a positional write tagged with `tag`; 0 when the submission queue is full.
int decant_ring_queue_write(decant_ring *ring, int fd, const void *buffer, unsigned length, uint64_t offset, uint64_t tag);
/// io_uring_submit_and_wait(3): submits what is queued, waits for at least `wait` completions.
int decant_ring_submit_and_wait(decant_ring *ring, unsigned wait);
/// Reaps one completion if there is one: returns 1 and fills tag/result, else 0.
int decant_ring_reap(decant_ring *ring, uint64_t *tag, int32_t *result);

/// zlib's inflateInit2 is a macro; window bits 15+16 accept a gzip wrapper only.
int decant_inflate_init_gzip(z_stream *stream);

/// A fresh readable descriptor for the directory `dirfd` refers to (which may be an `O_PATH`
/// descriptor), for `fdopendir(3)`, which takes ownership of what it is given.
int decant_openat_dot(int dirfd);

/// O_PATH, which the Glibc module does not export.
extern const int DECANT_O_PATH;

/// flistxattr(2) / fgetxattr(2), for copying a lower directory's attributes.
ssize_t decant_flistxattr(int fd, char *list, size_t size);
ssize_t decant_fgetxattr(int fd, const char *name, void *value, size_t size);
