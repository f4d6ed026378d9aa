/* tftpbench: N concurrent TFTP reads of one file from one thread (epoll), for Benchmarks/boot/run.
 *
 *   tftpbench SERVER PORT NAME REFERENCE_FILE CLIENTS BLKSIZE WINDOWSIZE SECONDS
 *
 * Each client sends an RRQ for NAME with "blksize BLKSIZE" and "tsize 0" (and "windowsize W"
 * when W > 1), acknowledges the OACK, then receives DATA: in lock-step (W = 1) every block is
 * acknowledged; with W > 1 the last block of each window, the final block, or on a gap the last
 * block received in order (RFC 7440 §4). Every DATA payload is compared byte for byte with
 * REFERENCE_FILE at its offset, and a transfer counts only if it ends with exactly the file's
 * size and every byte equal: a fast wrong answer cannot win. One second without a packet resends
 * the last ACK (or the RRQ); SECONDS bounds the whole run.
 *
 * Prints one line of key=value: ok, failed, bytes, wall seconds (first RRQ to last final ACK),
 * per-transfer min/avg/max seconds, client CPU seconds (user+sys), resends, duplicates, gaps.
 * Exits 0 only if every transfer completed byte-identical.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct client {
    int fd;
    struct sockaddr_in tid;
    int have_tid;
    int blksize;
    int window;
    uint64_t expected; /* next block wanted (64-bit counter, 1 = first) */
    uint64_t received; /* bytes received in order */
    int in_window;
    uint64_t last_ack; /* last block acknowledged (64-bit), or UINT64_MAX for none */
    double started, finished, last_packet;
    int done, failed;
    unsigned char request[512];
    size_t request_len;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const unsigned char *reference;
static uint64_t reference_size;
static long resends, duplicates, gaps, mismatches;

static void send_ack(struct client *c, uint64_t block) {
    unsigned char ack[4] = {0, 4, (unsigned char)((block >> 8) & 0xff), (unsigned char)(block & 0xff)};
    sendto(c->fd, ack, 4, 0, (struct sockaddr *)&c->tid, sizeof c->tid);
    c->last_ack = block;
    c->in_window = 0;
}

static void finish(struct client *c, int ok) {
    c->done = 1;
    c->failed = !ok;
    c->finished = now();
}

static void handle(struct client *c, const unsigned char *p, ssize_t n, const struct sockaddr_in *from) {
    if (c->done || n < 4) return;
    if (!c->have_tid) {
        c->tid = *from;
        c->have_tid = 1;
    } else if (c->tid.sin_port != from->sin_port || c->tid.sin_addr.s_addr != from->sin_addr.s_addr) {
        return;
    }
    c->last_packet = now();
    int opcode = p[0] << 8 | p[1];
    if (opcode == 5) { /* ERROR */
        fprintf(stderr, "tftpbench: ERROR %d: %.*s\n", p[2] << 8 | p[3], (int)(n - 4), p + 4);
        finish(c, 0);
        return;
    }
    if (opcode == 6) { /* OACK: read blksize and windowsize as granted */
        const char *q = (const char *)p + 2, *end = (const char *)p + n;
        while (q < end) {
            const char *key = q;
            q += strnlen(q, end - q) + 1;
            if (q >= end) break;
            const char *value = q;
            q += strnlen(q, end - q) + 1;
            if (!strcasecmp(key, "blksize")) c->blksize = atoi(value);
            if (!strcasecmp(key, "windowsize")) c->window = atoi(value);
            if (!strcasecmp(key, "tsize") && strtoull(value, NULL, 10) != reference_size) {
                fprintf(stderr, "tftpbench: tsize %s, expected %llu\n", value, (unsigned long long)reference_size);
                finish(c, 0);
                return;
            }
        }
        if (c->expected == 1) send_ack(c, 0);
        return;
    }
    if (opcode != 3) {
        finish(c, 0);
        return;
    }
    uint16_t block = p[2] << 8 | p[3];
    size_t len = n - 4;
    if (block == (uint16_t)c->expected) {
        if (c->received + len > reference_size || memcmp(p + 4, reference + c->received, len) != 0) {
            mismatches++;
            fprintf(stderr, "tftpbench: block %llu differs from the reference\n", (unsigned long long)c->expected);
            finish(c, 0);
            return;
        }
        c->received += len;
        c->expected++;
        c->in_window++;
        if ((int)len < c->blksize) { /* the last block */
            send_ack(c, c->expected - 1);
            finish(c, c->received == reference_size);
            return;
        }
        if (c->in_window >= c->window) send_ack(c, c->expected - 1);
    } else if ((uint16_t)(c->expected - 1) == block) {
        duplicates++;
        if (c->window == 1) send_ack(c, c->expected - 1); /* lock-step: re-ACK a duplicate */
    } else {
        /* A gap: ACK the last block in order, once (the server restarts the window after it). */
        gaps++;
        if (c->last_ack != c->expected - 1 || c->in_window > 0) send_ack(c, c->expected - 1);
    }
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: %s SERVER PORT NAME REFERENCE_FILE CLIENTS BLKSIZE WINDOWSIZE SECONDS\n", argv[0]);
        return 2;
    }
    const char *server = argv[1];
    int port = atoi(argv[2]);
    const char *name = argv[3];
    int count = atoi(argv[5]), blksize = atoi(argv[6]), window = atoi(argv[7]);
    double limit = atof(argv[8]);

    int rf = open(argv[4], O_RDONLY);
    struct stat st;
    if (rf < 0 || fstat(rf, &st) < 0) { perror(argv[4]); return 2; }
    reference_size = st.st_size;
    reference = mmap(NULL, reference_size ? reference_size : 1, PROT_READ, MAP_PRIVATE | MAP_POPULATE, rf, 0);
    if (reference == MAP_FAILED) { perror("mmap"); return 2; }

    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, server, &to.sin_addr);
    int ep = epoll_create1(0);
    struct client *clients = calloc(count, sizeof *clients);
    double t0 = now();
    for (int i = 0; i < count; i++) {
        struct client *c = &clients[i];
        c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        int rcv = 4 << 20;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
        c->blksize = 512;
        c->window = 1;
        c->expected = 1;
        c->last_ack = UINT64_MAX;
        int m = snprintf((char *)c->request, sizeof c->request, "%c%c%s%coctet%ctsize%c0%cblksize%c%d%c", 0, 1, name, 0, 0,
                         0, 0, 0, blksize, 0);
        if (window > 1) m += snprintf((char *)c->request + m, sizeof c->request - m, "windowsize%c%d%c", 0, window, 0);
        c->request_len = m;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        c->started = c->last_packet = now();
        sendto(c->fd, c->request, c->request_len, 0, (struct sockaddr *)&to, sizeof to);
    }
    int remaining = count;
    unsigned char buf[65536];
    struct epoll_event events[256];
    double deadline = t0 + limit, last_scan = t0;
    while (remaining > 0 && now() < deadline) {
        int k = epoll_wait(ep, events, 256, 100);
        for (int e = 0; e < k; e++) {
            struct client *c = &clients[events[e].data.u32];
            for (;;) {
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                ssize_t n = recvfrom(c->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
                if (n < 0) break;
                int was = c->done;
                handle(c, buf, n, &from);
                if (!was && c->done) remaining--;
            }
        }
        double t = now();
        if (t - last_scan >= 0.1) {
            last_scan = t;
            for (int i = 0; i < count; i++) {
                struct client *c = &clients[i];
                if (c->done || t - c->last_packet < 1.0) continue;
                c->last_packet = t;
                resends++;
                if (!c->have_tid) sendto(c->fd, c->request, c->request_len, 0, (struct sockaddr *)&to, sizeof to);
                else send_ack(c, c->expected - 1);
            }
        }
    }
    double t1 = 0, mn = 1e9, mx = 0, sum = 0;
    int ok = 0, failed = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < count; i++) {
        struct client *c = &clients[i];
        if (c->done && !c->failed) {
            ok++;
            bytes += c->received;
            double d = c->finished - c->started;
            if (d < mn) mn = d;
            if (d > mx) mx = d;
            sum += d;
            if (c->finished > t1) t1 = c->finished;
        } else {
            failed++;
        }
        close(c->fd);
    }
    if (failed) t1 = now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("ok=%d failed=%d bytes=%llu wall=%.3f min=%.3f avg=%.3f max=%.3f client_cpu=%.2f resends=%ld duplicates=%ld gaps=%ld mismatches=%ld\n",
           ok, failed, (unsigned long long)bytes, t1 - t0, ok ? mn : 0, ok ? sum / ok : 0, ok ? mx : 0, cpu, resends, duplicates,
           gaps, mismatches);
    return failed ? 1 : 0;
}
