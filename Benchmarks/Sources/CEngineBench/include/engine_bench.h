#ifndef RACKPLANE_ENGINE_BENCH_H
#define RACKPLANE_ENGINE_BENCH_H
// What the engine benchmark needs below Swift: an allocation counter (this target replaces
// malloc and friends for the whole `engine-bench` process, forwarding to glibc's own
// `__libc_*` entry points) and the UDP load generator, in C so that the client's own cost per
// packet stays small and steady next to the server it measures.
#include <stdint.h>
#include <sys/types.h>

/// Every malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc and pvalloc
/// in the process since it started (all threads).
uint64_t eb_allocations(void);

struct eb_udp_load {
    const uint16_t *ports;   // server ports on 127.0.0.1
    int port_count;
    int clients;             // client sockets (one thread drives them all)
    int window;              // requests kept outstanding per server port
    int payload;             // bytes per request
    int warmup_ms;
    int duration_ms;
    int report_fd;           // "start\n" after the warm-up, "stop\n" at the end
    // Results (measured part only).
    uint64_t sent;
    uint64_t received;
    uint64_t resent;         // requests presumed lost (no reply in 200 ms) and sent again
};

/// Runs the load: returns 0, or -errno if a socket could not be set up.
int eb_udp_load_run(struct eb_udp_load *load);
#endif
