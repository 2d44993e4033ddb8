/* ami_events: log in to an Asterisk Manager Interface (MD5) and print every event until Ctrl-C.
 *
 *   cc ami_events.c $(pkg-config --cflags --libs libami) -o ami_events
 *   AMI_USER=admin AMI_SECRET=s3cret ./ami_events 127.0.0.1 5038
 *   ./ami_events HOST PORT USER SECRET
 *
 * Exit status: 0 after Ctrl-C, 1 when the login is refused or the connection is lost, 2 usage.
 *
 * libami does no I/O. This program owns the socket and the clock; the client session turns
 * received bytes into events and tells us what to send and when to wake up. */
#define _POSIX_C_SOURCE 200809L
#include <ami.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) { (void)sig; interrupted = 1; }

/* libami's time: milliseconds of a monotonic clock. */
static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Resolve HOST:PORT and connect to the first address that answers; non-blocking afterwards. */
static int dial(const char *host, const char *port) {
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        perror("connect");
    else
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Send what the session has queued. A partial write is normal: the rest stays queued (we only
 * consume what the kernel took) and poll() tells us when the socket can take more. */
static int flush(int fd, ami_client *c) {
    ami_bytes out;
    while (ami_client_poll_transmit(c, &out) == AMI_RESULT_OK && out.len > 0) {
        ssize_t n = send(fd, out.data, out.len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        ami_client_consume_transmit(c, (size_t)n);
    }
    return 0;
}

/* Print the current event's lines as `Name: value`. Views are not NUL-terminated: use %.*s. */
static void print_message(const ami_client *c) {
    size_t count = 0;
    ami_header h;
    ami_client_event_header_count(c, &count);
    for (size_t i = 0; i < count; i++) {
        if (ami_client_event_header(c, i, &h) != AMI_RESULT_OK)
            continue;
        printf("%.*s%s%.*s\n", (int)h.name.len, (const char *)h.name.data, h.bare ? "" : ": ",
               (int)h.value.len, (const char *)h.value.data);
    }
    printf("\n");
}

/* Set when the server refused the login: the program then exits 1. */
static int login_refused;

/* Handle every event the session has; returns 0 once the session is over. */
static int drain(ami_client *c) {
    ami_client_event_kind kind;
    ami_bytes text;
    while (ami_client_poll_event(c, &kind) == AMI_RESULT_OK && kind != AMI_CLIENT_EVENT_NONE) {
        switch (kind) {
        case AMI_CLIENT_EVENT_BANNER:
            if (ami_client_event_banner(c, &text) == AMI_RESULT_OK)
                fprintf(stderr, "connected: AMI %.*s\n", (int)text.len, (const char *)text.data);
            break;
        case AMI_CLIENT_EVENT_LOGGED_IN:
            fprintf(stderr, "logged in; Ctrl-C to stop\n");
            break;
        case AMI_CLIENT_EVENT_LOGIN_FAILED:
            login_refused = 1;
            if (ami_client_event_get(c, "Message", 7, &text) == AMI_RESULT_OK)
                fprintf(stderr, "login failed: %.*s\n", (int)text.len, (const char *)text.data);
            break;
        case AMI_CLIENT_EVENT_EVENT:
            print_message(c);
            break;
        case AMI_CLIENT_EVENT_CLOSED:
            fprintf(stderr, "connection closed\n");
            return 0;
        default: /* responses to our own actions, timeouts: nothing to do here */
            break;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    const char *port = argc > 2 ? argv[2] : "5038";
    const char *user = argc > 3 ? argv[3] : getenv("AMI_USER");
    const char *secret = argc > 4 ? argv[4] : getenv("AMI_SECRET");
    if (user == NULL || secret == NULL) {
        fprintf(stderr, "usage: %s [HOST [PORT [USER SECRET]]] (or AMI_USER, AMI_SECRET)\n", argv[0]);
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_sigint; /* no SA_RESTART: poll() returns EINTR on Ctrl-C */
    sigaction(SIGINT, &sa, NULL);

    int fd = dial(host, port);
    if (fd < 0)
        return 1;

    /* A keepalive Ping after 30 s of silence notices a dead server within 10 s more. */
    ami_client_config cfg;
    ami_client_config_default(&cfg);
    cfg.keepalive_interval_ms = 30000;
    cfg.keepalive_timeout_ms = 10000;
    ami_client *c = NULL;
    if (ami_client_new(&cfg, now_ms(), &c) != AMI_RESULT_OK ||
        ami_client_login(c, user, strlen(user), secret, strlen(secret), AMI_LOGIN_MD5, NULL) !=
            AMI_RESULT_OK) {
        fprintf(stderr, "cannot start the session\n");
        ami_client_free(c);
        close(fd);
        return 1;
    }

    int running = 1;
    while (running && !interrupted) {
        if (flush(fd, c) < 0) {
            perror("send");
            break;
        }
        /* Sleep until the socket is readable (or writable, if bytes wait) or a deadline. */
        ami_bytes pending;
        ami_client_poll_transmit(c, &pending);
        bool has_deadline = false;
        uint64_t deadline = 0;
        ami_client_poll_timeout(c, &has_deadline, &deadline);
        int timeout = -1;
        if (has_deadline) {
            uint64_t now = now_ms();
            timeout = deadline <= now ? 0 : deadline - now > 60000 ? 60000 : (int)(deadline - now);
        }
        struct pollfd p = {fd, (short)(POLLIN | (pending.len > 0 ? POLLOUT : 0)), 0};
        int ready = poll(&p, 1, timeout);
        if (ready < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        if (has_deadline && now_ms() >= deadline)
            ami_client_handle_timeout(c, now_ms());
        if (ready > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            uint8_t buf[4096];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                ami_client_handle_input(c, buf, (size_t)n);
            else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                ami_client_handle_eof(c); /* EOF or a read error: the session closes */
        }
        running = drain(c);
    }

    if (interrupted && ami_client_logoff(c, NULL) == AMI_RESULT_OK)
        flush(fd, c); /* best effort: say goodbye */
    ami_client_free(c);
    close(fd);
    /* Only Ctrl-C is a success: a refused login or a lost connection is not. */
    return interrupted && !login_refused ? 0 : 1;
}
