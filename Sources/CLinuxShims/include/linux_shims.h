#ifndef RACKPLANE_LINUX_SHIMS_H
#define RACKPLANE_LINUX_SHIMS_H
// What Swift's Glibc module cannot give the engine, each with the reason.
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/select.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <linux/if_ether.h>
#include <stdint.h>
// malloc_trim: give freed heap back to the kernel after a large one-off allocation (the rack
// after compiling a big site file); <malloc.h> is not part of the Glibc module.
#include <malloc.h>
#include <stddef.h>
#include <sys/types.h>
// Not in the Glibc module: eventfd (the epoll ring's wake-up), sockaddr_ll and ETH_P_IP (frames
// sent on an AF_PACKET socket).
#include <sys/eventfd.h>
#include <netpacket/packet.h>
#include <linux/if_ether.h>

// struct mmsghdr, recvmmsg and sendmmsg are declared only under _GNU_SOURCE, which the Glibc
// module is not built with; this target's .c file defines it. Same layout as the kernel's.
struct rp_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};
int rp_recvmmsg(int fd, struct rp_mmsghdr *vec, unsigned int vlen, int flags);
int rp_sendmmsg(int fd, struct rp_mmsghdr *vec, unsigned int vlen, int flags);

// CMSG_* are macros Swift cannot import.
struct cmsghdr *rp_cmsg_firsthdr(struct msghdr *msg);
struct cmsghdr *rp_cmsg_nxthdr(struct msghdr *msg, struct cmsghdr *cmsg);
unsigned char *rp_cmsg_data(struct cmsghdr *cmsg);
size_t rp_cmsg_space(size_t length);
size_t rp_cmsg_len(size_t length);

// splice/tee need _GNU_SOURCE too; SPLICE_F_* with them.
ssize_t rp_splice(int fd_in, int64_t *off_in, int fd_out, int64_t *off_out, size_t len, unsigned int flags);
int rp_pipe_set_size(int fd, int size);
int rp_pipe2(int fds[2], int flags);
// F_SETFL with or without O_NONBLOCK (fcntl is variadic, which Swift cannot call). A socket's
// other status flags (O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME) are never set here.
int rp_set_nonblocking(int fd, int on);
// 1 if every page of [offset, offset + length) of fd is in the page cache, 0 if some are not,
// -1 if the kernel cannot tell (cachestat(2) is Linux 6.5; errno set). One syscall, no I/O.
int rp_range_cached(int fd, uint64_t offset, uint64_t length);
// preadv2 is declared only under _GNU_SOURCE; with RWF_NOWAIT it reads only what the page cache holds.
ssize_t rp_preadv2(int fd, const struct iovec *vector, int count, int64_t offset, int flags);
static const int RP_RWF_NOWAIT = 0x00000008;
// SPLICE_F_MOVE (a hint; the kernel may move pages instead of copying them).
static const unsigned int RP_SPLICE_F_MOVE = 1;
// accept4 is declared only under _GNU_SOURCE; it saves two fcntl calls per accepted connection.
int rp_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
// openat2 (Linux 5.6) has no glibc wrapper in Debian 12, and syscall(2) is variadic, which Swift
// cannot call. The file services open requested paths beneath the files root with it
// (RESOLVE_BENEATH: no "..", absolute path or symlink may leave the root). -1 with errno set.
int rp_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
// From <linux/openat2.h>, which the Glibc module does not include.
static const uint64_t RP_RESOLVE_NO_MAGICLINKS = 0x02;
static const uint64_t RP_RESOLVE_BENEATH = 0x08;
// Signals for a process whose threads are not all under its control (Swift's async main parks
// the main thread with signals unblocked): SIGHUP, SIGINT and SIGTERM get a handler that writes
// the signal number to a pipe, whichever thread takes them. Install once; then wait on the pipe.
// Returns 0, or -1 with errno.
int rp_signals_install(void);

// prctl(PR_SET_PDEATHSIG, SIGKILL) (prctl is variadic, so Swift cannot call it), then the
// parent's pid: 1 when the parent had already gone before the call; -1 with errno on failure.
int rp_die_with_parent(void);
// The next signal caught (SIGHUP, SIGINT or SIGTERM), waiting up to timeout_ms; 0 if none came.
int rp_signals_wait(int timeout_ms);

#endif
