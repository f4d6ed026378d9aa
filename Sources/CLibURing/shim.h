#ifndef RACKPLANE_CLIBURING_SHIM_H
#define RACKPLANE_CLIBURING_SHIM_H
// Socket headers first: including <liburing.h> before them makes Glibc's fd_set clash with the
// one liburing pulls in, in every Swift file that also imports Glibc.
#include <sys/socket.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <sys/mman.h>
// The kernel's own io_uring.h before liburing's copy (both use the guard LINUX_IO_URING_H):
// swift-system's CSystem module, which Hummingbird brings into the same binary as the region,
// includes the kernel's, and clang refuses two different io_uring_sqe definitions in one program.
#include <linux/io_uring.h>
#include <liburing.h>
#include <signal.h>

// Submits what is queued and waits for `wait_nr` completions, but returns once `min_wait_usec`
// has passed with at least one (io_uring_enter's EXT_ARG `min_wait_usec`, Linux 6.12; the field
// is still called `pad` in liburing 2.3's header, which also lacks a wrapper). `ts` (may be NULL)
// bounds the whole wait. Returns what liburing's io_uring_enter2 returns: -errno on failure.
static inline int rp_uring_submit_and_wait_min(struct io_uring *ring, unsigned wait_nr, unsigned min_wait_usec,
                                               struct __kernel_timespec *ts) {
    struct io_uring_sq *sq = &ring->sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    unsigned submit = tail - *sq->khead;
    struct io_uring_getevents_arg arg;
    arg.sigmask = 0;
    arg.sigmask_sz = _NSIG / 8;
    arg.pad = min_wait_usec;
    arg.ts = (unsigned long long)(unsigned long)ts;
    int ret = io_uring_enter2((unsigned)ring->ring_fd, submit, wait_nr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                              (sigset_t *)&arg, sizeof(arg));
    return ret;
}
#endif
