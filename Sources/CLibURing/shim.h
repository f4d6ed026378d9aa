#ifndef RACKPLANE_CLIBURING_SHIM_H
#define RACKPLANE_CLIBURING_SHIM_H
// Socket headers first: including <liburing.h> before them makes Glibc's fd_set clash with the
// one liburing pulls in, in every Swift file that also imports Glibc.
#include <sys/socket.h>
#include <sys/select.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <liburing.h>
#endif
