/*
 * The smallest HTTP/1.x server that can be scraped by Prometheus: one
 * thread, one request per connection (Connection: close), GET /metrics
 * only. Requests are read with a deadline and a size cap; anything else
 * gets a short status line and the connection closed:
 *   400 malformed request line or header block, 404 another path,
 *   405 another method, 408 too slow, 431 request header larger than 8 KiB.
 * A client that stalls or sends garbage costs at most the read deadline.
 */
#ifndef SHOAL_TOOL_HTTP_H
#define SHOAL_TOOL_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOOL_HTTP_MAX_REQUEST      8192
#define TOOL_HTTP_READ_DEADLINE_MS 2000

/* Listens on "HOST:PORT" (IPv4 or a name; "[v6]:PORT" for IPv6). Returns the
 * socket, or -1 with a message in err. */
static inline int tool_http_listen(const char *spec, char *err, size_t err_length)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (NULL == colon || colon == spec || (size_t)(colon - spec) >= sizeof(host) || '\0' == colon[1])
    {
        snprintf(err, err_length, "--listen wants HOST:PORT, got '%s'", spec);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if ('[' == host[0] && ']' == host[strlen(host) - 1])
    {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if ('\0' != *end || port < 0 || port > 65535)
    {
        snprintf(err, err_length, "--listen: bad port '%s'", colon + 1);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (0 != rc)
    {
        snprintf(err, err_length, "--listen: cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 16) < 0)
    {
        snprintf(err, err_length, "--listen %s: %s", spec, strerror(errno));
        if (fd >= 0)
        {
            close(fd);
        }
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static inline void tool_http_send_all(int fd, const char *data, size_t length)
{
    while (length > 0)
    {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n <= 0)
        {
            if (n < 0 && EINTR == errno)
            {
                continue;
            }
            return;
        }
        data += n;
        length -= (size_t)n;
    }
}

/* HEAD gets the headers of the GET reply (its Content-Length) without the body. */
static inline void tool_http_reply(int fd, int status, const char *reason, const char *content_type, const char *body,
    size_t body_length, int head_only)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status, reason,
        content_type, body_length);
    tool_http_send_all(fd, head, (size_t)n);
    if (!head_only)
    {
        tool_http_send_all(fd, body, body_length);
    }
}

static inline int64_t tool_http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the request head (up to the blank line). 0 with the head in buf, or
 * the HTTP status to refuse with (400, 408, 431). */
static inline int tool_http_read_head(int fd, char *buf, size_t capacity)
{
    size_t used = 0;
    int64_t deadline = tool_http_now_ms() + TOOL_HTTP_READ_DEADLINE_MS;
    for (;;)
    {
        int64_t left = deadline - tool_http_now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
        {
            return 408;
        }
        ssize_t n = recv(fd, buf + used, capacity - 1 - used, 0);
        if (n <= 0)
        {
            return 400;
        }
        if (memchr(buf + used, '\0', (size_t)n))
        {
            return 400; /* no NUL byte belongs in a request head (a TLS hello, binary noise) */
        }
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
        {
            return 0;
        }
        if (used == capacity - 1)
        {
            return 431;
        }
    }
}

/* Serves one connection: body_fn(clientd, &length) makes the /metrics body
 * (malloc'ed; NULL: 500). Returns the status sent. */
static inline int tool_http_serve_one(int listen_fd, char *(*body_fn)(void *clientd, size_t *length), void *clientd)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
    {
        return -1;
    }
    char *req = malloc(TOOL_HTTP_MAX_REQUEST + 1);
    int status = NULL == req ? 500 : tool_http_read_head(fd, req, TOOL_HTTP_MAX_REQUEST + 1);
    char method[16], path[256], version[16];
    if (0 == status)
    {
        /* "METHOD SP PATH SP HTTP/1.x" then CRLF: anything else is malformed. */
        int used = 0;
        if (sscanf(req, "%15[A-Z] %255[^ \r\n] %15[^\r\n]%n", method, path, version, &used) != 3 ||
            ('\r' != req[used] && '\n' != req[used]) || strncmp(version, "HTTP/1.", 7) || strlen(version) != 8)
        {
            status = 400;
        }
        else if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        {
            status = 405;
        }
        else if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9))
        {
            status = 404;
        }
        else
        {
            status = 200;
        }
    }
    static const char *const REASONS[][2] = { { "400", "Bad Request" }, { "404", "Not Found" },
        { "405", "Method Not Allowed" }, { "408", "Request Timeout" }, { "431", "Request Header Fields Too Large" },
        { "500", "Internal Server Error" } };
    if (200 == status)
    {
        size_t length = 0;
        char *body = body_fn(clientd, &length);
        if (NULL == body)
        {
            status = 500;
        }
        else
        {
            tool_http_reply(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, length,
                0 == strcmp(method, "HEAD"));
            free(body);
        }
    }
    if (200 != status)
    {
        char code[8];
        snprintf(code, sizeof(code), "%d", status);
        const char *reason = "Error";
        for (size_t i = 0; i < sizeof(REASONS) / sizeof(REASONS[0]); i++)
        {
            reason = 0 == strcmp(REASONS[i][0], code) ? REASONS[i][1] : reason;
        }
        char body[128];
        int n = snprintf(body, sizeof(body), "%d %s: shoal-stat serves GET /metrics only\n", status, reason);
        tool_http_reply(fd, status, reason, "text/plain; charset=utf-8", body, (size_t)n, 0);
    }
    free(req);
    /* Lingering close: closing with unread request bytes would reset the
     * connection and could destroy the reply before the client reads it. */
    shutdown(fd, SHUT_WR);
    char sink[4096];
    int64_t deadline = tool_http_now_ms() + 500;
    for (size_t drained = 0; drained < 1024 * 1024;)
    {
        int64_t left = deadline - tool_http_now_ms();
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || (n = recv(fd, sink, sizeof(sink), 0)) <= 0)
        {
            break;
        }
        drained += (size_t)n;
    }
    close(fd);
    return status;
}

#endif
