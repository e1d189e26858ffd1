/* net/events.h — avm node --events PORT: the node's trace, live, as
 * Server-Sent Events over HTTP, on the node's libuv loop.  GET /events
 * streams every trace event as it happens, one `data: JSON` event each (the
 * JSON view of the trace, docs/trace.md), after a `: subscribed` comment
 * and with a `: keepalive` comment every 15 seconds; GET /health answers `ok`, as the reference node does.
 * A subscriber too slow to keep up misses events rather than slowing the
 * node.  Owns Events and its HTTP clients (malloc'd: they hold no GC
 * pointers). */
#ifndef AVM_EVENTS_H
#define AVM_EVENTS_H
#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

typedef struct Events Events;

/* An event server on [loop] for node [name] (for log lines). */
Events *events_new(uv_loop_t *loop, const char *name);
/* Listens on all interfaces at [port] (0: any free port, in
 * events_port after); false with a message on stderr if it cannot. */
bool events_listen(Events *ev, int port);
int events_port(const Events *ev);
/* A stream to print the JSON view of the trace to: each line written is
 * sent to every subscriber, and to [tee] too when not NULL. */
FILE *events_stream(Events *ev, FILE *tee);
/* Closes the listener and every client. */
void events_close(Events *ev);

#endif
