/* net/conn.h — TCP between nodes, on libuv: a listener that accepts
 * connections, peers that are dialled (retried with backoff until they are
 * up, redialled after they go away), and per connection a frame reader that
 * decodes messages and a writer of framed messages.  Owns Net, Conn and
 * Dial.  Knows frames and messages (net/wire.h), not what they mean: that
 * is the node's (net/node.c), told through ConnOps.
 *
 * A connection that sends what we cannot read (a read error, a frame over
 * the limit or cut short, JSON that is not a message we know) is closed,
 * and the reason logged on stderr as
 *     avm node NAME: peer ADDR: REASON
 * ADDR is NAME@HOST:PORT for a peer we dialled, IP:PORT for one that
 * dialled us.  A closed connection's memory is released once libuv has
 * let go of it; the node hears of it first (ConnOps.down).
 *
 * Memory: Net, Conn and Dial are allocated uncollectable in the GC heap
 * (GC_MALLOC_UNCOLLECTABLE): libuv keeps pointers to their handles in
 * malloc'd memory the collector does not scan, and the node hangs GC
 * objects on them (Conn.machine).  They are freed in uv_close's callback. */
#ifndef AVM_CONN_H
#define AVM_CONN_H
#include <stdarg.h>
#include <stdbool.h>
#include <uv.h>
#include "net/wire.h"
#include "util/idmap.h"
#include "util/symbol.h"

typedef struct Net Net;
typedef struct Conn Conn;
typedef struct Dial Dial;

/* What the node does with connections.  All are called on the loop's
 * thread, never re-entered from inside one another except [down], which
 * may come from inside conn_send (a write that fails). */
typedef struct ConnOps {
  /* [c] is connected (dialled or accepted) and reading. */
  void (*up)(Net *net, Conn *c);
  /* A message arrived on [c]; it and its values live as long as the
   * node keeps them reachable. */
  void (*message)(Net *net, Conn *c, WireMsg *m);
  /* A call whose request id was read but not the rest ([why]): the node
   * answers it, and the connection stays (its frames are intact). */
  void (*refused)(Net *net, Conn *c, WireMsg *m, const char *why);
  /* [c] is closing: nothing more will be read from it or sent on it. */
  void (*down)(Net *net, Conn *c, const char *reason);
} ConnOps;

struct Net {
  uv_loop_t *loop;
  const char *name;       /* the node's name, for log lines */
  const ConnOps *ops;
  void *node;             /* the owner's data */
  uv_tcp_t listener;
  bool listening;
  int port;               /* the port the listener is bound to */
  uint64_t next_serial;
  IdMap conns;            /* serial -> Conn, those not closing */
  Dial **dials;
  size_t ndials;
  size_t frame_limit;     /* the largest payload read or sent */
  size_t queue_limit;     /* bytes a peer may leave unread before it is dropped */
  Buf out;                /* the frame being sent */
  bool closing;           /* net_close was called: no new connections */
};

struct Conn {
  uv_tcp_t tcp;
  Net *net;
  uint64_t serial;        /* never reused: a served call names its connection by it */
  char addr[96];
  Dial *dial;             /* the peer we dialled, or NULL: it dialled us */
  WireReader reader;
  char *rbuf;             /* libuv reads into it (malloc'd) */
  bool is_up;             /* ConnOps.up was called */
  bool closing;
  /* The node's: the machine at the other end once known, whether it has
   * shown it is a node of ours (it may get our own message types), and
   * whether the node has stopped waiting to know. */
  Symbol *machine;
  bool ours;
  bool settled;           /* it has greeted us, or had time to */
  size_t serving;         /* its calls (and teleported programs) running here */
};

/* A peer to keep connected to. */
struct Dial {
  Net *net;
  Symbol *name;           /* its machine name */
  char *host;
  int port;
  uv_timer_t timer;       /* the next attempt */
  uv_connect_t req;
  Conn *conn;             /* connected, or NULL */
  uint64_t delay_ms;      /* before the next attempt after a failure */
  unsigned failures;      /* attempts failed in a row */
  bool was_up;            /* it has been connected before: a connection now is a reconnection */
  Conn *connecting;       /* the attempt under way, or NULL */
};

/* A network on [loop] for node [name].  Nothing listens or dials yet. */
Net *net_new(uv_loop_t *loop, const char *name, const ConnOps *ops, void *node);
/* Listens on all interfaces at [port] (0: a port the system picks, in
 * net->port after); false with a message on stderr if it cannot. */
bool net_listen(Net *net, int port);
/* Initialises [t] (its data [data]) and listens on all interfaces at
 * [port], accepting with [cb]; the port bound in *[bound_port].  0, or a
 * libuv error ([t] must still be closed). */
int net_tcp_listen(uv_loop_t *loop, uv_tcp_t *t, void *data, int port, uv_connection_cb cb, int *bound_port);
/* Keeps a connection to peer [name] at [host]:[port]: dials it now, and
 * again (with backoff) while it is down. */
Dial *net_dial(Net *net, Symbol *name, const char *host, int port);
/* Closes the listener, every connection and every dialler; the loop ends
 * once libuv has closed them. */
void net_close(Net *net);

/* Sends [m] on [c]; false (logged) if it cannot: the message is too large
 * (the connection stays), or the connection is closing or fails (it is
 * closed). */
bool conn_send(Conn *c, const WireMsg *m);
/* Closes [c], logging [reason] (NULL: quietly), and tells the node. */
void conn_close(Conn *c, const char *reason);
/* The connection with [serial], or NULL if it has closed. */
Conn *net_conn(Net *net, uint64_t serial);

/* Writes [n] bytes on [s]: what the socket takes at once, the rest
 * queued (libuv keeps the order).  0, or NET_WRITE_FULL (nothing written)
 * when more than [queue_limit] bytes would wait, or a libuv error.  A
 * queued write that fails later calls [failed] (if not NULL). */
#define NET_WRITE_FULL 1
int net_write(uv_stream_t *s, const char *p, size_t n, size_t queue_limit, void (*failed)(uv_stream_t *s, int status));

/* "avm node NAME: " then the message, on stderr. */
void net_log(Net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
