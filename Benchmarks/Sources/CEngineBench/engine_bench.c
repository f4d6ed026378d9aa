#define _GNU_SOURCE
#include "engine_bench.h"
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// MARK: Allocation counter

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

static uint64_t allocations;
#define COUNT() __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED)

uint64_t eb_allocations(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }

void *malloc(size_t size) { COUNT(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { COUNT(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { COUNT(); return __libc_realloc(pointer, size); }
void free(void *pointer) { __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { COUNT(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { COUNT(); return __libc_memalign(alignment, size); }
void *valloc(size_t size) { COUNT(); return __libc_valloc(size); }
void *pvalloc(size_t size) { COUNT(); return __libc_pvalloc(size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    COUNT();
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

// MARK: UDP load generator

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

enum { BATCH = 64, MAX_CLIENTS = 64 };

struct client {
    int fd;
    int queued;
    struct mmsghdr out[BATCH];
    struct sockaddr_in out_addr[BATCH];
    struct iovec out_iov[BATCH];
    struct mmsghdr in[BATCH];
    struct sockaddr_in in_addr[BATCH];
    struct iovec in_iov[BATCH];
    char in_buf[BATCH][2048];
};

static char payload_bytes[2048];

static void flush(struct client *c, struct eb_udp_load *load, int counting) {
    int start = 0;
    while (start < c->queued) {
        int n = sendmmsg(c->fd, c->out + start, (unsigned)(c->queued - start), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;   // EAGAIN/ENOBUFS: dropped; the loss timer sends them again
        }
        start += n;
    }
    if (counting) load->sent += (uint64_t)start;
    c->queued = 0;
}

static void queue(struct client *c, uint16_t port, int size, struct eb_udp_load *load, int counting) {
    if (c->queued == BATCH) flush(c, load, counting);
    int k = c->queued++;
    c->out_addr[k].sin_family = AF_INET;
    c->out_addr[k].sin_port = htons(port);
    c->out_addr[k].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->out_iov[k].iov_base = payload_bytes;
    c->out_iov[k].iov_len = (size_t)size;
    memset(&c->out[k], 0, sizeof c->out[k]);
    c->out[k].msg_hdr.msg_name = &c->out_addr[k];
    c->out[k].msg_hdr.msg_namelen = sizeof c->out_addr[k];
    c->out[k].msg_hdr.msg_iov = &c->out_iov[k];
    c->out[k].msg_hdr.msg_iovlen = 1;
}

int eb_udp_load_run(struct eb_udp_load *load) {
    int clients = load->clients < 1 ? 1 : (load->clients > MAX_CLIENTS ? MAX_CLIENTS : load->clients);
    struct client *cs = calloc((size_t)clients, sizeof *cs);
    struct pollfd *fds = calloc((size_t)clients, sizeof *fds);
    // Per server port: requests outstanding and when it last heard back (loss recovery).
    uint16_t *index_of = calloc(65536, sizeof *index_of);
    int *outstanding = calloc((size_t)load->port_count, sizeof *outstanding);
    uint64_t *last = calloc((size_t)load->port_count, sizeof *last);
    int *owner = calloc((size_t)load->port_count, sizeof *owner);
    if (!cs || !fds || !index_of || !outstanding || !last || !owner) return -ENOMEM;
    memset(payload_bytes, 0x5A, sizeof payload_bytes);
    for (int k = 0; k < load->port_count; k++) index_of[load->ports[k]] = (uint16_t)k;

    for (int c = 0; c < clients; c++) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return -errno;
        int size = 8 << 20;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        struct sockaddr_in local = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) return -errno;
        cs[c].fd = fd;
        fds[c].fd = fd;
        fds[c].events = POLLIN;
        for (int k = 0; k < BATCH; k++) {
            cs[c].in_iov[k].iov_base = cs[c].in_buf[k];
            cs[c].in_iov[k].iov_len = sizeof cs[c].in_buf[k];
            cs[c].in[k].msg_hdr.msg_name = &cs[c].in_addr[k];
            cs[c].in[k].msg_hdr.msg_iov = &cs[c].in_iov[k];
            cs[c].in[k].msg_hdr.msg_iovlen = 1;
        }
    }

    // Prime: `window` requests per port, ports spread over the client sockets; a port with
    // a window > 1 spreads its requests over the sockets too.
    uint64_t begin = now_ms();
    for (int k = 0; k < load->port_count; k++) {
        owner[k] = k % clients;
        last[k] = begin;
        for (int w = 0; w < load->window; w++) {
            queue(&cs[(k + w) % clients], load->ports[k], load->payload, load, 0);
            outstanding[k]++;
        }
    }
    for (int c = 0; c < clients; c++) flush(&cs[c], load, 0);

    uint64_t measure_from = begin + (uint64_t)load->warmup_ms;
    uint64_t end = measure_from + (uint64_t)load->duration_ms;
    int counting = 0;
    uint64_t next_loss_scan = begin + 200;
    for (;;) {
        uint64_t t = now_ms();
        if (!counting && t >= measure_from) {
            counting = 1;
            if (write(load->report_fd, "start\n", 6) < 0) {}
        }
        if (t >= end) break;
        if (t >= next_loss_scan) {
            next_loss_scan = t + 100;
            for (int k = 0; k < load->port_count; k++) {
                if (t - last[k] < 200) continue;
                // Nothing back for 200 ms: what was outstanding is lost; send the window again.
                last[k] = t;
                outstanding[k] = 0;
                for (int w = 0; w < load->window; w++) {
                    queue(&cs[(k + w) % clients], load->ports[k], load->payload, load, counting);
                    outstanding[k]++;
                    if (counting) load->resent++;
                }
            }
            for (int c = 0; c < clients; c++) flush(&cs[c], load, counting);
        }
        int ready = poll(fds, (nfds_t)clients, 50);
        if (ready <= 0) continue;
        for (int c = 0; c < clients; c++) {
            if (!(fds[c].revents & POLLIN)) continue;
            struct client *cl = &cs[c];
            for (int round = 0; round < 4; round++) {
                for (int k = 0; k < BATCH; k++) cl->in[k].msg_hdr.msg_namelen = sizeof cl->in_addr[k];
                int n = recvmmsg(cl->fd, cl->in, BATCH, MSG_DONTWAIT, NULL);
                if (n <= 0) break;
                uint64_t now = now_ms();
                for (int k = 0; k < n; k++) {
                    uint16_t port = ntohs(cl->in_addr[k].sin_port);
                    int index = index_of[port];
                    if (index >= load->port_count || load->ports[index] != port) continue;
                    if (counting) load->received++;
                    last[index] = now;
                    queue(cl, port, load->payload, load, counting);
                }
                flush(cl, load, counting);
                if (n < BATCH) break;
            }
        }
    }
    if (write(load->report_fd, "stop\n", 5) < 0) {}
    for (int c = 0; c < clients; c++) close(cs[c].fd);
    free(cs); free(fds); free(index_of); free(outstanding); free(last); free(owner);
    return 0;
}
