/* net/events.c — the node's trace as Server-Sent Events (net/events.h).
 * A small HTTP/1.1 responder: read the request head (8 KiB at most), route
 * GET /events and GET /health, answer anything else 404 or 405.  The trace
 * reaches it through a stdio stream (fopencookie) that the runtime's JSON
 * trace view prints to, so the runtime knows nothing of HTTP. */
#include <stdlib.h>
#include <string.h>
#include "net/conn.h"
#include "net/events.h"

#define HEAD_MAX 8192
/* Bytes a subscriber may leave unread before it misses events. */
#define QUEUE_MAX ((size_t)1 << 20)
#define KEEPALIVE_MS 15000

typedef struct Client {
  uv_tcp_t tcp;
  Events *ev;
  char head[HEAD_MAX];
  size_t nhead;
  bool subscribed;             /* streaming /events */
  bool closing;
  struct Client *prev, *next;  /* every open client */
} Client;

struct Events {
  uv_loop_t *loop;
  const char *name;
  uv_tcp_t listener;
  bool listening;
  int port;
  uv_timer_t keepalive;
  bool keeping_alive;
  Client *clients;
  FILE *tee;
  Buf line;                    /* the trace line being written */
  Buf out;                     /* an event as it is sent */
  bool closing;
};

Events *events_new(uv_loop_t *loop, const char *name) {
  Events *ev = calloc(1, sizeof *ev);
  if (!ev) abort();
  ev->loop = loop;
  ev->name = name;
  return ev;
}

int events_port(const Events *ev) { return ev->port; }

/* {===== Clients =====} */

static void client_freed(uv_handle_t *h) { free(h->data); }

static void client_close(Client *c) {
  if (c->closing) return;
  c->closing = true;
  if (c->prev) c->prev->next = c->next;
  else c->ev->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->tcp, client_freed);
}

static void write_failed(uv_stream_t *s, int status) {
  (void)status;
  client_close(s->data);
}

/* Sends [n] bytes to [c]; a subscriber that lags misses them. */
static void client_send(Client *c, const char *p, size_t n) {
  if (c->closing) return;
  int r = net_write((uv_stream_t *)&c->tcp, p, n, QUEUE_MAX, write_failed);
  if (r < 0) client_close(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  (void)status;
  client_close(req->handle->data);
  free(req);
}

/* Answers a request that is not a subscription, then closes. */
static void respond(Client *c, const char *status, const char *body) {
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   status, strlen(body), body);
  client_send(c, buf, (size_t)n);
  uv_read_stop((uv_stream_t *)&c->tcp);
  /* Closed once the answer is out. */
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req || c->closing || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
    free(req);
    client_close(c);
  }
}

/* The request head is complete: route it. */
static void route(Client *c) {
  char method[16], path[256];
  if (sscanf(c->head, "%15s %255s", method, path) != 2) {
    respond(c, "400 Bad Request", "bad request\n");
    return;
  }
  path[strcspn(path, "?")] = '\0';
  if (strcmp(method, "GET") != 0) {
    respond(c, "405 Method Not Allowed", "only GET\n");
  } else if (strcmp(path, "/health") == 0) {
    respond(c, "200 OK", "ok");
  } else if (strcmp(path, "/events") == 0) {
    /* A comment at once: the client knows it is subscribed before any event. */
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                               "Connection: keep-alive\r\nAccess-Control-Allow-Origin: *\r\n\r\n: subscribed\n\n";
    c->subscribed = true;
    client_send(c, head, sizeof head - 1);
  } else {
    respond(c, "404 Not Found", "not found (GET /events or /health)\n");
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  Client *c = h->data;
  if (c->subscribed) {  /* what a subscriber sends is read and dropped */
    static char sink[4096];
    *buf = uv_buf_init(sink, sizeof sink);
    return;
  }
  *buf = uv_buf_init(c->head + c->nhead, (unsigned)(HEAD_MAX - 1 - c->nhead));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  Client *c = s->data;
  if (nread < 0) {
    client_close(c);
    return;
  }
  if (c->subscribed || nread == 0) return;
  c->nhead += (size_t)nread;
  c->head[c->nhead] = '\0';
  if (strstr(c->head, "\r\n\r\n") || strstr(c->head, "\n\n")) route(c);
  else if (c->nhead >= HEAD_MAX - 1) respond(c, "431 Request Header Fields Too Large", "request too large\n");
}

static void on_connection(uv_stream_t *server, int status) {
  Events *ev = server->data;
  if (status < 0) return;
  Client *c = calloc(1, sizeof *c);
  if (!c) return;
  c->ev = ev;
  uv_tcp_init(ev->loop, &c->tcp);
  c->tcp.data = c;
  c->next = ev->clients;
  if (c->next) c->next->prev = c;
  ev->clients = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0)
    client_close(c);
}

/* {===== Events =====} */

static void broadcast(Events *ev, const char *p, size_t n) {
  for (Client *c = ev->clients, *next; c; c = next) {
    next = c->next;
    if (c->subscribed) client_send(c, p, n);
  }
}

static void keepalive_cb(uv_timer_t *t) {
  static const char ping[] = ": keepalive\n\n";
  broadcast(t->data, ping, sizeof ping - 1);
}

/* One line of the JSON trace (without its newline): one event. */
static void send_line(Events *ev, const char *p, size_t n) {
  ev->out.n = 0;
  buf_lit(&ev->out, "data: ");
  buf_put(&ev->out, p, n);
  buf_lit(&ev->out, "\n\n");
  broadcast(ev, ev->out.p, ev->out.n);
}

/* The trace stream's write: cut into lines, each an event. */
static ssize_t stream_write(void *cookie, const char *p, size_t n) {
  Events *ev = cookie;
  if (ev->tee) fwrite(p, 1, n, ev->tee);
  for (size_t j = 0; j < n; j++) {
    if (p[j] != '\n') {
      buf_putc(&ev->line, p[j]);
      continue;
    }
    if (!ev->closing) send_line(ev, ev->line.p, ev->line.n);
    ev->line.n = 0;
  }
  return (ssize_t)n;
}

static int stream_close(void *cookie) {
  Events *ev = cookie;
  return ev->tee && fflush(ev->tee) != 0 ? -1 : 0;
}

FILE *events_stream(Events *ev, FILE *tee) {
  ev->tee = tee;
  FILE *f = fopencookie(ev, "w", (cookie_io_functions_t){ .write = stream_write, .close = stream_close });
  if (f) setvbuf(f, NULL, _IONBF, 0);
  return f;
}

bool events_listen(Events *ev, int port) {
  ev->listening = true;
  int r = net_tcp_listen(ev->loop, &ev->listener, ev, port, on_connection, &ev->port);
  if (r < 0) {
    fprintf(stderr, "avm node %s: cannot serve events on port %d: %s\n", ev->name, port, uv_strerror(r));
    return false;
  }
  uv_timer_init(ev->loop, &ev->keepalive);
  ev->keepalive.data = ev;
  uv_timer_start(&ev->keepalive, keepalive_cb, KEEPALIVE_MS, KEEPALIVE_MS);
  ev->keeping_alive = true;
  return true;
}

void events_close(Events *ev) {
  if (ev->closing) return;
  ev->closing = true;
  if (ev->listening) uv_close((uv_handle_t *)&ev->listener, NULL);
  if (ev->keeping_alive) uv_close((uv_handle_t *)&ev->keepalive, NULL);
  while (ev->clients) client_close(ev->clients);
}
