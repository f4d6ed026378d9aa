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
#endif
