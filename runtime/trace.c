/* runtime/trace.c — the execution trace: a LogEntry (logical timestamp,
 * event, executing controller) per event, in the order events happen, and
 * its three views, printed as the events happen:
 *   text     one event a line, the reference implementation's Display strings;
 *   json     JSON lines shaped as the reference's serialized LogEntry;
 *   mermaid  the run as a Mermaid sequenceDiagram (calls as arrows,
 *            transactions as boxes).
 * docs/trace.md documents the text and JSON forms. */
#include <gc.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime.h"

const char *const event_names[EV__COUNT] = {
#define EV(id, name, text, json) name,
#include "runtime/events.def"
#undef EV
};

static const char *const event_texts[EV__COUNT] = {
#define EV(id, name, text, json) text,
#include "runtime/events.def"
#undef EV
};

static const char *const event_json[EV__COUNT] = {
#define EV(id, name, text, json) json,
#include "runtime/events.def"
#undef EV
};

const char *const trace_format_names[TF__COUNT] = {
#define X(id, name) name,
  TRACE_FORMATS(X)
#undef X
};

/* Writes are batched; a view flushes once this much is pending. */
#define TRACE_FLUSH_AT 65536

bool trace_format_parse(const char *name, TraceFormat *out) {
  for (int f = 0; f < TF__COUNT; f++)
    if (strcmp(name, trace_format_names[f]) == 0) {
      *out = (TraceFormat)f;
      return true;
    }
  return false;
}

/* {===== Slots: the pieces of an event =====} */

static void put_name(Buf *b, Value v) {
  if (v.tag == T_SYM) buf_put(b, v.as.sym->name, v.as.sym->len);
  else v_print(b, v, false);
}

/* Messages recur: a program sends the same constant message again and
 * again.  Pairs are immutable, so the text of a small one is kept, keyed
 * by its address, in a direct-mapped table.  The table is static, a root
 * of the collector: a pair whose text is kept is not freed, so its
 * address is not reused for another meanwhile. */
#define MEMO_SLOTS 64
#define MEMO_ROOM 48
typedef struct PrintMemo {
  const Pair *key;
  uint8_t len;
  char text[MEMO_ROOM];
} PrintMemo;
static PrintMemo print_memo[MEMO_SLOTS];

static void put_pair(Buf *b, Value v) {
  PrintMemo *m = &print_memo[((uintptr_t)v.as.pair >> 5) % MEMO_SLOTS];
  if (m->key == v.as.pair) {
    buf_put_padded(b, m->text, m->len, MEMO_ROOM);
    return;
  }
  size_t start = b->n;
  v_print(b, v, false);
  size_t len = b->n - start;
  if (len > MEMO_ROOM) return;
  m->key = v.as.pair;
  m->len = (uint8_t)len;
  memcpy(m->text, b->p + start, len);
}

static void put_non_integer(Buf *b, Value v) {
  switch (v.tag) {
    case T_BOOL: buf_put_padded(b, v.as.b ? "#t" : "#f", 2, 2); break;
    case T_PAIR: put_pair(b, v); break;
    default: v_print(b, v, false); break;
  }
}

/* Integers, booleans and small lists are most of the values a trace
 * prints: they skip the printer, or come from the memo.  Integers, the
 * most common, are tested for in line. */
static inline void put_value(Buf *b, Value v) {
  if (v.tag == T_INT) buf_i64(b, v.as.i);
  else put_non_integer(b, v);
}

static void text_slot(Buf *b, const LogEntry *e, char slot) {
  switch (slot) {
    case 'i': buf_u64(b, e->id); break;
    case 'a': put_value(b, e->a); break;
    case 's': put_name(b, e->a); break;
    case 't': put_name(b, e->b); break;
    case 'm': v_print(b, e->a, true); break;
    case 'o':
      if (e->has_b) {
        buf_lit(b, " -> ");
        put_value(b, e->b);
      } else {
        buf_lit(b, " (rejected)");
      }
      break;
    default: buf_putc(b, slot); break;
  }
}

/* The text templates cut once into pieces, a literal run then a slot (0
 * for none), so printing an event scans no template.  Each literal is
 * copied into a padded array of its own, so that appending it is one
 * fixed-size move. */
#define PIECE_ROOM 32
typedef struct Piece { char lit[PIECE_ROOM]; uint8_t len; char slot; } Piece;
#define MAX_PIECES 6
static Piece pieces[EV__COUNT][MAX_PIECES];
static uint8_t npieces[EV__COUNT];

static void cut_templates(void) {
  if (npieces[0]) return;
  for (int k = 0; k < EV__COUNT; k++) {
    const char *t = event_texts[k];
    uint8_t n = 0;
    for (;;) {
      const char *pct = strchr(t, '%');
      const char *end = pct ? pct : t + strlen(t);
      Piece *pc = &pieces[k][n++];
      pc->len = (uint8_t)(end - t);
      if (pc->len >= PIECE_ROOM) abort();  /* a template of events.def too long for its room */
      memcpy(pc->lit, t, pc->len);
      pc->slot = pct ? pct[1] : 0;
      if (!pct) break;
      t = pct + 2;
    }
    npieces[k] = n;
  }
}

/* The event's Display string, without timestamp or controller. */
static void event_text(Buf *b, const LogEntry *e) {
  const Piece *p = pieces[e->kind];
  for (uint8_t j = 0; j < npieces[e->kind]; j++) {
    buf_put_padded(b, p[j].lit, p[j].len, PIECE_ROOM);
    if (p[j].slot) text_slot(b, e, p[j].slot);
  }
}

static void json_name(Buf *b, Value v) {
  if (v.tag == T_SYM) {
    buf_json_string(b, v.as.sym->name, v.as.sym->len);
  } else {
    char *s = v_write_to_string(v, false);
    buf_json_string(b, s, strlen(s));
  }
}

static void json_slot(Buf *b, const LogEntry *e, char slot) {
  switch (slot) {
    case 'i': buf_u64(b, e->id); break;
    case 'a': v_print_json(b, e->a); break;
    case 's': json_name(b, e->a); break;
    case 't': json_name(b, e->b); break;
    case 'm': {
      char *s = v_write_to_string(e->a, true);
      buf_json_string(b, s, strlen(s));
      break;
    }
    case 'o':
      if (e->has_b) v_print_json(b, e->b);
      else buf_lit(b, "null");
      break;
  }
}

/* The payload of the event: "id:i input:a" becomes {"id":..,"input":..};
 * a lone unnamed slot is the value itself. */
static void event_json_payload(Buf *b, const LogEntry *e) {
  const char *f = event_json[e->kind];
  if (!strchr(f, ':')) {
    json_slot(b, e, f[0]);
    return;
  }
  buf_putc(b, '{');
  while (*f) {
    const char *colon = strchr(f, ':');
    buf_json_string(b, f, (size_t)(colon - f));
    buf_putc(b, ':');
    json_slot(b, e, colon[1]);
    f = colon + 2;
    if (*f == ' ') {
      buf_putc(b, ',');
      f++;
    }
  }
  buf_putc(b, '}');
}

/* {===== The views =====} */

/* Appends timestamp [ts].  Events mostly come one clock tick after the
 * last printed one: then the decimal text is counted up in place, which
 * is cheaper than converting the number again. */
static void put_timestamp(Trace *t, uint64_t ts) {
  _Static_assert(sizeof t->ts_text >= 20, "a 64-bit number has up to 20 digits");
  if (ts != t->ts_at + 1 || t->ts_len == 0) {
    Buf tmp = { .p = t->ts_text, .cap = sizeof t->ts_text };
    buf_u64(&tmp, ts);
    t->ts_len = (uint8_t)tmp.n;
  } else {
    int j = t->ts_len - 1;
    while (j >= 0 && t->ts_text[j] == '9') t->ts_text[j--] = '0';
    if (j >= 0) {
      t->ts_text[j]++;
    } else {  /* 99..9 + 1 */
      memmove(t->ts_text + 1, t->ts_text, t->ts_len);
      t->ts_text[0] = '1';
      t->ts_len++;
    }
  }
  t->ts_at = ts;
  buf_put_padded(&t->buf, t->ts_text, t->ts_len, sizeof t->ts_text);
}

/* " [ctrl:NAME]\n" (just "\n" with no controller), made once per
 * controller change. */
static void put_line_end(Trace *t, Symbol *ctrl) {
  if (ctrl != t->suffix_ctrl || t->suffix.n == 0) {
    t->suffix.n = 0;
    if (ctrl) {
      buf_lit(&t->suffix, " [ctrl:");
      buf_put(&t->suffix, ctrl->name, ctrl->len);
      buf_putc(&t->suffix, ']');
    }
    buf_putc(&t->suffix, '\n');
    t->suffix_ctrl = ctrl;
  }
  buf_put(&t->buf, t->suffix.p, t->suffix.n);
}

static void text_entry(Trace *t, const LogEntry *e) {
  Buf *b = &t->buf;
  buf_putc(b, '[');
  put_timestamp(t, e->ts);
  buf_lit(b, "] ");
  event_text(b, e);
  put_line_end(t, e->controller);
}

static void json_entry(Trace *t, const LogEntry *e) {
  Buf *b = &t->buf;
  buf_lit(b, "{\"timestamp\":");
  put_timestamp(t, e->ts);
  buf_lit(b, ",\"event_type\":{\"");
  buf_puts(b, event_names[e->kind]);
  buf_lit(b, "\":");
  event_json_payload(b, e);
  buf_lit(b, "},\"executing_controller\":");
  if (e->controller) buf_json_string(b, e->controller->name, e->controller->len);
  else buf_lit(b, "null");
  buf_lit(b, "}\n");
}

/* Mermaid names: the program is "program", object N is "oN". */
static void participant(Buf *b, uint64_t id) {
  if (id == ROOT_ID) {
    buf_lit(b, "program");
  } else {
    buf_putc(b, 'o');
    buf_u64(b, id);
  }
}

/* Message text in Mermaid: '#' starts an entity, ';' ends a statement and
 * '<' '>' would be read as HTML, so they are written as entities. */
static void mermaid_text(Buf *b, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    switch (s[i]) {
      case '#': buf_lit(b, "#35;"); break;
      case ';': buf_lit(b, "#59;"); break;
      case '<': buf_lit(b, "#60;"); break;
      case '>': buf_lit(b, "#62;"); break;
      case '\n': buf_putc(b, ' '); break;
      default: buf_putc(b, s[i]); break;
    }
  }
}

static void mermaid_value(Buf *b, Value v) {
  Buf tmp = { 0 };
  v_print(&tmp, v, false);
  mermaid_text(b, tmp.p, tmp.n);
  buf_free(&tmp);
}

static void mermaid_note(Buf *b, const LogEntry *e) {
  Buf tmp = { 0 };
  event_text(&tmp, e);
  buf_lit(b, "    Note over ");
  participant(b, e->kind == EV_OBJECT_CREATED || e->kind == EV_OBJECT_DESTROYED ? e->id : e->actor);
  buf_lit(b, ": ");
  mermaid_text(b, tmp.p, tmp.n);
  buf_putc(b, '\n');
  buf_free(&tmp);
}

static void mermaid_entry(Trace *t, const LogEntry *e) {
  Buf *b = &t->buf;
  switch (e->kind) {
    case EV_OBJECT_CREATED:
      buf_lit(b, "    participant ");
      participant(b, e->id);
      buf_lit(b, " as obj:");
      buf_u64(b, e->id);
      buf_lit(b, " (");
      put_name(b, e->a);
      buf_lit(b, ")\n");
      mermaid_note(b, e);
      break;
    case EV_OBJECT_CALLED:  /* the response; trace_call_begin drew the request */
      buf_lit(b, "    ");
      participant(b, e->id);
      buf_puts(b, e->has_b ? "-->>" : "--x");
      participant(b, e->sender);
      buf_lit(b, ": ");
      if (e->has_b) mermaid_value(b, e->b);
      else buf_lit(b, "rejected");
      buf_putc(b, '\n');
      break;
    case EV_TRANSACTION_STARTED:
      t->open_boxes++;
      buf_lit(b, "    rect rgba(120, 160, 255, 0.15)\n");
      mermaid_note(b, e);
      break;
    case EV_TRANSACTION_COMMITTED:
    case EV_TRANSACTION_ABORTED:
      mermaid_note(b, e);
      if (t->open_boxes > 0) {
        t->open_boxes--;
        buf_lit(b, "    end\n");
      }
      break;
    default: mermaid_note(b, e); break;
  }
}

static void flush_if_full(Trace *t) {
  if (t->buf.n > t->flush_at) buf_flush(&t->buf, t->out);
}

void trace_call_begin(Runtime *rt, Program *p) {
  Trace *t = &rt->trace;
  if (t->format != TF_MERMAID) return;
  Activation *a = p->act;
  buf_lit(&t->buf, "    ");
  participant(&t->buf, a->sender_id);
  buf_lit(&t->buf, "->>");
  participant(&t->buf, act_self_id(a));
  buf_lit(&t->buf, ": ");
  mermaid_value(&t->buf, a->input);
  buf_putc(&t->buf, '\n');
  flush_if_full(t);
}

void trace_start(Runtime *rt, FILE *out, TraceFormat format) {
  Trace *t = &rt->trace;
  cut_templates();
  t->out = out;
  t->format = format;
  t->flush_at = TRACE_FLUSH_AT;
  t->open_boxes = 0;
  if (format == TF_MERMAID) buf_lit(&t->buf, "sequenceDiagram\n    participant program\n");
}

bool trace_stop(Runtime *rt) {
  Trace *t = &rt->trace;
  if (!t->out) return true;
  for (; t->open_boxes > 0; t->open_boxes--) buf_lit(&t->buf, "    end\n");
  bool ok = buf_flush(&t->buf, t->out) && fflush(t->out) == 0;
  t->out = NULL;
  return ok;
}

void trace_event(Runtime *rt, Program *p, uint64_t ts, EventKind k, uint64_t id, Value a, Value b, bool has_b) {
  Trace *t = &rt->trace;
  LogEntry e = { .ts = ts, .kind = k, .id = id, .a = a, .b = b, .has_b = has_b };
  if (p) {
    e.controller = p->tx ? p->tx->controller : rt_executing_controller(rt, p);
    if (t->format == TF_MERMAID) {  /* only the chart draws who acts */
      e.actor = act_self_id(p->act);
      e.sender = p->act->sender_id;
    }
  }
  switch (t->format) {
    case TF_TEXT: text_entry(t, &e); break;
    case TF_JSON: json_entry(t, &e); break;
    case TF_MERMAID: mermaid_entry(t, &e); break;
    case TF__COUNT: break;
  }
  flush_if_full(t);
}
