/* net/conn.c — TCP connections between nodes on libuv (net/conn.h says
 * what is owned and logged).  Reads are cut into frames by a WireReader
 * and decoded here; writes are tried at once (uv_try_write) and only what
 * the socket does not take is queued, so a call costs no extra loop turn. */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/conn.h"

/* How much libuv reads at a time. */
#define READ_CHUNK 65536
/* Backoff between attempts to reach a peer: doubled after each failure,
 * from the first to the last. */
#define DIAL_FIRST_MS 25
#define DIAL_MAX_MS 1000

void net_log(Net *net, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "avm node %s: ", net->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

Net *net_new(uv_loop_t *loop, const char *name, const ConnOps *ops, void *node) {
  Net *net = GC_MALLOC_UNCOLLECTABLE(sizeof *net);
  memset(net, 0, sizeof *net);
  net->loop = loop;
  net->name = name;
  net->ops = ops;
  net->node = node;
  net->next_serial = 1;
  net->frame_limit = WIRE_FRAME_LIMIT;
  net->queue_limit = (size_t)64 << 20;
  return net;
}

Conn *net_conn(Net *net, uint64_t serial) { return idmap_get(&net->conns, serial); }

/* {===== Connections =====} */

static Conn *conn_new(Net *net, Dial *dial) {
  Conn *c = GC_MALLOC_UNCOLLECTABLE(sizeof *c);
  memset(c, 0, sizeof *c);
  c->net = net;
  c->dial = dial;
  c->serial = net->next_serial++;
  wire_reader_init(&c->reader, net->frame_limit);
  uv_tcp_init(net->loop, &c->tcp);
  c->tcp.data = c;
  if (dial) snprintf(c->addr, sizeof c->addr, "%s@%s:%d", dial->name->name, dial->host, dial->port);
  return c;
}

static void dial_later(Dial *d);

static void conn_freed(uv_handle_t *h) {
  Conn *c = h->data;
  wire_reader_free(&c->reader);
  free(c->rbuf);
  GC_FREE(c);
}

void conn_close(Conn *c, const char *reason) {
  if (c->closing) return;
  c->closing = true;
  Net *net = c->net;
  if (reason) net_log(net, "peer %s: %s", c->addr, reason);
  idmap_remove(&net->conns, c->serial);
  if (c->is_up) net->ops->down(net, c, reason ? reason : "closed");
  Dial *d = c->dial;
  if (d && d->conn == c) {
    d->conn = NULL;
    dial_later(d);
  }
  uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  Conn *c = h->data;
  if (!c->rbuf) c->rbuf = malloc(READ_CHUNK);
  *buf = uv_buf_init(c->rbuf, c->rbuf ? READ_CHUNK : 0);
}

/* Decodes one frame's payload and hands the message to the node; false
 * if the connection had to close. */
static bool deliver(Conn *c, const char *payload, size_t len) {
  Net *net = c->net;
  WireMsg m;
  char err[WIRE_ERR_MAX];
  if (wire_decode(payload, len, &m, err, sizeof err)) {
    net->ops->message(net, c, &m);
  } else if (m.kind == MSG_CALL && WIRE_HAS(&m, request_id)) {
    net_log(net, "peer %s: refused call %llu: %s", c->addr, (unsigned long long)m.request_id, err);
    net->ops->refused(net, c, &m, err);
  } else {
    char reason[WIRE_ERR_MAX + 32];
    snprintf(reason, sizeof reason, "bad message: %s", err);
    conn_close(c, reason);
  }
  return !c->closing;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  Conn *c = s->data;
  if (c->closing) return;
  if (nread < 0) {
    if (nread != UV_EOF) {
      char reason[128];
      snprintf(reason, sizeof reason, "read error: %s", uv_strerror((int)nread));
      conn_close(c, reason);
    } else if (!wire_reader_eof(&c->reader)) {
      conn_close(c, wire_reader_error(&c->reader));
    } else {
      conn_close(c, "connection closed by the peer");
    }
    return;
  }
  wire_reader_feed(&c->reader, c->rbuf, (size_t)nread);
  const char *payload;
  size_t len;
  for (;;) {
    switch (wire_reader_next(&c->reader, &payload, &len)) {
      case WIRE_MORE: return;
      case WIRE_ERROR: conn_close(c, wire_reader_error(&c->reader)); return;
      case WIRE_FRAME:
        if (!deliver(c, payload, len)) return;
        break;
    }
  }
}

/* [c] is connected: start reading and tell the node. */
static void conn_up(Conn *c) {
  Net *net = c->net;
  uv_tcp_nodelay(&c->tcp, 1);  /* a call is one small frame: send it now */
  int r = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
  if (r < 0) {
    char reason[128];
    snprintf(reason, sizeof reason, "cannot read: %s", uv_strerror(r));
    conn_close(c, reason);
    return;
  }
  idmap_put(&net->conns, c->serial, c);
  c->is_up = true;
  net->ops->up(net, c);
}

/* {===== Writing =====} */

typedef struct WriteReq {
  uv_write_t req;
  void (*failed)(uv_stream_t *s, int status);
  char data[];
} WriteReq;

static void write_cb(uv_write_t *req, int status) {
  WriteReq *w = (WriteReq *)req;
  void (*failed)(uv_stream_t *, int) = w->failed;
  uv_stream_t *s = req->handle;
  free(w);
  if (status < 0 && status != UV_ECANCELED && failed) failed(s, status);
}

int net_write(uv_stream_t *s, const char *p, size_t n, size_t queue_limit, void (*failed)(uv_stream_t *, int)) {
  size_t queued = uv_stream_get_write_queue_size(s);
  if (queued + n > queue_limit) return NET_WRITE_FULL;
  if (queued == 0) {
    int r = uv_try_write(s, &(uv_buf_t){ .base = (char *)p, .len = n }, 1);
    if (r >= 0) {
      p += r;
      n -= (size_t)r;
    } else if (r != UV_EAGAIN) {
      return r;
    }
    if (n == 0) return 0;
  }
  WriteReq *w = malloc(sizeof *w + n);
  if (!w) return UV_ENOMEM;
  memcpy(w->data, p, n);
  w->failed = failed;
  int r = uv_write(&w->req, s, &(uv_buf_t){ .base = w->data, .len = n }, 1, write_cb);
  if (r < 0) free(w);
  return r;
}

static void conn_write_failed(uv_stream_t *s, int status) {
  Conn *c = s->data;
  if (c->closing) return;
  char reason[128];
  snprintf(reason, sizeof reason, "write error: %s", uv_strerror(status));
  conn_close(c, reason);
}

bool conn_send(Conn *c, const WireMsg *m) {
  if (c->closing) return false;
  Net *net = c->net;
  char err[WIRE_ERR_MAX];
  net->out.n = 0;
  if (!wire_frame_msg(&net->out, m, net->frame_limit, err, sizeof err)) {
    net_log(net, "peer %s: cannot send a %s: %s", c->addr, wire_msg_names[m->kind], err);
    return false;
  }
  int r = net_write((uv_stream_t *)&c->tcp, net->out.p, net->out.n, net->queue_limit, conn_write_failed);
  if (r == 0) return true;
  if (r == NET_WRITE_FULL) {
    conn_close(c, "the peer does not read what it is sent");
  } else {
    char reason[128];
    snprintf(reason, sizeof reason, "write error: %s", uv_strerror(r));
    conn_close(c, reason);
  }
  return false;
}

/* {===== Listening =====} */

/* "IP:PORT" of the peer at the other end of [c]. */
static void peer_name(Conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char ip[64] = "?";
  int port = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  snprintf(c->addr, sizeof c->addr, "%s:%d", ip, port);
}

static void on_connection(uv_stream_t *server, int status) {
  Net *net = server->data;
  if (status < 0) {
    net_log(net, "cannot accept a connection: %s", uv_strerror(status));
    return;
  }
  Conn *c = conn_new(net, NULL);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
    return;
  }
  peer_name(c);
  conn_up(c);
}

int net_tcp_listen(uv_loop_t *loop, uv_tcp_t *t, void *data, int port, uv_connection_cb cb, int *bound_port) {
  struct sockaddr_in addr;
  uv_ip4_addr("0.0.0.0", port, &addr);
  uv_tcp_init(loop, t);
  t->data = data;
  int r = uv_tcp_bind(t, (const struct sockaddr *)&addr, 0);
  if (r == 0) r = uv_listen((uv_stream_t *)t, 128, cb);
  if (r < 0) return r;
  struct sockaddr_in bound;
  int len = sizeof bound;
  uv_tcp_getsockname(t, (struct sockaddr *)&bound, &len);
  *bound_port = ntohs(bound.sin_port);
  return 0;
}

bool net_listen(Net *net, int port) {
  net->listening = true;
  int r = net_tcp_listen(net->loop, &net->listener, net, port, on_connection, &net->port);
  if (r < 0) net_log(net, "cannot listen on port %d: %s", port, uv_strerror(r));
  return r == 0;
}

/* {===== Dialling =====} */

static void dial_now(Dial *d);

static void dial_timer_cb(uv_timer_t *t) { dial_now(t->data); }

/* Schedules the next attempt to reach [d] (unless the node is closing). */
static void dial_later(Dial *d) {
  if (d->net->closing) return;
  uv_timer_start(&d->timer, dial_timer_cb, d->delay_ms, 0);
}

static void dial_failed(Dial *d, const char *why) {
  /* The first failure in a row is worth a line; the retries are not. */
  if (d->failures++ == 0)
    net_log(d->net, "peer %s@%s:%d: %s (retrying until it is up)", d->name->name, d->host, d->port, why);
  d->delay_ms = d->delay_ms * 2 > DIAL_MAX_MS ? DIAL_MAX_MS : d->delay_ms * 2;
  dial_later(d);
}

static void on_connect(uv_connect_t *req, int status) {
  Dial *d = req->data;
  Conn *c = (Conn *)req->handle->data;
  d->connecting = NULL;
  if (c->closing) return;  /* net_close closed it while it was connecting */
  if (status < 0 || d->net->closing) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
    if (status < 0) dial_failed(d, uv_strerror(status));
    return;
  }
  /* Worth a line when the peer was missed: after failures, or again after
   * it went away (however fast it came back). */
  if (d->failures || d->was_up) net_log(d->net, "peer %s: connected", c->addr);
  d->failures = 0;
  d->was_up = true;
  d->delay_ms = DIAL_FIRST_MS;
  d->conn = c;
  conn_up(c);
}

static void dial_now(Dial *d) {
  Net *net = d->net;
  if (net->closing || d->conn || d->connecting) return;
  char port[16];
  snprintf(port, sizeof port, "%d", d->port);
  uv_getaddrinfo_t gai;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  /* Without a callback libuv resolves at once, on this thread: no thread
   * pool, so no thread the collector does not know. */
  int r = uv_getaddrinfo(net->loop, &gai, NULL, d->host, port, &hints);
  if (r < 0) {
    char why[160];
    snprintf(why, sizeof why, "cannot resolve %s: %s", d->host, uv_strerror(r));
    dial_failed(d, why);
    return;
  }
  Conn *c = conn_new(net, d);
  d->req.data = d;
  r = uv_tcp_connect(&d->req, &c->tcp, gai.addrinfo->ai_addr, on_connect);
  uv_freeaddrinfo(gai.addrinfo);
  if (r < 0) {
    c->closing = true;
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
    dial_failed(d, uv_strerror(r));
    return;
  }
  d->connecting = c;
}

Dial *net_dial(Net *net, Symbol *name, const char *host, int port) {
  Dial *d = GC_MALLOC_UNCOLLECTABLE(sizeof *d);
  memset(d, 0, sizeof *d);
  d->net = net;
  d->name = name;
  d->host = GC_STRDUP(host);
  d->port = port;
  d->delay_ms = DIAL_FIRST_MS;
  uv_timer_init(net->loop, &d->timer);
  d->timer.data = d;
  Dial **v = GC_MALLOC_UNCOLLECTABLE((net->ndials + 1) * sizeof *v);
  if (net->ndials) memcpy(v, net->dials, net->ndials * sizeof *v);
  GC_FREE(net->dials);
  v[net->ndials++] = d;
  net->dials = v;
  dial_now(d);
  return d;
}

/* {===== Closing =====} */

static void close_conn_entry(void *ctx, uint64_t key, void *val) {
  (void)ctx, (void)key;
  conn_close(val, NULL);
}

void net_close(Net *net) {
  if (net->closing) return;
  net->closing = true;
  if (net->listening) uv_close((uv_handle_t *)&net->listener, NULL);
  idmap_each(&net->conns, close_conn_entry, NULL);
  for (size_t j = 0; j < net->ndials; j++) {
    Dial *d = net->dials[j];
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, NULL);
    if (d->connecting) {
      d->connecting->closing = true;
      uv_close((uv_handle_t *)&d->connecting->tcp, conn_freed);
    }
  }
}
