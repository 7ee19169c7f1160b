// uring-create: creating many small files with plain system calls against io_uring.
//
// Mimics the file-creation part of extracting a many-small-files layer: D directories (made
// first, parents before children), then N regular files grouped by directory as in a tar,
// each created with its final mode (O_CREAT|O_EXCL|O_WRONLY, 0644) relative to its
// directory's descriptor, written from an in-memory buffer, chowned (0:0), given its mtime
// (futimens) and closed. Sizes come from a fixed-seed mixture typical of OS images (see
// make_files); the same seed gives the same tree for every variant.
//
//   uring-create [-n FILES] [-d DIRS] [-s SEED] VARIANT DIR
//
// Variants (meta = fchown + futimens per file; "nometa" variants skip them, see below):
//   plain          openat, write, fchown, futimens, close: one system call each
//   plain-nometa   openat, write, close (the baseline for the link* variants)
//   data           Decant's current --io uring: openat/fchown/futimens/close are system calls,
//                  the writes go through io_uring, submitted (and waited for) at every 1 MiB of
//                  tar stream (512-byte headers + padded data) or 128 files waiting, ring of 256
//   ops32, ops256  io_uring for everything it has an op for, B files per batch in three
//                  submissions: B x OPENAT (normal descriptors), then B x WRITE, then fchown and
//                  futimens (system calls) and B x CLOSE.
//                  Directories: MKDIRAT, batched per tree level.
//   link32, link256  one submission per B files: OPENAT into direct descriptor slot j ->
//                  WRITE (fixed file) -> CLOSE of the slot, linked with IOSQE_IO_LINK. nometa:
//                  a direct descriptor cannot be fchown'ed or futimens'ed and io_uring has no op
//                  for either, so these create, write and close only (compare with plain-nometa).
//   link256-install  like link256, plus FIXED_FD_INSTALL (kernel >= 6.8) in each chain before
//                  the slot's CLOSE, which hands back a normal descriptor; then fchown, futimens
//                  and close as system calls: the full metadata with one submission per batch.
//   link256-w1     link256 with io-wq limited to one bounded worker (register_iowq_max_workers)
//   link256-sqpoll link256 on an IORING_SETUP_SQPOLL ring (sq_thread_idle 50 ms)
//
// Timed: from before the first mkdir to after the last close (ring setup excluded). Reported,
// one line of key=value: wall, CPU of the process (getrusage RUSAGE_SELF: all threads, io-wq
// workers included), of the main thread (RUSAGE_THREAD), of the io_uring kernel threads
// (iou-wrk-* workers, iou-sqp-* poller: utime+stime from /proc/self/task/TID/stat, sampled every
// 20 ms by a sampler thread and once more at the end), how many such threads were seen in total
// and at most at once, the sampler's own CPU, and the CPU everyone else used on the machine
// meanwhile (/proc/stat busy minus ours). Then, untimed, every file is checked with fstatat
// (size, mode, and the mtime where meta).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef IORING_OP_FIXED_FD_INSTALL_NR
#define IORING_OP_FIXED_FD_INSTALL_NR 54 // enum io_uring_op, Linux 6.8; liburing 2.3 predates it
#endif

#define MTIME_SEC 1577836800 // 2020-01-01T00:00:00Z, what every file gets (meta variants)
#define OPEN_FLAGS (O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW)

static void die(const char *what, int err) {
    fprintf(stderr, "uring-create: %s: %s\n", what, strerror(err));
    exit(1);
}

// ---- workload ------------------------------------------------------------------------------

typedef struct { int parent; int depth; char name[16]; } dir_t;
typedef struct { int dir; uint32_t size; uint32_t offset; char name[16]; } file_t;

static uint64_t rng_state;
static uint64_t rng(void) { // splitmix64
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double uniform(void) { return (double)(rng() >> 11) / 9007199254740992.0; }
static uint32_t log_uniform(double lo, double hi) { return (uint32_t)exp(log(lo) + uniform() * (log(hi) - log(lo))); }

static int ndirs, nfiles;
static dir_t *dirs;
static file_t *files;
static unsigned char *data; // the "decoded" bytes every file is written from
#define DATA_SIZE (2u << 20)
#define MAX_FILE (1u << 20)

static int cmp_file(const void *a, const void *b) {
    const file_t *x = a, *y = b;
    return x->dir != y->dir ? (x->dir < y->dir ? -1 : 1) : 0;
}

static void make_workload(uint64_t seed) {
    rng_state = seed;
    dirs = calloc(ndirs, sizeof *dirs);
    files = calloc(nfiles, sizeof *files);
    // A random recursive tree: 20 top-level directories, every other one under a random earlier one.
    for (int i = 0; i < ndirs; i++) {
        int parent = i < 20 ? -1 : (int)(rng() % (uint64_t)i);
        dirs[i].parent = parent;
        dirs[i].depth = parent < 0 ? 0 : dirs[parent].depth + 1;
        snprintf(dirs[i].name, sizeof dirs[i].name, "d%05d", i);
    }
    // Sizes: 8 % empty, 81 % log-uniform 64 B..16 KiB, 10 % 16..128 KiB, 1 % 128 KiB..1 MiB
    // (mean ~12 KiB, so 50,000 files ~600 MB). Directories: skewed, a few hold many files.
    for (int i = 0; i < nfiles; i++) {
        double u = uniform();
        uint32_t size = u < 0.08 ? 0 : u < 0.89 ? log_uniform(64, 16384)
                      : u < 0.99 ? log_uniform(16384, 131072) : log_uniform(131072, MAX_FILE);
        double v = uniform();
        files[i].dir = (int)(v * v * ndirs);
        files[i].size = size;
        files[i].offset = (uint32_t)(rng() % (DATA_SIZE - MAX_FILE));
        snprintf(files[i].name, sizeof files[i].name, "f%06d", i);
    }
    qsort(files, nfiles, sizeof *files, cmp_file); // tar order: a directory's files together
    data = malloc(DATA_SIZE);
    for (size_t i = 0; i < DATA_SIZE; i += 8) { uint64_t r = rng(); memcpy(data + i, &r, 8); }
}

// ---- measurement -----------------------------------------------------------------------------

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

#define MAX_TIDS 4096
static struct { int tid; double cpu; } seen[MAX_TIDS];
static int nseen, max_concurrent;
static double sampler_cpu;
static atomic_int sampling = 1;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void sample_threads(void) { // iou-wrk-*/iou-sqp-* threads of this process and their CPU
    static long ticks;
    if (ticks == 0) ticks = sysconf(_SC_CLK_TCK);
    DIR *task = opendir("/proc/self/task");
    if (task == NULL) return;
    int concurrent = 0;
    struct dirent *entry;
    pthread_mutex_lock(&seen_lock);
    while ((entry = readdir(task)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", entry->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
        if (!open_paren || !close_paren) continue;
        if (strncmp(open_paren + 1, "iou-wrk", 7) != 0 && strncmp(open_paren + 1, "iou-sqp", 7) != 0) continue;
        concurrent++;
        // after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
        unsigned long utime = 0, stime = 0;
        sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
        int tid = atoi(entry->d_name);
        int k = 0;
        while (k < nseen && seen[k].tid != tid) k++;
        if (k == nseen && nseen < MAX_TIDS) seen[nseen++].tid = tid;
        if (k < MAX_TIDS) seen[k].cpu = (double)(utime + stime) / ticks;
    }
    if (concurrent > max_concurrent) max_concurrent = concurrent;
    pthread_mutex_unlock(&seen_lock);
    closedir(task);
}

static void *sampler(void *arg) {
    (void)arg;
    while (atomic_load(&sampling)) {
        sample_threads();
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    sampler_cpu = t.tv_sec + t.tv_nsec / 1e9;
    return NULL;
}

static double machine_busy(void) { // CPU-seconds all CPUs spent not idle, since boot
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = { 0 };
    if (f == NULL || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) {
        if (f) fclose(f);
        return 0;
    }
    fclose(f);
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / sysconf(_SC_CLK_TCK); // minus idle, iowait
}

// ---- shared pieces ---------------------------------------------------------------------------

static int *dirfd_of;  // descriptor of every directory, opened right after it was made
static int rootfd;
static int failures;

static int parent_fd(int d) { return dirs[d].parent < 0 ? rootfd : dirfd_of[dirs[d].parent]; }

static void open_dir(int d) {
    int fd = openat(parent_fd(d), dirs[d].name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) die("open directory", errno);
    dirfd_of[d] = fd;
}

static void write_all(int fd, const unsigned char *p, size_t n, off_t offset) {
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, offset);
        if (w < 0) { if (errno == EINTR) continue; die("write", errno); }
        p += w; n -= (size_t)w; offset += w;
    }
}

static void set_meta(int fd) {
    static const struct timespec times[2] = { { MTIME_SEC, 0 }, { MTIME_SEC, 0 } };
    if (fchown(fd, 0, 0) != 0) die("fchown", errno);
    if (futimens(fd, times) != 0) die("futimens", errno);
}

static struct io_uring ring;

static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    if (sqe == NULL) { fprintf(stderr, "uring-create: submission queue full\n"); exit(1); }
    return sqe;
}

// Submits what is queued, waits for `count` completions and hands each to `handle`.
static void submit_wait(unsigned count, void (*handle)(uint64_t tag, int res)) {
    unsigned done = 0;
    int r = io_uring_submit_and_wait(&ring, count);
    if (r < 0) die("io_uring_submit_and_wait", -r);
    while (done < count) {
        struct io_uring_cqe *cqe;
        r = io_uring_wait_cqe(&ring, &cqe);
        if (r < 0) { if (r == -EINTR) continue; die("io_uring_wait_cqe", -r); }
        unsigned head, seen_now = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            handle(cqe->user_data, cqe->res);
            seen_now++;
        }
        io_uring_cq_advance(&ring, seen_now);
        done += seen_now;
    }
}

// ---- directories -----------------------------------------------------------------------------

static void mkdirs_plain(void) {
    for (int d = 0; d < ndirs; d++) {
        if (mkdirat(parent_fd(d), dirs[d].name, 0755) != 0) die("mkdirat", errno);
        open_dir(d);
    }
}

static void mkdir_done(uint64_t tag, int res) { (void)tag; if (res < 0) die("IORING_OP_MKDIRAT", -res); }

static void mkdirs_uring(unsigned batch) { // MKDIRAT, one level of the tree after the other
    int maxdepth = 0;
    for (int d = 0; d < ndirs; d++) if (dirs[d].depth > maxdepth) maxdepth = dirs[d].depth;
    int *level = malloc(ndirs * sizeof *level);
    for (int depth = 0; depth <= maxdepth; depth++) {
        int n = 0;
        for (int d = 0; d < ndirs; d++) if (dirs[d].depth == depth) level[n++] = d;
        for (int i = 0; i < n; i += batch) {
            unsigned k = 0;
            for (int j = i; j < n && j < i + (int)batch; j++, k++) {
                struct io_uring_sqe *sqe = sqe_get();
                io_uring_prep_mkdirat(sqe, parent_fd(level[j]), dirs[level[j]].name, 0755);
                sqe->user_data = (uint64_t)level[j];
            }
            submit_wait(k, mkdir_done);
            for (int j = i; j < n && j < i + (int)batch; j++) open_dir(level[j]);
        }
    }
    free(level);
}

// ---- variants --------------------------------------------------------------------------------

static void run_plain(int meta) {
    mkdirs_plain();
    for (int i = 0; i < nfiles; i++) {
        file_t *f = &files[i];
        int fd = openat(dirfd_of[f->dir], f->name, OPEN_FLAGS, 0644);
        if (fd < 0) die("openat", errno);
        if (f->size) write_all(fd, data + f->offset, f->size, 0);
        if (meta) set_meta(fd);
        if (close(fd) != 0) die("close", errno);
    }
}

// data: Decant's UringFileSink. Files are opened by system call as their header is read; their
// data is queued as writes; at the end of every 1 MiB of tar stream, when 128 files wait, or when
// the submission queue is full, everything queued is submitted and waited for, and the waiting
// files get their metadata and are closed.
#define STREAM_BUFFER (1u << 20)
static struct { int file; int fd; uint32_t length; uint32_t offset; } *pending_writes;
static int npending;
static int *finishing, nfinishing;

static void data_write_done(uint64_t tag, int res) {
    if (res < 0) die("IORING_OP_WRITE", -res);
    if ((uint32_t)res < pending_writes[tag].length) { // finish a short write with pwrite
        file_t *f = &files[pending_writes[tag].file];
        uint32_t at = pending_writes[tag].offset + (uint32_t)res;
        write_all(pending_writes[tag].fd, data + f->offset + at, f->size - at, at);
    }
}

static void data_complete(void) {
    if (npending) submit_wait((unsigned)npending, data_write_done);
    npending = 0;
}

static void data_drain(int *fds) {
    data_complete();
    for (int k = 0; k < nfinishing; k++) {
        int fd = fds[finishing[k]];
        set_meta(fd);
        if (close(fd) != 0) die("close", errno);
    }
    nfinishing = 0;
}

static void run_data(void) {
    mkdirs_plain();
    pending_writes = malloc(256 * sizeof *pending_writes);
    finishing = malloc(128 * sizeof *finishing);
    int *fds = malloc(nfiles * sizeof *fds);
    uint64_t stream = 0; // bytes of the tar stream consumed
    for (int i = 0; i < nfiles; i++) {
        file_t *f = &files[i];
        stream += 512;
        if (stream % STREAM_BUFFER < 512) data_drain(fds); // the header ended a buffer
        fds[i] = openat(dirfd_of[f->dir], f->name, OPEN_FLAGS, 0644);
        if (fds[i] < 0) die("openat", errno);
        uint32_t written = 0;
        while (written < f->size) { // the file's data, cut at buffer boundaries
            uint32_t room = STREAM_BUFFER - (uint32_t)(stream % STREAM_BUFFER);
            uint32_t n = f->size - written < room ? f->size - written : room;
            if (io_uring_sq_space_left(&ring) == 0) data_complete();
            struct io_uring_sqe *sqe = sqe_get();
            io_uring_prep_write(sqe, fds[i], data + f->offset + written, n, written);
            sqe->user_data = (uint64_t)npending;
            pending_writes[npending].file = i;
            pending_writes[npending].fd = fds[i];
            pending_writes[npending].length = n;
            pending_writes[npending].offset = written;
            npending++;
            written += n;
            stream += n;
            if (stream % STREAM_BUFFER == 0) data_drain(fds);
        }
        uint32_t pad = (512 - f->size % 512) % 512;
        if (pad && (stream % STREAM_BUFFER) + pad >= STREAM_BUFFER) { stream += pad; data_drain(fds); }
        else stream += pad;
        // finish(file): waits for the drain; 128 waiting files force one
        finishing[nfinishing++] = i;
        if (nfinishing >= 128) data_drain(fds);
    }
    data_drain(fds);
    free(fds);
}

// ops: three submissions per batch of B files, normal descriptors.
static int *batch_fd;
static int batch_base;

static void ops_open_done(uint64_t tag, int res) {
    if (res < 0) die("IORING_OP_OPENAT", -res);
    batch_fd[tag - (uint64_t)batch_base] = res;
}
static void ops_write_done(uint64_t tag, int res) {
    if (res < 0) die("IORING_OP_WRITE", -res);
    file_t *f = &files[tag];
    if ((uint32_t)res < f->size) write_all(batch_fd[tag - (uint64_t)batch_base], data + f->offset + res, f->size - (uint32_t)res, res);
}
static void ops_close_done(uint64_t tag, int res) { (void)tag; if (res < 0) die("IORING_OP_CLOSE", -res); }

static void run_ops(unsigned batch) {
    mkdirs_uring(batch);
    batch_fd = malloc(batch * sizeof *batch_fd);
    for (int i = 0; i < nfiles; i += (int)batch) {
        int end = i + (int)batch < nfiles ? i + (int)batch : nfiles;
        unsigned n = (unsigned)(end - i), writes = 0;
        batch_base = i;
        for (int j = i; j < end; j++) {
            struct io_uring_sqe *sqe = sqe_get();
            io_uring_prep_openat(sqe, dirfd_of[files[j].dir], files[j].name, OPEN_FLAGS, 0644);
            sqe->user_data = (uint64_t)j;
        }
        submit_wait(n, ops_open_done);
        for (int j = i; j < end; j++) {
            if (files[j].size == 0) continue;
            struct io_uring_sqe *sqe = sqe_get();
            io_uring_prep_write(sqe, batch_fd[j - i], data + files[j].offset, files[j].size, 0);
            sqe->user_data = (uint64_t)j;
            writes++;
        }
        if (writes) submit_wait(writes, ops_write_done);
        for (int j = i; j < end; j++) {
            set_meta(batch_fd[j - i]); // after the data, as in Decant (a write moves the mtime)
            struct io_uring_sqe *sqe = sqe_get();
            io_uring_prep_close(sqe, batch_fd[j - i]);
            sqe->user_data = (uint64_t)j;
        }
        submit_wait(n, ops_close_done);
    }
    free(batch_fd);
}

// link: one submission per batch; chain per file OPENAT(direct slot) -> WRITE -> [FIXED_FD_INSTALL] -> CLOSE(slot).
enum { K_OPEN, K_WRITE, K_INSTALL, K_CLOSE };
#define TAG(kind, file) (((uint64_t)(kind) << 32) | (uint32_t)(file))

static void link_done(uint64_t tag, int res) {
    int kind = (int)(tag >> 32), file = (int)(uint32_t)tag;
    if (res < 0) {
        static const char *names[] = { "OPENAT(direct)", "WRITE(fixed)", "FIXED_FD_INSTALL", "CLOSE(direct)" };
        if (failures++ < 5) fprintf(stderr, "uring-create: %s of %s: %s\n", names[kind], files[file].name, strerror(-res));
        return;
    }
    if (kind == K_WRITE && (uint32_t)res != files[file].size) { // a short write breaks the link
        if (failures++ < 5) fprintf(stderr, "uring-create: short linked write (%d of %u)\n", res, files[file].size);
    }
    if (kind == K_INSTALL) batch_fd[file - batch_base] = res;
}

static void run_link(unsigned batch, int install) {
    mkdirs_uring(batch);
    int r = io_uring_register_files_sparse(&ring, batch);
    if (r < 0) die("io_uring_register_files_sparse", -r);
    batch_fd = malloc(batch * sizeof *batch_fd);
    for (int i = 0; i < nfiles; i += (int)batch) {
        int end = i + (int)batch < nfiles ? i + (int)batch : nfiles;
        unsigned sqes = 0;
        batch_base = i;
        for (int j = i; j < end; j++) {
            unsigned slot = (unsigned)(j - i);
            struct io_uring_sqe *sqe = sqe_get();
            // O_CLOEXEC is refused (EINVAL) for a direct descriptor: it has no place in the fd table
            io_uring_prep_openat_direct(sqe, dirfd_of[files[j].dir], files[j].name, OPEN_FLAGS & ~O_CLOEXEC, 0644, slot);
            sqe->flags |= IOSQE_IO_LINK;
            sqe->user_data = TAG(K_OPEN, j);
            sqes++;
            if (files[j].size) {
                sqe = sqe_get();
                io_uring_prep_write(sqe, (int)slot, data + files[j].offset, files[j].size, 0);
                sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
                sqe->user_data = TAG(K_WRITE, j);
                sqes++;
            }
            if (install) { // io_uring_prep_fixed_fd_install (liburing >= 2.6), by hand
                sqe = sqe_get();
                io_uring_prep_rw(IORING_OP_FIXED_FD_INSTALL_NR, sqe, (int)slot, NULL, 0, 0);
                sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
                sqe->rw_flags = 0; // install_fd_flags: 0 = O_CLOEXEC
                sqe->user_data = TAG(K_INSTALL, j);
                sqes++;
            }
            sqe = sqe_get();
            io_uring_prep_close_direct(sqe, slot);
            sqe->user_data = TAG(K_CLOSE, j);
            sqes++;
        }
        submit_wait(sqes, link_done);
        if (failures) { fprintf(stderr, "uring-create: %d failed operations\n", failures); exit(1); }
        if (install) {
            for (int j = i; j < end; j++) {
                set_meta(batch_fd[j - i]);
                if (close(batch_fd[j - i]) != 0) die("close", errno);
            }
        }
    }
    free(batch_fd);
}

// ---- main ------------------------------------------------------------------------------------

static void verify(int meta, const char *variant) {
    int bad = 0;
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (fstatat(dirfd_of[files[i].dir], files[i].name, &st, AT_SYMLINK_NOFOLLOW) != 0) { bad++; continue; }
        if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644 || st.st_size != files[i].size) bad++;
        else if (meta && (st.st_mtim.tv_sec != MTIME_SEC || st.st_uid != 0 || st.st_gid != 0)) bad++;
    }
    if (bad) { fprintf(stderr, "uring-create: %s: %d of %d files wrong\n", variant, bad, nfiles); exit(1); }
}

static int has_op(int op) {
    struct io_uring_probe *probe = io_uring_get_probe();
    int ok = probe != NULL && io_uring_opcode_supported(probe, op);
    if (probe) io_uring_free_probe(probe);
    return ok;
}

int main(int argc, char **argv) {
    ndirs = 2000;
    nfiles = 50000;
    uint64_t seed = 20261129;
    int opt;
    while ((opt = getopt(argc, argv, "n:d:s:")) != -1) {
        if (opt == 'n') nfiles = atoi(optarg);
        else if (opt == 'd') ndirs = atoi(optarg);
        else if (opt == 's') seed = strtoull(optarg, NULL, 0);
        else return 2;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: uring-create [-n FILES] [-d DIRS] [-s SEED] VARIANT DIR\n");
        return 2;
    }
    const char *variant = argv[optind], *root = argv[optind + 1];
    umask(0);
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    if ((rlim_t)ndirs + 600 > nofile.rlim_cur) { fprintf(stderr, "uring-create: too many directories for RLIMIT_NOFILE\n"); return 1; }

    make_workload(seed);
    uint64_t total = 0;
    for (int i = 0; i < nfiles; i++) total += files[i].size;
    dirfd_of = malloc(ndirs * sizeof *dirfd_of);
    rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) die(root, errno);

    // Ring setup, untimed.
    int uses_ring = strcmp(variant, "plain") != 0 && strcmp(variant, "plain-nometa") != 0;
    unsigned batch = 0;
    int meta = 1, install = 0, kind = 0; // kind: 0 plain, 1 data, 2 ops, 3 link
    if (!strcmp(variant, "plain")) kind = 0;
    else if (!strcmp(variant, "plain-nometa")) { kind = 0; meta = 0; }
    else if (!strcmp(variant, "data")) kind = 1;
    else if (!strcmp(variant, "ops32")) { kind = 2; batch = 32; }
    else if (!strcmp(variant, "ops256")) { kind = 2; batch = 256; }
    else if (!strcmp(variant, "link32")) { kind = 3; batch = 32; meta = 0; }
    else if (!strcmp(variant, "link256") || !strcmp(variant, "link256-install") || !strcmp(variant, "link256-w1")
             || !strcmp(variant, "link256-sqpoll")) { kind = 3; batch = 256; meta = 0; }
    else { fprintf(stderr, "uring-create: unknown variant %s\n", variant); return 2; }
    if (!strcmp(variant, "link256-install")) { install = 1; meta = 1; }
    if (install && !has_op(IORING_OP_FIXED_FD_INSTALL_NR)) { fprintf(stderr, "uring-create: kernel lacks IORING_OP_FIXED_FD_INSTALL\n"); return 3; }
    if (uses_ring) {
        unsigned entries = kind == 1 ? 256 : kind == 2 ? batch : batch * (install ? 4 : 3);
        unsigned pow2 = 1;
        while (pow2 < entries) pow2 <<= 1;
        struct io_uring_params params = { 0 };
        if (!strcmp(variant, "link256-sqpoll")) { params.flags |= IORING_SETUP_SQPOLL; params.sq_thread_idle = 50; }
        int r = io_uring_queue_init_params(pow2, &ring, &params);
        if (r < 0) die("io_uring_queue_init", -r);
        if (!strcmp(variant, "link256-w1")) {
            unsigned workers[2] = { 1, 0 }; // bounded (file I/O, open), unbounded: unchanged
            r = io_uring_register_iowq_max_workers(&ring, workers);
            if (r < 0) die("io_uring_register_iowq_max_workers", -r);
        }
    }

    pthread_t sampler_thread;
    pthread_create(&sampler_thread, NULL, sampler, NULL);
    struct rusage self0, self1, main0, main1;
    double busy0 = machine_busy();
    getrusage(RUSAGE_SELF, &self0);
    getrusage(RUSAGE_THREAD, &main0);
    double t0 = now();

    switch (kind) {
    case 0: run_plain(meta); break;
    case 1: run_data(); break;
    case 2: run_ops(batch); break;
    case 3: run_link(batch, install); break;
    }

    double wall = now() - t0;
    getrusage(RUSAGE_THREAD, &main1);
    getrusage(RUSAGE_SELF, &self1);
    double busy1 = machine_busy();
    sample_threads(); // the workers are idle now: their final CPU
    atomic_store(&sampling, 0);
    pthread_join(sampler_thread, NULL);

    double workers_cpu = 0;
    int workers = 0, pollers = 0;
    for (int k = 0; k < nseen; k++) workers_cpu += seen[k].cpu;
    // name kinds: count again from a last listing (cheap; only for the report)
    {
        DIR *task = opendir("/proc/self/task");
        struct dirent *entry;
        while (task && (entry = readdir(task)) != NULL) {
            char path[300], name[64] = "";
            snprintf(path, sizeof path, "/proc/self/task/%s/comm", entry->d_name);
            FILE *f = fopen(path, "r");
            if (!f) continue;
            if (fgets(name, sizeof name, f)) {
                if (!strncmp(name, "iou-wrk", 7)) workers++;
                if (!strncmp(name, "iou-sqp", 7)) pollers++;
            }
            fclose(f);
        }
        if (task) closedir(task);
    }

    double self_user = tv(self1.ru_utime) - tv(self0.ru_utime), self_sys = tv(self1.ru_stime) - tv(self0.ru_stime);
    double main_user = tv(main1.ru_utime) - tv(main0.ru_utime), main_sys = tv(main1.ru_stime) - tv(main0.ru_stime);
    double ours = self_user + self_sys;
    printf("variant=%s files=%d dirs=%d bytes=%llu wall=%.3f files_s=%.0f user=%.3f sys=%.3f cpu=%.3f "
           "main_user=%.3f main_sys=%.3f iou_cpu=%.3f iou_threads_seen=%d iou_max_concurrent=%d "
           "iou_alive_end=%d sqpoll_alive_end=%d sampler_cpu=%.3f unaccounted=%.3f others_cpu=%.2f vol_cs=%ld invol_cs=%ld\n",
           variant, nfiles, ndirs, (unsigned long long)total, wall, nfiles / wall, self_user, self_sys, ours,
           main_user, main_sys, workers_cpu, nseen, max_concurrent, workers, pollers, sampler_cpu,
           ours - (main_user + main_sys) - workers_cpu - sampler_cpu, (busy1 - busy0) - ours,
           self1.ru_nvcsw - self0.ru_nvcsw, self1.ru_nivcsw - self0.ru_nivcsw);
    fflush(stdout);

    verify(meta, variant);
    if (uses_ring) io_uring_queue_exit(&ring);
    return 0;
}
