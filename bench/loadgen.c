/*
 * loadgen: a chat load generator that accounts for every delivery.
 *
 * One single-threaded epoll loop opens N client connections to a chat
 * server (chatsvc's line protocol or IRC), registers them, drives one
 * scenario and checks every line it receives.  Each message carries its
 * sender, its intended target, a per-sender sequence number and its send
 * time, so the receiver can tell a delivery from a loss, a duplicate or a
 * misrouted line, and measure latency without clock games (sender and
 * receiver are the same process).
 *
 * Scenarios:
 *   fanout   N clients in one room, S of them send (flat out, or --rate)
 *   private  N/2 pairs, every client sends private messages to its partner
 *   idle     N clients register and sit; report the server's RSS per client
 *
 * "Flat out" is a closed loop: each sender keeps at most --window messages
 * not yet delivered to all of their recipients.  The server is then never
 * asked to buffer more than the window, so a server that keeps up loses
 * nothing, and one that does not shows it as loss or as a lower rate.
 *
 * With --server-pid the generator reads the server's CPU time (utime +
 * stime from /proc/PID/stat) and RSS at the edges of the measured phase,
 * so the figures cover exactly that phase.  Its own CPU time over the same
 * phase is reported beside them, to show it is not the bottleneck.
 *
 * The result is one JSON object on stdout.  bench/run.py compiles this file
 * with gcc and drives it; it is plain C99 + Linux (epoll), no libraries.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { PROTO_LINE, PROTO_IRC };
enum { SC_FANOUT, SC_PRIVATE, SC_IDLE };
enum { ST_CONNECTING, ST_REGISTERING, ST_READY, ST_CLOSED };
enum { PH_SETUP, PH_SETTLE, PH_RUN, PH_DRAIN, PH_DONE };

#define PARTIAL_MAX 2048     /* longest line kept across reads */
#define READ_CHUNK 65536
#define LAT_FINE 100000      /* 1 us buckets up to 100 ms */
#define LAT_COARSE 100000    /* then 1 ms buckets up to 100 s */

typedef struct {
    int fd, id, state;
    int sender;              /* index into senders[], or -1 */
    int partner;             /* private: the partner's client id */
    int want_out;
    int accepted;            /* the server has spoken: it accept()ed us */
    char *partial;           /* unfinished line from the last read */
    int plen;
    char *wbuf;
    int wlen, woff, wcap;
    uint32_t *expect;        /* next sequence number expected, per sender slot */
    uint32_t *got;           /* unique deliveries, per sender slot */
} client_t;

typedef struct {
    int cid;                 /* the sending client */
    int target;              /* private: recipient client id; fanout: -1 */
    uint32_t sent;           /* messages sent == next sequence number */
    uint32_t acked;          /* lowest sequence number not yet fully delivered */
    uint32_t *remaining;     /* ring of outstanding recipient counts */
    uint64_t next_due;       /* rate mode: when the next message is due */
} sender_t;

/* -- options ------------------------------------------------------------ */
static const char *opt_host = "127.0.0.1";
static int opt_port = 0;
static int opt_proto = PROTO_LINE;
static int opt_scenario = SC_FANOUT;
static int opt_clients = 100;
static int opt_senders = 5;
static double opt_rate = 0;          /* lines/s per sender; 0 = flat out */
static int opt_window = 32;
static double opt_warmup = 1.0, opt_duration = 5.0, opt_drain = 15.0;
static double opt_setup_timeout = 300.0;
static int opt_server_pid = 0;
static int opt_per_ip = 10;          /* connections per source address */
static int opt_size = 48;            /* bytes of message text */
static int opt_pending = 8;          /* connections not yet accepted, at once:
                                        kept under the server's listen backlog
                                        (ngircd's is 10) so none is reset */
static const char *opt_channel = "#bench";
static const char *opt_irc_pass = NULL;
static const char *opt_irc_oper = NULL;  /* "name:password" for senders */
static const char *opt_prefix = "u";
static int opt_line_rooms = 0;       /* line: /join one of K rooms after registering */

/* -- state -------------------------------------------------------------- */
static client_t *clients;
static sender_t *senders;
static int nsenders, receivers_per_msg;
static int epfd;
static uint64_t t0;                  /* CLOCK_MONOTONIC at start, ns */
static int phase = PH_SETUP;
static int next_connect, pending, nready, nclosed;
static uint64_t last_rx;             /* ns of the last byte received */

static uint64_t deliveries, win_deliveries, dups, misrouted, gaps, errors_seen;
static uint64_t other_lines, overlong, bytes_in;
static uint32_t lat_fine[LAT_FINE], lat_coarse[LAT_COARSE];
static uint64_t lat_count, lat_max;
static int in_window;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec - t0;
}

static void vnote(const char *fmt, va_list ap) {
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
}

static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vnote(fmt, ap);
    va_end(ap);
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vnote(fmt, ap);
    va_end(ap);
    exit(2);
}

/* -- /proc --------------------------------------------------------------- */
static double proc_cpu_seconds(int pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');     /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long utime = 0, stime = 0;
    /* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
       majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

static long proc_rss_kib(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) { kib = atol(line + 6); break; }
    fclose(f);
    return kib;
}

static double self_cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
         + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* -- output buffers ---------------------------------------------------- */
static void want_out(client_t *c, int on) {
    if (c->want_out == on || c->state == ST_CLOSED) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = c->id};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    c->want_out = on;
}

static void close_client(client_t *c, const char *why) {
    if (c->state == ST_CLOSED) return;
    if (phase != PH_DONE)
        note("client %s%d closed: %s", opt_prefix, c->id, why);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (!c->accepted) pending--;
    if (c->state == ST_READY) nready--;
    c->state = ST_CLOSED;
    nclosed++;
}

static void flush(client_t *c) {
    while (c->woff < c->wlen) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            close_client(c, strerror(errno));
            return;
        }
        c->woff += n;
    }
    if (c->woff == c->wlen) c->woff = c->wlen = 0;
    want_out(c, c->wlen > 0);
}

static char *reserve(client_t *c, int n) {
    if (c->wlen + n > c->wcap) {
        if (c->woff) {
            memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
            c->wlen -= c->woff;
            c->woff = 0;
        }
        if (c->wlen + n > c->wcap) {
            c->wcap = (c->wlen + n) * 2;
            c->wbuf = realloc(c->wbuf, c->wcap);
            if (!c->wbuf) die("out of memory");
        }
    }
    return c->wbuf + c->wlen;
}

static void queue(client_t *c, const char *fmt, ...) {
    va_list ap;
    char tmp[1024];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(reserve(c, n), tmp, n);
    c->wlen += n;
}

/* -- connecting and registering ---------------------------------------- */
static void start_connect(int id) {
    client_t *c = &clients[id];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s (raise RLIMIT_NOFILE?)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt_per_ip > 0) {
        /* Spread connections over 127.0.x.y so a per-address connection
         * limit in the server stays on and still admits the benchmark. */
        int k = id / opt_per_ip;
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl((127u << 24) | ((1 + k / 254) << 8) | (1 + k % 254));
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
            die("bind source address: %s", strerror(errno));
    }
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(opt_port)};
    inet_pton(AF_INET, opt_host, &dst.sin_addr);
    if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->fd = fd;
    c->id = id;
    c->state = ST_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = id};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    c->want_out = 1;
    pending++;
}

static void send_registration(client_t *c) {
    if (opt_proto == PROTO_LINE) {
        queue(c, "#%s%d\n", opt_prefix, c->id);
        /* Spread idle line users over rooms: every line user is in a room,
         * and 10,000 in one would be 50 million join notices. */
        if (opt_line_rooms > 0)
            queue(c, "/join #%s-%d\n", opt_prefix, c->id % opt_line_rooms);
    } else {
        if (opt_irc_pass) queue(c, "PASS %s\r\n", opt_irc_pass);
        queue(c, "NICK %s%d\r\nUSER %s%d 0 * :bench\r\n", opt_prefix, c->id,
              opt_prefix, c->id);
    }
    flush(c);
}

static void became_ready(client_t *c) {
    c->state = ST_READY;
    nready++;
}

/* IRC: after 001, do the scenario's set-up and sync on a PING. */
static void irc_welcomed(client_t *c) {
    if (c->sender >= 0 && opt_irc_oper) {
        char name[128];
        snprintf(name, sizeof name, "%s", opt_irc_oper);
        char *colon = strchr(name, ':');
        if (colon) *colon = ' ';
        /* ngircd's user mode +F lifts its per-client command throttle. */
        queue(c, "OPER %s\r\nMODE %s%d +F\r\n", name, opt_prefix, c->id);
    }
    if (opt_scenario == SC_FANOUT) queue(c, "JOIN %s\r\n", opt_channel);
    queue(c, "PING :ready\r\n");
    flush(c);
}

/* -- receiving ---------------------------------------------------------- */
static inline int parse_uint(const char **p, const char *end, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9') return 0;
    while (s < end && *s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    *out = v;
    *p = s;
    return 1;
}

static int parse_int(const char **p, const char *end, int64_t *out) {
    int neg = 0;
    if (*p < end && **p == '-') { neg = 1; (*p)++; }
    uint64_t v;
    if (!parse_uint(p, end, &v)) return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static void record_latency(uint64_t ns) {
    uint64_t us = ns / 1000;
    if (us < LAT_FINE) lat_fine[us]++;
    else {
        uint64_t ms = us / 1000;
        lat_coarse[ms < LAT_COARSE ? ms : LAT_COARSE - 1]++;
    }
    if (ns > lat_max) lat_max = ns;
    lat_count++;
}

static double lat_percentile(double q) {
    if (!lat_count) return -1;
    uint64_t want = (uint64_t)(q * lat_count);
    if (want >= lat_count) want = lat_count - 1;
    uint64_t seen = 0;
    for (int i = 0; i < LAT_FINE; i++)
        if ((seen += lat_fine[i]) > want) return (i + 0.5) / 1000.0;
    for (int i = 0; i < LAT_COARSE; i++)
        if ((seen += lat_coarse[i]) > want) return i + 0.5;
    return lat_max / 1e6;
}

/* name: the sender's name as the server shows it; text: the message text;
 * is_private: how the server framed it. */
static void delivery(client_t *r, const char *name, int nlen, const char *text,
                     const char *end, int is_private, uint64_t now) {
    const char *p = text + 1;        /* skip the 'm' */
    int64_t sid, tid;
    uint64_t seq, ts;
    if (!parse_int(&p, end, &sid) || p >= end || *p++ != ' ' ||
        !parse_int(&p, end, &tid) || p >= end || *p++ != ' ' ||
        !parse_uint(&p, end, &seq) || p >= end || *p++ != ' ' ||
        !parse_uint(&p, end, &ts)) {
        misrouted++;                 /* mangled text counts as misrouted */
        return;
    }
    if (sid < 0 || sid >= opt_clients || clients[sid].sender < 0) { misrouted++; return; }
    /* The name shown must be the sender's. */
    char expect_name[64];
    int elen = snprintf(expect_name, sizeof expect_name, "%s%d", opt_prefix, (int)sid);
    if (elen != nlen || memcmp(expect_name, name, nlen) != 0) { misrouted++; return; }
    int slot;
    sender_t *s = &senders[clients[sid].sender];
    if (opt_scenario == SC_PRIVATE) {
        if (!is_private || tid != r->id || sid != r->partner) { misrouted++; return; }
        slot = 0;
    } else {
        if (is_private || tid != -1 || sid == r->id) { misrouted++; return; }
        slot = clients[sid].sender;
    }
    uint32_t want = r->expect[slot];
    if (seq < want) { dups++; return; }
    if (seq > want) gaps += seq - want;
    r->expect[slot] = (uint32_t)seq + 1;
    r->got[slot]++;
    deliveries++;
    if (seq >= s->acked && seq < s->sent) {
        uint32_t *left = &s->remaining[seq % opt_window];
        if (*left > 0 && --*left == 0) {
            while (s->acked < s->sent && s->remaining[s->acked % opt_window] == 0)
                s->acked++;
        }
    }
    if (in_window) {
        win_deliveries++;
        record_latency(now > ts ? now - ts : 0);
    }
}

static void bad_line(client_t *c, const char *line, int len) {
    errors_seen++;
    if (errors_seen <= 5)
        note("%s%d got: %.*s", opt_prefix, c->id, len > 200 ? 200 : len, line);
}

static void line_received(client_t *c, const char *line, int len, uint64_t now) {
    const char *end = line + len;
    if (len && end[-1] == '\r') end--, len--;
    if (opt_proto == PROTO_LINE) {
        if (len > 1 && line[0] == '<') {                 /* <name> text */
            const char *gt = memchr(line, '>', len);
            if (gt && gt + 2 < end && gt[1] == ' ' && gt[2] == 'm') {
                delivery(c, line + 1, gt - line - 1, gt + 2, end, 0, now);
                return;
            }
        } else if (len > 1 && line[0] == '*' && line[1] != ' ') {  /* *name* text */
            const char *st = memchr(line + 1, '*', len - 1);
            if (st && st + 2 < end && st[1] == ' ' && st[2] == 'm') {
                delivery(c, line + 1, st - line - 1, st + 2, end, 1, now);
                return;
            }
        } else if (len > 0 && line[0] == '!') {
            bad_line(c, line, len);
            return;
        } else if (c->state == ST_REGISTERING && len > 10 &&
                   memcmp(line, "* you are ", 10) == 0) {
            became_ready(c);
            return;
        }
        other_lines++;
        return;
    }
    /* IRC: [:prefix] COMMAND params */
    const char *p = line, *nick = NULL;
    int nlen = 0;
    if (len && *p == ':') {
        const char *sp = memchr(p, ' ', len);
        if (!sp) { other_lines++; return; }
        nick = p + 1;
        const char *bang = memchr(nick, '!', sp - nick);
        nlen = (bang ? bang : sp) - nick;
        p = sp + 1;
    }
    const char *sp = memchr(p, ' ', end - p);
    int clen = (sp ? sp : end) - p;
    if (clen == 7 && memcmp(p, "PRIVMSG", 7) == 0 && sp && nick) {
        const char *target = sp + 1;
        const char *colon = memmem(target, end - target, " :", 2);
        if (colon && colon + 2 < end && colon[2] == 'm') {
            int tlen = colon - target;
            int to_channel = tlen > 0 && target[0] == '#';
            if (to_channel && (tlen != (int)strlen(opt_channel) ||
                               strncasecmp(target, opt_channel, tlen) != 0)) {
                misrouted++;
                return;
            }
            if (!to_channel) {
                char me[64];
                int mlen = snprintf(me, sizeof me, "%s%d", opt_prefix, c->id);
                if (mlen != tlen || strncasecmp(me, target, tlen) != 0) {
                    misrouted++;
                    return;
                }
            }
            delivery(c, nick, nlen, colon + 2, end, !to_channel, now);
            return;
        }
    } else if (clen == 4 && memcmp(p, "PING", 4) == 0) {
        queue(c, "PONG %.*s\r\n", (int)(end - (sp ? sp + 1 : end)), sp ? sp + 1 : end);
        flush(c);
        return;
    } else if (clen == 4 && memcmp(p, "PONG", 4) == 0) {
        if (c->state == ST_REGISTERING) became_ready(c);
        return;
    } else if (clen == 3 && memcmp(p, "001", 3) == 0) {
        if (c->state != ST_REGISTERING) return;
        if (opt_scenario == SC_IDLE) became_ready(c);
        else irc_welcomed(c);
        return;
    } else if (clen == 5 && memcmp(p, "ERROR", 5) == 0) {
        bad_line(c, line, len);
        return;
    } else if (clen == 3 && (p[0] == '4' || p[0] == '5') &&
               memcmp(p, "422", 3) != 0) {   /* error numerics; 422 is "no MOTD" */
        bad_line(c, line, len);
        return;
    }
    other_lines++;
}

static void readable(client_t *c) {
    static char buf[PARTIAL_MAX + READ_CHUNK];
    memcpy(buf, c->partial, c->plen);
    ssize_t n = read(c->fd, buf + c->plen, READ_CHUNK);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        close_client(c, n == 0 ? "closed by the server" : strerror(errno));
        return;
    }
    uint64_t now = now_ns();
    last_rx = now;
    bytes_in += n;
    if (!c->accepted) {
        c->accepted = 1;
        pending--;
    }
    int total = c->plen + (int)n, start = 0;
    for (;;) {
        char *nl = memchr(buf + start, '\n', total - start);
        if (!nl) break;
        line_received(c, buf + start, nl - (buf + start), now);
        if (c->state == ST_CLOSED) return;
        start = nl + 1 - buf;
    }
    int rest = total - start;
    if (rest > PARTIAL_MAX) { overlong++; rest = 0; }
    memcpy(c->partial, buf + start, rest);
    c->plen = rest;
}

/* -- sending ------------------------------------------------------------ */
static void send_one(sender_t *s, uint64_t now) {
    client_t *c = &clients[s->cid];
    char text[512];
    int n = snprintf(text, sizeof text, "m%d %d %u %llu ", s->cid, s->target, s->sent,
                     (unsigned long long)now);
    while (n < opt_size && n < (int)sizeof text - 1) text[n++] = 'x';
    char *out = reserve(c, n + 64);
    int len;
    if (opt_proto == PROTO_LINE) {
        if (s->target >= 0)
            len = sprintf(out, "@%s%d:%.*s\n", opt_prefix, s->target, n, text);
        else
            len = sprintf(out, "%.*s\n", n, text);
    } else {
        if (s->target >= 0)
            len = sprintf(out, "PRIVMSG %s%d :%.*s\r\n", opt_prefix, s->target, n, text);
        else
            len = sprintf(out, "PRIVMSG %s :%.*s\r\n", opt_channel, n, text);
    }
    c->wlen += len;
    s->remaining[s->sent % opt_window] = receivers_per_msg;
    s->sent++;
}

static void pump_senders(uint64_t now) {
    for (int i = 0; i < nsenders; i++) {
        sender_t *s = &senders[i];
        client_t *c = &clients[s->cid];
        if (c->state != ST_READY) continue;
        int queued = 0;
        while (s->sent - s->acked < (uint32_t)opt_window) {
            if (opt_rate > 0) {
                if (now < s->next_due) break;
                s->next_due += (uint64_t)(1e9 / opt_rate);
            }
            send_one(s, now);
            queued = 1;
        }
        if (queued) flush(c);
    }
}

/* -- main --------------------------------------------------------------- */
static void usage(void) {
    fprintf(stderr,
        "usage: loadgen --port P [--host H] [--proto line|irc]\n"
        "  [--scenario fanout|private|idle] [--clients N] [--senders S]\n"
        "  [--rate LINES_PER_S] [--window W] [--warmup S] [--duration S]\n"
        "  [--drain S] [--server-pid PID] [--per-ip K] [--size BYTES]\n"
        "  [--pending N] [--channel #C] [--irc-pass P] [--irc-oper NAME:PASS]\n"
        "  [--prefix P] [--line-rooms K] [--setup-timeout S]\n");
    exit(2);
}

int main(int argc, char **argv) {
    static struct option longopts[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"proto", 1, 0, 'P'},
        {"scenario", 1, 0, 's'}, {"clients", 1, 0, 'n'}, {"senders", 1, 0, 'S'},
        {"rate", 1, 0, 'r'}, {"window", 1, 0, 'w'}, {"warmup", 1, 0, 'W'},
        {"duration", 1, 0, 'd'}, {"drain", 1, 0, 'D'}, {"server-pid", 1, 0, 'k'},
        {"per-ip", 1, 0, 'i'}, {"size", 1, 0, 'z'}, {"pending", 1, 0, 'q'},
        {"channel", 1, 0, 'c'}, {"irc-pass", 1, 0, 'a'}, {"irc-oper", 1, 0, 'o'},
        {"prefix", 1, 0, 'x'}, {"setup-timeout", 1, 0, 'T'}, {"line-rooms", 1, 0, 'R'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt_host = optarg; break;
        case 'p': opt_port = atoi(optarg); break;
        case 'P':
            if (!strcmp(optarg, "line")) opt_proto = PROTO_LINE;
            else if (!strcmp(optarg, "irc")) opt_proto = PROTO_IRC;
            else usage();
            break;
        case 's':
            if (!strcmp(optarg, "fanout")) opt_scenario = SC_FANOUT;
            else if (!strcmp(optarg, "private")) opt_scenario = SC_PRIVATE;
            else if (!strcmp(optarg, "idle")) opt_scenario = SC_IDLE;
            else usage();
            break;
        case 'n': opt_clients = atoi(optarg); break;
        case 'S': opt_senders = atoi(optarg); break;
        case 'r': opt_rate = atof(optarg); break;
        case 'w': opt_window = atoi(optarg); break;
        case 'W': opt_warmup = atof(optarg); break;
        case 'd': opt_duration = atof(optarg); break;
        case 'D': opt_drain = atof(optarg); break;
        case 'k': opt_server_pid = atoi(optarg); break;
        case 'i': opt_per_ip = atoi(optarg); break;
        case 'z': opt_size = atoi(optarg); break;
        case 'q': opt_pending = atoi(optarg); break;
        case 'c': opt_channel = optarg; break;
        case 'a': opt_irc_pass = optarg; break;
        case 'o': opt_irc_oper = optarg; break;
        case 'x': opt_prefix = optarg; break;
        case 'T': opt_setup_timeout = atof(optarg); break;
        case 'R': opt_line_rooms = atoi(optarg); break;
        default: usage();
        }
    }
    if (!opt_port || opt_clients < 1 || opt_window < 1) usage();
    if (opt_scenario == SC_PRIVATE && opt_clients % 2) die("private needs an even --clients");
    signal(SIGPIPE, SIG_IGN);

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;

    clients = calloc(opt_clients, sizeof *clients);
    if (opt_scenario == SC_FANOUT) {
        if (opt_senders > opt_clients) opt_senders = opt_clients;
        nsenders = opt_senders;
        receivers_per_msg = opt_clients - 1;
    } else if (opt_scenario == SC_PRIVATE) {
        nsenders = opt_clients;
        receivers_per_msg = 1;
    } else {
        nsenders = 0;
    }
    senders = calloc(nsenders ? nsenders : 1, sizeof *senders);
    int slots = opt_scenario == SC_FANOUT ? nsenders : 1;
    for (int i = 0; i < opt_clients; i++) {
        client_t *c = &clients[i];
        c->id = i;
        c->sender = -1;
        c->partner = opt_scenario == SC_PRIVATE ? (i ^ 1) : -1;
        c->partial = malloc(PARTIAL_MAX);
        c->expect = calloc(slots, sizeof *c->expect);
        c->got = calloc(slots, sizeof *c->got);
    }
    for (int i = 0; i < nsenders; i++) {
        senders[i].cid = i;
        senders[i].target = opt_scenario == SC_PRIVATE ? (i ^ 1) : -1;
        senders[i].remaining = calloc(opt_window, sizeof(uint32_t));
        clients[i].sender = i;
    }

    epfd = epoll_create1(EPOLL_CLOEXEC);
    long rss_start = opt_server_pid ? proc_rss_kib(opt_server_pid) : -1;
    int maxev = 1024;
    struct epoll_event *evs = calloc(maxev, sizeof *evs);
    uint64_t setup_deadline = (uint64_t)(opt_setup_timeout * 1e9);
    uint64_t settle_start = 0, run_start = 0, measure_start = 0, measure_end = 0;
    uint64_t drain_deadline = 0, setup_end = 0;
    double srv_cpu0 = 0, srv_cpu1 = 0, self_cpu0 = 0, self_cpu1 = 0;
    long rss_ready = -1, rss_end = -1;
    int failed = 0;

    while (phase != PH_DONE) {
        uint64_t now = now_ns();
        if (phase == PH_SETUP) {
            while (next_connect < opt_clients && pending < opt_pending)
                start_connect(next_connect++);
            if (nready == opt_clients) {
                phase = PH_SETTLE;
                settle_start = setup_end = now;
                note("%d clients ready in %.2f s", opt_clients, now / 1e9);
            } else if (nclosed || now > setup_deadline) {
                note("set-up failed: %d ready, %d closed", nready, nclosed);
                failed = 1;
                break;
            }
        }
        if (phase == PH_SETTLE) {
            /* Let registration chatter (joins, MOTDs) drain before measuring. */
            if (now - last_rx > 300000000ull || now - settle_start > 120000000000ull) {
                rss_ready = opt_server_pid ? proc_rss_kib(opt_server_pid) : -1;
                phase = PH_RUN;
                run_start = now;
                measure_start = run_start + (uint64_t)(opt_warmup * 1e9);
                measure_end = measure_start + (uint64_t)(opt_duration * 1e9);
                for (int i = 0; i < nsenders; i++) senders[i].next_due = now;
            }
        }
        if (phase == PH_RUN) {
            if (!in_window && now >= measure_start) {
                in_window = 1;
                srv_cpu0 = opt_server_pid ? proc_cpu_seconds(opt_server_pid) : 0;
                self_cpu0 = self_cpu_seconds();
                measure_start = now;
            }
            if (in_window && now >= measure_end) {
                srv_cpu1 = opt_server_pid ? proc_cpu_seconds(opt_server_pid) : 0;
                self_cpu1 = self_cpu_seconds();
                rss_end = opt_server_pid ? proc_rss_kib(opt_server_pid) : -1;
                in_window = 0;
                measure_end = now;
                phase = PH_DRAIN;
                drain_deadline = now + (uint64_t)(opt_drain * 1e9);
            } else {
                pump_senders(now);
            }
        }
        if (phase == PH_DRAIN) {
            int outstanding = 0;
            for (int i = 0; i < nsenders; i++)
                if (senders[i].acked != senders[i].sent) outstanding = 1;
            if (!outstanding || now > drain_deadline) phase = PH_DONE;
            if (phase == PH_DONE) break;
        }
        int timeout = opt_rate > 0 && phase == PH_RUN ? 1 : 50;
        int n = epoll_wait(epfd, evs, maxev, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            client_t *c = &clients[evs[i].data.u32];
            if (c->state == ST_CLOSED) continue;
            if (c->state == ST_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) { close_client(c, strerror(err)); continue; }
                c->state = ST_REGISTERING;
                want_out(c, 0);
                send_registration(c);
                if (c->state == ST_CLOSED) continue;
            }
            if (evs[i].events & EPOLLOUT) flush(c);
            if (c->state != ST_CLOSED && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                readable(c);
        }
    }

    /* Anything a sender sent that its recipients did not get is lost. */
    uint64_t sent_total = 0, expected = 0, got_total = 0;
    for (int i = 0; i < nsenders; i++) sent_total += senders[i].sent;
    for (int r = 0; r < opt_clients; r++) {
        client_t *c = &clients[r];
        if (opt_scenario == SC_FANOUT) {
            for (int s = 0; s < nsenders; s++) {
                if (senders[s].cid == r) continue;
                expected += senders[s].sent;
                got_total += c->got[s];
            }
        } else if (opt_scenario == SC_PRIVATE) {
            expected += senders[clients[c->partner].sender].sent;
            got_total += c->got[0];
        }
    }
    uint64_t lost = expected - got_total;
    double window = (measure_end - measure_start) / 1e9;
    double srv_cpu = srv_cpu1 - srv_cpu0, self_cpu = self_cpu1 - self_cpu0;
    int dropped = nclosed;
    phase = PH_DONE;
    printf("{\"ok\": %s, \"scenario\": \"%s\", \"proto\": \"%s\", \"clients\": %d, "
           "\"senders\": %d, \"setup_s\": %.3f, \"window_s\": %.3f, "
           "\"deliveries\": %llu, \"window_deliveries\": %llu, "
           "\"deliveries_per_s\": %.1f, \"server_cpu_s\": %.3f, "
           "\"server_us_per_delivery\": %.4f, \"loadgen_cpu_s\": %.3f, "
           "\"loadgen_cpu_pct\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
           "\"max_ms\": %.3f, \"sent\": %llu, \"expected\": %llu, \"lost\": %llu, "
           "\"gaps\": %llu, \"duplicates\": %llu, \"misrouted\": %llu, "
           "\"errors\": %llu, \"dropped\": %d, \"other_lines\": %llu, "
           "\"overlong\": %llu, \"rss_start_kib\": %ld, \"rss_ready_kib\": %ld, "
           "\"rss_end_kib\": %ld}\n",
           failed || lost || dups || misrouted || dropped ? "false" : "true",
           opt_scenario == SC_FANOUT ? "fanout" : opt_scenario == SC_PRIVATE ? "private" : "idle",
           opt_proto == PROTO_LINE ? "line" : "irc", opt_clients, nsenders,
           setup_end / 1e9, window, (unsigned long long)deliveries,
           (unsigned long long)win_deliveries, window > 0 ? win_deliveries / window : 0,
           srv_cpu, win_deliveries ? srv_cpu * 1e6 / win_deliveries : 0, self_cpu,
           window > 0 ? 100 * self_cpu / window : 0, lat_percentile(0.50),
           lat_percentile(0.99), lat_max / 1e6, (unsigned long long)sent_total,
           (unsigned long long)expected, (unsigned long long)lost,
           (unsigned long long)gaps, (unsigned long long)dups,
           (unsigned long long)misrouted, (unsigned long long)errors_seen, dropped,
           (unsigned long long)other_lines, (unsigned long long)overlong, rss_start,
           rss_ready, rss_end);
    return failed ? 1 : 0;
}
