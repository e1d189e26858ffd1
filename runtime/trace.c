/* runtime/trace.c — the execution trace: a LogEntry (logical timestamp,
 * event, executing controller) per event, in the order events happen, and
 * its three views, printed as the events happen:
 *   text     one event a line, the reference implementation's Display strings;
 *   json     JSON lines shaped as the reference's serialized LogEntry;
 *   mermaid  the run as a Mermaid sequenceDiagram (calls as arrows,
 *            transactions as boxes).
 * A trace that is not live is written by a thread of its own
 * (runtime/tracewriter.c), which calls trace_write; the view's state
 * (TraceView) is then that thread's.
 * docs/trace.md documents the text and JSON forms. */
#include <errno.h>
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

/* Writes are batched when the trace is not live: a view flushes once this
 * much is pending. */
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

/* A text line is written through a cursor [w] into room reserved once
 * (LINE_ROOM): its timestamp, literal pieces, numbers, booleans, short
 * names and remembered messages need no check of their own.  Anything
 * longer goes through the Buf: the cursor is handed back first and taken
 * again after, with the room renewed. */
#define PIECE_ROOM 32
#define MAX_PIECES 6
#define SHORT_NAME 48
#define MEMO_ROOM 48
#define SLOT_ROOM 64   /* the most a slot writes at the cursor: " -> " and a value, or a name */
_Static_assert(MEMO_ROOM <= SLOT_ROOM, "kept text is copied at the cursor as a fixed-size block");
#define LIST_ROOM (SLOT_ROOM - 4)
#define SUFFIX_ROOM 32  /* " [ctrl:NAME]\n" copied at the cursor when it fits */
#define LINE_ROOM (32 + MAX_PIECES * (PIECE_ROOM + SLOT_ROOM) + SUFFIX_ROOM)

static inline void line_room(Buf *b) {
  if (b->cap - b->n < LINE_ROOM) buf_reserve(b, LINE_ROOM);
}

/* Hands the cursor back to [b]; line_taken takes it again. */
static inline void line_give(Buf *b, char *w) { b->n = (size_t)(w - b->p); }

static inline char *line_taken(Buf *b) {
  line_room(b);
  return b->p + b->n;
}

static char *printed(Buf *b, char *w, Value v, bool display) {
  line_give(b, w);
  v_print(b, v, display);
  return line_taken(b);
}

static char *put_name(Buf *b, char *w, Value v) {
  if (v.tag != T_SYM) return printed(b, w, v, false);
  if (v.as.sym->len <= SHORT_NAME) {
    memcpy(w, v.as.sym->name, v.as.sym->len);
    return w + v.as.sym->len;
  }
  line_give(b, w);
  buf_put(b, v.as.sym->name, v.as.sym->len);
  return line_taken(b);
}

/* Text that recurs, kept by key in direct-mapped tables of the view:
 *   messages   a program sends the same constant message again and again.
 *              Pairs are immutable, so the text of a small one is kept,
 *              keyed by its address.  The view is an uncollectable block, a
 *              root of the collector: a pair whose text is kept is not
 *              freed, so its address is not reused meanwhile;
 *   ids        the objects and transactions a trace names recur on line
 *              after line (created, called, state updated, destroyed). */
#define MEMO_SLOTS 64
#define ID_SLOTS 16
typedef struct TextMemo {
  uintptr_t key;
  uint8_t len;          /* 0: empty */
  char text[MEMO_ROOM];
} TextMemo;

/* The kept text of [key] at the cursor, or NULL if there is none. */
static inline char *memo_at(const TextMemo *m, uintptr_t key, char *w) {
  if (m->len == 0 || m->key != key) return NULL;
  memcpy(w, m->text, MEMO_ROOM);
  return w + m->len;
}

/* Keeps the text [start, end) for [key], if it fits. */
static inline void memo_keep(TextMemo *m, uintptr_t key, const char *start, const char *end) {
  size_t len = (size_t)(end - start);
  if (len == 0 || len > MEMO_ROOM) return;
  m->key = key;
  m->len = (uint8_t)len;
  memcpy(m->text, start, len);
}

struct TraceView {
  void *block;          /* the allocation the view was aligned in */
  /* Copies of the Trace's: the writer thread reads them here, off the
   * line where the interpreter counts the clock. */
  FILE *out;
  TraceFormat format;
  bool live;
  int write_error;       /* errno of the first write that failed, or 0; the
                           writer thread's errno is its own, so it is kept */
  int open_boxes;       /* mermaid: transaction boxes not yet closed */
  /* The text of the next timestamp, counted up in decimal as events are
   * printed (the clock of each event is the last one plus one). */
  char ts_text[24];
  uint8_t ts_len;
  uint64_t ts_at;       /* the clock value ts_text spells */
  /* " [ctrl:NAME]\n", for the controller of the last text line. */
  Symbol *suffix_ctrl;
  Buf suffix;
  Buf buf;              /* text not yet written */
  Buf scratch;          /* a value printed on its own (JSON strings, chart labels) */
  TextMemo messages[MEMO_SLOTS];
  TextMemo ids[ID_SLOTS];
};

/* A short proper list of integers, booleans and plain symbols (a message
 * built as the program runs, like (set 42)) written at the cursor as the
 * printer would write it; NULL, the cursor not to be moved, if [v] is
 * another kind of value or would take more than a slot's room. */
static char *small_list_at(char *w, Value v) {
  /* Past [end], one more item with its space and ')' may not fit. */
  char *end = w + LIST_ROOM - BUF_NUMBER_ROOM - 3;
  *w++ = '(';
  for (;;) {
    Value x = v.as.pair->car;
    if (x.tag == T_INT) {
      w = buf_i64_at(w, x.as.i);
    } else if (x.tag == T_BOOL) {
      memcpy(w, x.as.b ? "#t" : "#f", 2);
      w += 2;
    } else if (x.tag == T_SYM && !x.as.sym->needs_bars && x.as.sym->len <= BUF_NUMBER_ROOM) {
      memcpy(w, x.as.sym->name, x.as.sym->len);
      w += x.as.sym->len;
    } else {
      return NULL;
    }
    v = v.as.pair->cdr;
    if (v.tag == T_NIL) break;
    if (v.tag != T_PAIR || w > end) return NULL;
    *w++ = ' ';
  }
  *w++ = ')';
  return w;
}

static char *put_pair(TraceView *vw, Buf *b, char *w, Value v) {
  uintptr_t key = (uintptr_t)v.as.pair;
  TextMemo *m = &vw->messages[(key >> 5) % MEMO_SLOTS];
  char *kept = memo_at(m, key, w);
  if (kept) return kept;
  size_t at = (size_t)(w - b->p);
  char *end = small_list_at(w, v);
  w = end ? end : printed(b, w, v, false);  /* printed may move the buffer */
  memo_keep(m, key, b->p + at, w);
  return w;
}

static char *put_id(TraceView *vw, char *w, uint64_t id) {
  TextMemo *m = &vw->ids[id % ID_SLOTS];
  char *kept = memo_at(m, id, w);
  if (kept) return kept;
  char *end = buf_u64_at(w, id);
  memo_keep(m, id, w, end);
  return end;
}

static char *put_non_integer(TraceView *vw, Buf *b, char *w, Value v) {
  switch (v.tag) {
    case T_BOOL:
      memcpy(w, v.as.b ? "#t" : "#f", 2);
      return w + 2;
    case T_PAIR: return put_pair(vw, b, w, v);
    default: return printed(b, w, v, false);
  }
}

/* Integers, booleans and small lists are most of the values a trace
 * prints: they skip the printer, or come from the memo.  Integers, the
 * most common, are tested for in line. */
static inline char *put_value(TraceView *vw, Buf *b, char *w, Value v) {
  if (v.tag == T_INT) return buf_i64_at(w, v.as.i);
  return put_non_integer(vw, b, w, v);
}

static char *text_slot(TraceView *vw, Buf *b, char *w, const LogEntry *e, char slot) {
  switch (slot) {
    case 'i': return put_id(vw, w, e->id);
    case 'a': return put_value(vw, b, w, e->a);
    case 's': return put_name(b, w, e->a);
    case 't': return put_name(b, w, e->b);
    case 'm': return printed(b, w, e->a, true);
    case 'o':
      if (!e->has_b) {
        memcpy(w, " (rejected)", 11);
        return w + 11;
      }
      memcpy(w, " -> ", 4);
      return put_value(vw, b, w + 4, e->b);
    default:
      *w = slot;
      return w + 1;
  }
}

/* The text templates cut once into pieces, a literal run then a slot (0
 * for none), so printing an event scans no template.  Each literal is
 * copied into a padded array of its own, so that appending it is one
 * fixed-size move. */
typedef struct Piece { char lit[PIECE_ROOM]; uint8_t len; char slot; } Piece;
static Piece pieces[EV__COUNT][MAX_PIECES];
static uint8_t npieces[EV__COUNT];

static void cut_templates(void) {
  if (npieces[0]) return;
  for (int k = 0; k < EV__COUNT; k++) {
    const char *t = event_texts[k];
    uint8_t n = 0;
    for (;;) {
      if (n == MAX_PIECES) abort();  /* a template of events.def with too many slots */
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

/* The event's Display string at the cursor, without timestamp or
 * controller. */
static char *event_text_at(TraceView *vw, Buf *b, char *w, const LogEntry *e) {
  /* Read before the stores through w, which may alias anything. */
  const Piece *p = pieces[e->kind];
  const unsigned n = npieces[e->kind];
  for (unsigned j = 0; j < n; j++) {
    const unsigned len = p[j].len;
    const char slot = p[j].slot;
    memcpy(w, p[j].lit, PIECE_ROOM);
    w += len;
    if (slot) w = text_slot(vw, b, w, e, slot);
  }
  return w;
}

static void event_text(TraceView *vw, Buf *b, const LogEntry *e) {
  line_give(b, event_text_at(vw, b, line_taken(b), e));
}

/* The printed form of [v] as a JSON string (printed in the scratch
 * buffer: the writer thread may not allocate from the collector). */
static void json_printed(TraceView *vw, Value v, bool display) {
  vw->scratch.n = 0;
  v_print(&vw->scratch, v, display);
  buf_json_string(&vw->buf, vw->scratch.p, vw->scratch.n);
}

static void json_name(TraceView *vw, Value v) {
  if (v.tag == T_SYM) buf_json_string(&vw->buf, v.as.sym->name, v.as.sym->len);
  else json_printed(vw, v, false);
}

static void json_slot(TraceView *vw, const LogEntry *e, char slot) {
  Buf *b = &vw->buf;
  switch (slot) {
    case 'i': buf_u64(b, e->id); break;
    case 'a': v_print_json(b, e->a); break;
    case 's': json_name(vw, e->a); break;
    case 't': json_name(vw, e->b); break;
    case 'm': json_printed(vw, e->a, true); break;
    case 'o':
      if (e->has_b) v_print_json(b, e->b);
      else buf_lit(b, "null");
      break;
  }
}

/* The payload of the event: "id:i input:a" becomes {"id":..,"input":..};
 * a lone unnamed slot is the value itself. */
static void event_json_payload(TraceView *vw, const LogEntry *e) {
  Buf *b = &vw->buf;
  const char *f = event_json[e->kind];
  if (!strchr(f, ':')) {
    json_slot(vw, e, f[0]);
    return;
  }
  buf_putc(b, '{');
  while (*f) {
    const char *colon = strchr(f, ':');
    buf_json_string(b, f, (size_t)(colon - f));
    buf_putc(b, ':');
    json_slot(vw, e, colon[1]);
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
static char *timestamp_at(TraceView *vw, char *w, uint64_t ts) {
  _Static_assert(sizeof vw->ts_text >= BUF_NUMBER_ROOM, "a 64-bit number has up to 20 digits");
  if (ts != vw->ts_at + 1 || vw->ts_len == 0) {
    vw->ts_len = (uint8_t)(buf_u64_at(vw->ts_text, ts) - vw->ts_text);
  } else {
    int j = vw->ts_len - 1;
    while (j >= 0 && vw->ts_text[j] == '9') vw->ts_text[j--] = '0';
    if (j >= 0) {
      vw->ts_text[j]++;
    } else {  /* 99..9 + 1 */
      memmove(vw->ts_text + 1, vw->ts_text, vw->ts_len);
      vw->ts_text[0] = '1';
      vw->ts_len++;
    }
  }
  vw->ts_at = ts;
  memcpy(w, vw->ts_text, sizeof vw->ts_text);
  return w + vw->ts_len;
}

static void put_timestamp(TraceView *vw, uint64_t ts) {
  line_give(&vw->buf, timestamp_at(vw, line_taken(&vw->buf), ts));
}

/* " [ctrl:NAME]\n" (just "\n" with no controller), made once per
 * controller change, in a buffer of at least SUFFIX_ROOM bytes. */
static const Buf *line_end(TraceView *vw, Symbol *ctrl) {
  if (ctrl != vw->suffix_ctrl || vw->suffix.n == 0) {
    vw->suffix.n = 0;
    buf_reserve(&vw->suffix, SUFFIX_ROOM);
    if (ctrl) {
      buf_lit(&vw->suffix, " [ctrl:");
      buf_put(&vw->suffix, ctrl->name, ctrl->len);
      buf_putc(&vw->suffix, ']');
    }
    buf_putc(&vw->suffix, '\n');
    vw->suffix_ctrl = ctrl;
  }
  return &vw->suffix;
}

static void text_entry(TraceView *vw, const LogEntry *e) {
  Buf *b = &vw->buf;
  char *w = line_taken(b);
  *w++ = '[';
  w = timestamp_at(vw, w, e->ts);
  memcpy(w, "] ", 2);
  w = event_text_at(vw, b, w + 2, e);
  const Buf *end = line_end(vw, e->controller);
  if (end->n <= SUFFIX_ROOM) {
    memcpy(w, end->p, SUFFIX_ROOM);
    line_give(b, w + end->n);
  } else {
    line_give(b, w);
    buf_put(b, end->p, end->n);
  }
}

static void json_entry(TraceView *vw, const LogEntry *e) {
  Buf *b = &vw->buf;
  buf_lit(b, "{\"timestamp\":");
  put_timestamp(vw, e->ts);
  buf_lit(b, ",\"event_type\":{\"");
  buf_puts(b, event_names[e->kind]);
  buf_lit(b, "\":");
  event_json_payload(vw, e);
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

static void mermaid_value(TraceView *vw, Value v) {
  vw->scratch.n = 0;
  v_print(&vw->scratch, v, false);
  mermaid_text(&vw->buf, vw->scratch.p, vw->scratch.n);
}

/* The chart's participants: [actor] the object running when the event
 * happened (ROOT_ID: a program), [sender] who called it. */
static void mermaid_note(TraceView *vw, const LogEntry *e, uint64_t actor) {
  Buf *b = &vw->buf;
  vw->scratch.n = 0;
  event_text(vw, &vw->scratch, e);
  buf_lit(b, "    Note over ");
  participant(b, e->kind == EV_OBJECT_CREATED || e->kind == EV_OBJECT_DESTROYED ? e->id : actor);
  buf_lit(b, ": ");
  mermaid_text(b, vw->scratch.p, vw->scratch.n);
  buf_putc(b, '\n');
}

static void mermaid_entry(TraceView *vw, const LogEntry *e, uint64_t actor, uint64_t sender) {
  Buf *b = &vw->buf;
  switch (e->kind) {
    case EV_OBJECT_CREATED:
      buf_lit(b, "    participant ");
      participant(b, e->id);
      buf_lit(b, " as obj:");
      buf_u64(b, e->id);
      buf_lit(b, " (");
      line_give(b, put_name(b, line_taken(b), e->a));
      buf_lit(b, ")\n");
      mermaid_note(vw, e, actor);
      break;
    case EV_OBJECT_CALLED:  /* the response; trace_call_begin drew the request */
      buf_lit(b, "    ");
      participant(b, e->id);
      buf_puts(b, e->has_b ? "-->>" : "--x");
      participant(b, sender);
      buf_lit(b, ": ");
      if (e->has_b) mermaid_value(vw, e->b);
      else buf_lit(b, "rejected");
      buf_putc(b, '\n');
      break;
    case EV_TRANSACTION_STARTED:
      vw->open_boxes++;
      buf_lit(b, "    rect rgba(120, 160, 255, 0.15)\n");
      mermaid_note(vw, e, actor);
      break;
    case EV_TRANSACTION_COMMITTED:
    case EV_TRANSACTION_ABORTED:
      mermaid_note(vw, e, actor);
      if (vw->open_boxes > 0) {
        vw->open_boxes--;
        buf_lit(b, "    end\n");
      }
      break;
    default: mermaid_note(vw, e, actor); break;
  }
}

/* A call's request, drawn when the call begins: an arrow from the caller
 * ([sender]) to the callee ([actor]) labelled with the message. */
static void mermaid_request(TraceView *vw, uint64_t sender, uint64_t actor, Value message) {
  Buf *b = &vw->buf;
  buf_lit(b, "    ");
  participant(b, sender);
  buf_lit(b, "->>");
  participant(b, actor);
  buf_lit(b, ": ");
  mermaid_value(vw, message);
  buf_putc(b, '\n');
}

/* Writes what the view holds: at once when live, else by the block. */
static void write_due(TraceView *vw) {
  if (vw->buf.n > (vw->live ? 0 : TRACE_FLUSH_AT) && !buf_flush(&vw->buf, vw->out) && !vw->write_error)
    vw->write_error = errno ? errno : EIO;
}

void trace_write(TraceView *vw, const LogEntry *e) {
  if (vw->format == TF_JSON) json_entry(vw, e);
  else text_entry(vw, e);
  write_due(vw);
}

void trace_call_begin(Runtime *rt, Program *p) {
  Activation *a = p->act;
  mermaid_request(rt->trace.view, a->sender_id, act_self_id(a), a->input);
  write_due(rt->trace.view);
}

/* The view sits on cache lines of its own: when the writer thread prints,
 * its stores must not share a line with the interpreter's. */
#define CACHE_LINE 64

static TraceView *view_new(FILE *out, TraceFormat format, bool live) {
  void *block = GC_MALLOC_UNCOLLECTABLE(sizeof(TraceView) + 2 * CACHE_LINE);
  if (!block) abort();
  TraceView *vw = (TraceView *)(((uintptr_t)block + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1));
  memset(vw, 0, sizeof *vw);
  vw->block = block;
  vw->out = out;
  vw->format = format;
  vw->live = live;
  return vw;
}

static void view_free(TraceView *vw) {
  buf_free(&vw->suffix);
  buf_free(&vw->buf);
  buf_free(&vw->scratch);
  GC_FREE(vw->block);
}

void trace_start(Runtime *rt, FILE *out, TraceFormat format, bool live) {
  Trace *t = &rt->trace;
  cut_templates();
  t->out = out;
  t->format = format;
  t->view = view_new(out, format, live);
  if (format == TF_MERMAID) buf_lit(&t->view->buf, "sequenceDiagram\n    participant program\n");
  /* The chart is drawn by the interpreter as events happen: it shows who
   * acts, which the writer thread's entries do not carry. */
  t->writer = live || format == TF_MERMAID ? NULL : tracewriter_start(t);
}

bool trace_stop(Runtime *rt) {
  Trace *t = &rt->trace;
  if (!t->out) return true;
  if (t->writer) tracewriter_stop(t->writer, t);
  t->writer = NULL;
  TraceView *vw = t->view;
  for (; vw->open_boxes > 0; vw->open_boxes--) buf_lit(&vw->buf, "    end\n");
  bool ok = buf_flush(&vw->buf, t->out) && !vw->write_error && fflush(t->out) == 0;
  int err = vw->write_error ? vw->write_error : errno;
  view_free(vw);
  t->view = NULL;
  t->out = NULL;
  errno = err;  /* for the caller's message */
  return ok;
}

void trace_event(Runtime *rt, Program *p, uint64_t ts, EventKind k, uint64_t id, Value a, Value b, bool has_b) {
  Trace *t = &rt->trace;
  if (t->writer) {
    if (t->slot >= t->slot_end) tracewriter_pass(t->writer, t);
    log_record_put(t, rt, p, ts, k, id, a, b, has_b);
    return;
  }
  LogEntry e;
  log_entry_fill(&e, rt, p, ts, k, id, a, b, has_b);
  if (t->format != TF_MERMAID) {
    trace_write(t->view, &e);
    return;
  }
  mermaid_entry(t->view, &e, p ? act_self_id(p->act) : ROOT_ID, p ? p->act->sender_id : ROOT_ID);
  write_due(t->view);
}
