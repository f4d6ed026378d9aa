#define _GNU_SOURCE
#include <sys/prctl.h>
#include <fcntl.h>
#include <unistd.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include "linux_shims.h"

_Static_assert(sizeof(struct rp_mmsghdr) == sizeof(struct mmsghdr), "mmsghdr layout");

int rp_recvmmsg(int fd, struct rp_mmsghdr *vec, unsigned int vlen, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)vec, vlen, flags, NULL);
}

int rp_sendmmsg(int fd, struct rp_mmsghdr *vec, unsigned int vlen, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)vec, vlen, flags);
}

struct cmsghdr *rp_cmsg_firsthdr(struct msghdr *msg) { return CMSG_FIRSTHDR(msg); }
struct cmsghdr *rp_cmsg_nxthdr(struct msghdr *msg, struct cmsghdr *cmsg) { return CMSG_NXTHDR(msg, cmsg); }
unsigned char *rp_cmsg_data(struct cmsghdr *cmsg) { return CMSG_DATA(cmsg); }
size_t rp_cmsg_space(size_t length) { return CMSG_SPACE(length); }
size_t rp_cmsg_len(size_t length) { return CMSG_LEN(length); }

ssize_t rp_splice(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len, unsigned int flags) {
    return splice(fd_in, (loff_t *)off_in, fd_out, (loff_t *)off_out, len, flags);
}

int rp_pipe_set_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int rp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

int rp_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int rp_set_nonblocking(int fd, int on) { return fcntl(fd, F_SETFL, on ? O_NONBLOCK : 0); }

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

int rp_range_cached(int fd, uint64_t offset, uint64_t length) {
    struct { uint64_t off, len; } range = { offset, length };
    struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } stat;
    if (length == 0) return 1;   // cachestat reads 0 as "to the end of the file"
    if (syscall(SYS_cachestat, fd, &range, &stat, 0) != 0) return -1;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t pages = (offset + length + page - 1) / page - offset / page;
    return stat.nr_cache >= pages ? 1 : 0;
}

ssize_t rp_preadv2(int fd, const struct iovec *vector, int count, int64_t offset, int flags) {
    return preadv2(fd, vector, count, offset, flags);
}

int rp_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static int rp_signal_pipe[2] = {-1, -1};

static void rp_signal_handler(int signal_number) {
    int saved = errno;
    unsigned char byte = (unsigned char)signal_number;
    (void)write(rp_signal_pipe[1], &byte, 1);
    errno = saved;
}

int rp_signals_install(void) {
    if (rp_signal_pipe[0] < 0 && pipe2(rp_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = rp_signal_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGHUP, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0 ||
        sigaction(SIGTERM, &action, NULL) != 0) return -1;
    return 0;
}

int rp_signals_wait(int timeout_ms) {
    struct pollfd wanted = {rp_signal_pipe[0], POLLIN, 0};
    if (poll(&wanted, 1, timeout_ms) <= 0) return 0;
    unsigned char byte = 0;
    return read(rp_signal_pipe[0], &byte, 1) == 1 ? (int)byte : 0;
}

int rp_die_with_parent(void) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
    return (int)getppid();
}
