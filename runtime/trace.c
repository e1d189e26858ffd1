/* runtime/trace.c — the execution trace: a LogEntry (logical timestamp,
 * event, executing controller) per event, in the order events happen, and
 * its text form (the reference implementation's Display strings). */
#include <gc.h>
#include <inttypes.h>
#include <string.h>
#include "runtime/runtime.h"

const char *const event_names[EV__COUNT] = {
#define EV(id, name, text) name,
#include "runtime/events.def"
#undef EV
};

void rt_log(Runtime *rt, Program *p, EventKind k, uint64_t id, Value a, Value b, bool has_b) {
  Trace *t = &rt->trace;
  uint64_t ts = t->clock++;
  if (!t->enabled) return;
  t->entries = gc_grow(t->entries, t->n, &t->cap, sizeof *t->entries, 256);
  LogEntry *e = &t->entries[t->n++];
  e->ts = ts;
  e->kind = k;
  e->controller = p ? (p->tx ? p->tx->controller : rt_executing_controller(rt, p)) : NULL;
  e->id = id;
  e->a = a;
  e->b = b;
  e->has_b = has_b;
  if (rt->trace_out) {
    trace_print_entry(rt->trace_out, e);
    t->n--;
  }
}

static const char *sym_or(Value v) { return v.tag == T_SYM ? v.as.sym->name : "?"; }

void trace_print_entry(FILE *out, const LogEntry *e) {
  fprintf(out, "[%" PRIu64 "] ", e->ts);
  uint64_t id = e->id;
  switch (e->kind) {
    case EV_OBJECT_CREATED: fprintf(out, "created obj:%" PRIu64 " (behavior: %s)", id, sym_or(e->a)); break;
    case EV_OBJECT_DESTROYED: fprintf(out, "destroyed obj:%" PRIu64, id); break;
    case EV_OBJECT_CALLED:
      fprintf(out, "called obj:%" PRIu64 " with ", id);
      v_write(out, e->a);
      if (e->has_b) {
        fputs(" -> ", out);
        v_write(out, e->b);
      } else {
        fputs(" (rejected)", out);
      }
      break;
    case EV_MESSAGE_RECEIVED:
      fprintf(out, "obj:%" PRIu64 " received ", id);
      v_write(out, e->a);
      break;
    case EV_OBJECT_MOVED:
      fprintf(out, "moved obj:%" PRIu64 " from machine:%s to machine:%s", id, sym_or(e->a), sym_or(e->b));
      break;
    case EV_EXECUTION_MOVED: fprintf(out, "execution moved from machine:%s to machine:%s", sym_or(e->a), sym_or(e->b)); break;
    case EV_OBJECT_FETCHED: fprintf(out, "fetched obj:%" PRIu64 " to machine:%s", id, sym_or(e->a)); break;
    case EV_OBJECT_TRANSFERRED:
      fprintf(out, "transferred obj:%" PRIu64 " from ctrl:%s to ctrl:%s", id, sym_or(e->a), sym_or(e->b));
      break;
    case EV_OBJECT_FROZEN: fprintf(out, "froze obj:%" PRIu64 " via ctrl:%s", id, sym_or(e->a)); break;
    case EV_FUNCTION_UPDATED: fprintf(out, "updated function %s", sym_or(e->a)); break;
    case EV_TRANSACTION_STARTED: fprintf(out, "tx started: tx:%" PRIu64, id); break;
    case EV_TRANSACTION_COMMITTED: fprintf(out, "tx committed: tx:%" PRIu64, id); break;
    case EV_TRANSACTION_ABORTED: fprintf(out, "tx aborted: tx:%" PRIu64, id); break;
    case EV_STATE_UPDATED: fprintf(out, "state updated: obj:%" PRIu64, id); break;
    case EV_ERROR_OCCURRED:
      fputs("error: ", out);
      v_display(out, e->a);
      break;
    case EV__COUNT: break;
  }
  if (e->controller) fprintf(out, " [ctrl:%s]", e->controller->name);
  fputc('\n', out);
}
