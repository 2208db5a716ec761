/*
 * aegis-sandbox-tool: the one small static binary baked into every sandbox image.
 *
 *   aegis-sandbox-tool serve -p PORT -r DIR   minimal HTTP/1.x file server: GET/HEAD /a/b answers
 *                                             200 with the file DIR/a/b (or DIR/a/b/index when that
 *                                             is a directory), no redirects, 404 otherwise. The
 *                                             token @UPTIME@ in a body becomes the seconds elapsed
 *                                             since the server started. Bodies starting with '{'
 *                                             are sent as application/json. A file DIR/a/b.status
 *                                             holding a number answers with that HTTP status
 *                                             instead of 200 (OpenBao's health: 503 when sealed).
 *   aegis-sandbox-tool raw -p PORT            accepts TCP connections and answers bytes that are not
 *                                             HTTP/1.x (an HTTP/2 SETTINGS frame), like a gRPC port.
 *   aegis-sandbox-tool log LEVEL TARGET MSG   prints a line shaped like a Rust `tracing` fmt logger
 *                                             with ANSI colours: `<ISO ms>Z \e[32m INFO\e[0m target: msg`.
 *   aegis-sandbox-tool now                    prints the current UTC time, ISO 8601 with milliseconds.
 *
 * Both servers exit on SIGTERM/SIGINT (they run as PID 1, where default actions are ignored).
 * Build: gcc -O2 -static -o aegis-sandbox-tool aegis-sandbox-tool.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static time_t started_at;

static void on_term(int sig) { (void)sig; _exit(0); }

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGCHLD, SIG_IGN);
}

static void iso_now(char *buf, size_t len) {
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

static int listen_on(int port) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    int v6 = 1;
    if (fd >= 0) {
        int off = 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v6, sizeof v6);
        struct sockaddr_in6 a6;
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        a6.sin6_addr = in6addr_any;
        a6.sin6_port = htons((unsigned short)port);
        if (bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0 && listen(fd, 64) == 0) return fd;
        close(fd);
    }
    /* no IPv6 in this namespace: plain IPv4 */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); exit(1); }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v6, sizeof v6);
    struct sockaddr_in a4;
    memset(&a4, 0, sizeof a4);
    a4.sin_family = AF_INET;
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    a4.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&a4, sizeof a4) != 0) { perror("bind"); exit(1); }
    if (listen(fd, 64) != 0) { perror("listen"); exit(1); }
    return fd;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return; }
        p += w;
        n -= (size_t)w;
    }
}

/* Reads DIR + path into a malloc'd buffer; NULL when it is not a readable regular file. */
static char *load(const char *root, const char *path, size_t *len) {
    char full[4096];
    struct stat st;
    snprintf(full, sizeof full, "%s%s", root, path);
    size_t fl = strlen(full);
    while (fl > strlen(root) + 1 && full[fl - 1] == '/') full[--fl] = '\0';
    if (stat(full, &st) != 0) return NULL;
    if (S_ISDIR(st.st_mode)) {
        strncat(full, "/index", sizeof full - strlen(full) - 1);
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    } else if (!S_ISREG(st.st_mode)) {
        return NULL;
    }
    int fd = open(full, O_RDONLY);
    if (fd < 0) return NULL;
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf) return NULL;
    buf[got] = '\0';
    *len = got;
    return buf;
}

/* Replaces every @UPTIME@ with the uptime in seconds. */
static char *expand(const char *body, size_t *len) {
    const char *tok = "@UPTIME@";
    char num[32];
    snprintf(num, sizeof num, "%ld", (long)(time(NULL) - started_at));
    size_t cap = *len * 2 + 64, o = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < *len;) {
        if (*len - i >= 8 && memcmp(body + i, tok, 8) == 0) {
            size_t nl = strlen(num);
            if (o + nl + 1 >= cap) { cap = cap * 2 + nl; out = realloc(out, cap); }
            memcpy(out + o, num, nl);
            o += nl;
            i += 8;
        } else {
            if (o + 2 >= cap) { cap *= 2; out = realloc(out, cap); }
            out[o++] = body[i++];
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* The status DIR/path.status names (100-599), or 200. */
static int status_of(const char *root, const char *path) {
    char file[8192];
    int status = 200;
    snprintf(file, sizeof file, "%s%s.status", root, path);
    FILE *f = fopen(file, "r");
    if (!f) return 200;
    if (fscanf(f, "%d", &status) != 1 || status < 100 || status > 599) status = 200;
    fclose(f);
    return status;
}

static const char *reason_of(int status) {
    switch (status) {
    case 200: return "OK";
    case 429: return "Too Many Requests";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 400 ? "OK" : "Error";
    }
}

static void respond(int c, int status, const char *reason, const char *ctype, const char *body,
                    size_t blen, int head_only) {
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, reason, ctype, blen);
    write_all(c, hdr, (size_t)n);
    if (!head_only) write_all(c, body, blen);
}

static void handle(int c, const char *root) {
    char req[8192];
    size_t got = 0;
    struct timeval tv = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < sizeof req - 1) {
        ssize_t r = read(c, req + got, sizeof req - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n")) break;
    }
    req[got] = '\0';
    char method[16] = "", path[4096] = "";
    if (sscanf(req, "%15s %4095s", method, path) != 2) {
        const char *b = "{\"error\":\"bad request\"}";
        respond(c, 400, "Bad Request", "application/json", b, strlen(b), 0);
        return;
    }
    int head_only = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head_only) {
        const char *b = "{\"error\":\"method not allowed\"}";
        respond(c, 405, "Method Not Allowed", "application/json", b, strlen(b), 0);
        return;
    }
    char *q = strpbrk(path, "?#");
    if (q) *q = '\0';
    size_t len = 0;
    char *body = (path[0] == '/' && !strstr(path, "..")) ? load(root, path, &len) : NULL;
    if (!body) {
        const char *b = "{\"error\":\"not found\"}";
        respond(c, 404, "Not Found", "application/json", b, strlen(b), head_only);
        return;
    }
    char *out = expand(body, &len);
    const char *ctype = (len > 0 && out[0] == '{') ? "application/json"
                        : (len > 0 && out[0] == '<') ? "text/html; charset=utf-8"
                                                     : "text/plain; charset=utf-8";
    int status = status_of(root, path);
    respond(c, status, reason_of(status), ctype, out, len, head_only);
    free(out);
    free(body);
}

static int port_arg(int argc, char **argv, const char *flag, const char *dflt, const char **val) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0) { *val = argv[i + 1]; return 1; }
    *val = dflt;
    return 0;
}

static int serve(int argc, char **argv, int raw) {
    const char *port, *root;
    port_arg(argc, argv, "-p", "8080", &port);
    port_arg(argc, argv, "-r", "/srv/www", &root);
    install_signals();
    started_at = time(NULL);
    int s = listen_on(atoi(port));
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) { if (errno == EINTR) continue; perror("accept"); continue; }
        if (raw) {
            /* an HTTP/2 SETTINGS frame then a GOAWAY: meaningless to an HTTP/1.1 client */
            static const unsigned char frames[] = {0, 0, 0, 4, 0, 0, 0, 0, 0,
                                                   0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
            write_all(c, (const char *)frames, sizeof frames);
            shutdown(c, SHUT_WR);
            usleep(100000);
        } else {
            handle(c, root);
        }
        close(c);
    }
    return 0;
}

static int do_log(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: log LEVEL TARGET MESSAGE...\n"); return 2; }
    const char *lvl = argv[2], *colour = "32";
    if (strcmp(lvl, "WARN") == 0) colour = "33";
    else if (strcmp(lvl, "ERROR") == 0) colour = "31";
    else if (strcmp(lvl, "DEBUG") == 0) colour = "34";
    else if (strcmp(lvl, "TRACE") == 0) colour = "35";
    char ts[64];
    iso_now(ts, sizeof ts);
    char line[16384];
    int n = snprintf(line, sizeof line, "%s \x1b[%sm%5s\x1b[0m %s:", ts, colour, lvl, argv[3]);
    for (int i = 4; i < argc && n < (int)sizeof line - 2; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s", argv[i]);
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    write_all(1, line, (size_t)n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "serve") == 0) return serve(argc, argv, 0);
    if (argc >= 2 && strcmp(argv[1], "raw") == 0) return serve(argc, argv, 1);
    if (argc >= 2 && strcmp(argv[1], "log") == 0) return do_log(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "now") == 0) {
        char ts[64];
        iso_now(ts, sizeof ts);
        puts(ts);
        return 0;
    }
    fprintf(stderr, "usage: %s serve -p PORT -r DIR | raw -p PORT | log LEVEL TARGET MSG | now\n", argv[0]);
    return 2;
}
