/* runtime/tracewriter.c — the thread that formats and writes a trace that
 * is not live.  The interpreter fills batches of records (an event each,
 * in two to eight words: runtime.h) and hands each full batch over; the thread
 * turns them into text, in order, while the interpreter goes on.  Printing
 * an event costs several times more than recording it, and on a machine
 * with a second core that cost leaves the program's path.
 *
 * The batches are a ring used in turn: the interpreter fills batch
 * [filled], the thread writes those before it.  Handing a batch over is
 * one atomic store: waking a sleeping thread costs a system call and, on
 * a virtual machine, an interrupt to the other CPU, which per batch cost
 * the interpreter more than recording the batch's events.  The thread
 * looks for work instead, every WRITER_POLL_US while there is some and
 * less and less often while there is none.  When half the batches wait,
 * the interpreter wakes the thread; when all of them do, it also waits
 * for it, so a trace takes a bounded amount of memory however fast the
 * program makes events.
 *
 * The collector: the values the records hold (messages, outputs) must
 * stay alive until the thread has written them.  The batches are plain
 * memory, not the collector's (as its blocks they counted as live data,
 * and the heap was collected half as often again).  At each collection
 * push_pending hands the collector the values of the records not yet
 * written, those of the batches handed over and not done and those of
 * the batch being filled: their payload words only, copied out into one
 * range.  Nothing else in a record needs marking (controllers are
 * symbols, which are never collected); scanning whole 64-byte entries
 * made a collection twice as long when the thread lagged.  The
 * interpreter overwrites a record only once the thread has written it.
 * The thread reads those values and nothing else of the heap, and never
 * allocates from the collector; values never change once made.  So the
 * thread needs no registration with the collector, and a collection need
 * not stop it. */
#include <errno.h>
#include <gc.h>
#include <gc/gc_mark.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include "runtime/runtime.h"

/* A batch is 64 KiB of records, some 2,000 events, and the ring holds
 * eight.  A line the interpreter writes again should have left the cache
 * of the core that read it, or it costs a cross-core invalidation; a
 * larger ring makes every lap miss the interpreter's own cache instead.
 * Traced Battleship bench, median of 21 (ms): 4 batches 82.7, 8 78.1,
 * 16 80.8; batches of 32 KiB: 8 of them 84.4, 32 of them 79.0. */
#define BATCH_WORDS 8192
#define BATCH_FILL (BATCH_WORDS - REC_MAX_WORDS)  /* a record starts before it */
#define BATCHES 8
/* A batch takes the interpreter 100 µs and more to fill: the thread finds
 * about one a look, and the ring's other batches are the slack for a late
 * look.  Idle, the thread looks half as often each time, down to every
 * WRITER_IDLE_US. */
#define WRITER_POLL_US 100
#define WRITER_IDLE_US 20000
/* Half the ring waiting: the interpreter wakes the thread (it may be in a
 * long doze, as when a program's first events come after a pause), and
 * goes on.  Only when all of it waits does it wait for the thread. */
#define WAKE_AT (BATCHES / 2)

typedef struct Batch {
  size_t n;                 /* words filled */
  uint64_t w[BATCH_WORDS];
} Batch;

struct TraceWriter {
  TraceView *view;
  Trace *trace;             /* the interpreter's side: the batch being filled */
  TraceWriter *next;        /* the writers running (one per traced runtime) */
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;      /* the thread: every batch waits, or the trace stops */
  pthread_cond_t written;   /* the interpreter: a batch was written */
  _Atomic uint64_t filled;  /* batches handed over (the next to fill is filled % BATCHES) */
  _Atomic uint64_t done;    /* batches written */
  _Atomic bool waiting;     /* the interpreter waits for a batch to be written */
  bool stopping;            /* under [lock] */
  Batch *batch[BATCHES];
  /* What push_pending gives the collector: the payloads of the values of
   * the records not yet written (a record of n words has n / 3 at most). */
  uintptr_t *pending;
};

/* Reads the record at [at] into [e] (whose controller is that of the
 * record before, unless this one names its own); gives the next. */
static const uint64_t *record_read(const uint64_t *at, LogEntry *e) {
  uint64_t head = *at++;
  unsigned flags = (unsigned)(head >> 8) & 0xFF;
  e->kind = (uint8_t)head;
  e->ts = head >> 16;
  e->id = *at++;
  if (flags & REC_CTRL) e->controller = (Symbol *)(uintptr_t)*at++;
  if (flags & REC_WIDE_TS) e->ts = *at++;
  e->a = e->b = v_nil();
  if (flags & REC_A) {
    e->a.tag = at[0];
    e->a.as.u = at[1];
    at += 2;
  }
  if (flags & REC_B) {
    e->b.tag = at[0];
    e->b.as.u = at[1];
    at += 2;
  }
  e->has_b = flags & REC_HAS_B;
  return at;
}

static void write_batch(TraceView *vw, const Batch *b) {
  LogEntry e = { 0 };
  for (const uint64_t *at = b->w, *end = b->w + b->n; at < end;) {
    at = record_read(at, &e);
    trace_write(vw, &e);
  }
}

/* Sleeps [us] microseconds, or until woken; false once the trace stops
 * (with everything handed over written). */
static bool doze(TraceWriter *w, long us) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += us * 1000;
  until.tv_sec += until.tv_nsec / 1000000000;
  until.tv_nsec %= 1000000000;
  pthread_mutex_lock(&w->lock);
  int r = 0;
  while (!w->stopping && r != ETIMEDOUT && w->filled - w->done < WAKE_AT)
    r = pthread_cond_timedwait(&w->wake, &w->lock, &until);
  bool go_on = !w->stopping || w->done != w->filled;
  pthread_mutex_unlock(&w->lock);
  return go_on;
}

/* The thread is a batch job for the scheduler: when it wakes on a CPU the
 * interpreter runs on, it waits for the interpreter's turn to end rather
 * than preempting it, and the scheduler moves it to an idle CPU instead.
 * As an ordinary thread it preempted the interpreter 30 to 90 times in a
 * traced Battleship bench, adding up to 10 ms (of 80); now 1 to 6 times.
 * It keeps its share of the CPU: a lower priority starved it, and the
 * program with it, on a busy machine. */
static void run_as_batch_job(void) {
#ifdef SCHED_BATCH
  struct sched_param none = { 0 };
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &none);  /* a refusal changes nothing */
#endif
}

static void *writer_main(void *arg) {
  TraceWriter *w = arg;
  run_as_batch_job();
  long us = WRITER_POLL_US;
  for (;;) {
    uint64_t done = atomic_load(&w->done);
    if (done == atomic_load(&w->filled)) {
      if (!doze(w, us)) break;
      us = us * 2 > WRITER_IDLE_US ? WRITER_IDLE_US : us * 2;
      continue;
    }
    us = WRITER_POLL_US;
    write_batch(w->view, w->batch[done % BATCHES]);
    atomic_store(&w->done, done + 1);
    /* The interpreter sets [waiting], then looks at [done]; this stores
     * [done], then looks at [waiting]: one of the two sees the other. */
    if (atomic_load(&w->waiting)) {
      pthread_mutex_lock(&w->lock);
      pthread_cond_signal(&w->written);
      pthread_mutex_unlock(&w->lock);
    }
  }
  return NULL;
}

/* The writers running, for push_pending.  Only the interpreter's thread
 * changes the list and collects (the writer threads never allocate from
 * the collector), so no lock guards it. */
static TraceWriter *running;
static GC_push_other_roots_proc push_before;

static uintptr_t *payloads_of(uintptr_t *out, const uint64_t *at, const uint64_t *end) {
  LogEntry e = { 0 };
  while (at < end) {
    at = record_read(at, &e);
    if (e.a.tag != T_NIL) *out++ = e.a.as.u;
    if (e.b.tag != T_NIL) *out++ = e.b.as.u;
  }
  return out;
}

static void GC_CALLBACK push_pending(void) {
  if (push_before) push_before();
  for (TraceWriter *w = running; w; w = w->next) {
    uintptr_t *out = w->pending;
    uint64_t filled = atomic_load_explicit(&w->filled, memory_order_relaxed);
    /* A batch the thread finishes meanwhile is marked for nothing: harmless. */
    for (uint64_t b = atomic_load(&w->done); b < filled; b++) {
      Batch *h = w->batch[b % BATCHES];
      out = payloads_of(out, h->w, h->w + h->n);
    }
    /* The batch being filled, as far as it is (fill_from set its bounds). */
    out = payloads_of(out, w->trace->slot_end - BATCH_FILL, w->trace->slot);
    GC_push_all(w->pending, out);
  }
}

static void enlist(TraceWriter *w) {
  if (!push_before && GC_get_push_other_roots() != push_pending) {
    push_before = GC_get_push_other_roots();
    GC_set_push_other_roots(push_pending);
  }
  w->next = running;
  running = w;
}

static void unlist(TraceWriter *w) {
  for (TraceWriter **at = &running; *at; at = &(*at)->next)
    if (*at == w) {
      *at = w->next;
      return;
    }
}

static void fill_from(Trace *t, Batch *b) {
  t->slot = b->w;
  t->slot_end = b->w + BATCH_FILL;
  t->slot_ctrl = (Symbol *)&t->slot_ctrl;  /* no controller: the first record names its own */
}

static void free_writer(TraceWriter *w) {
  for (int i = 0; i < BATCHES; i++) free(w->batch[i]);
  free(w->pending);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->wake);
  pthread_cond_destroy(&w->written);
  free(w);
}

TraceWriter *tracewriter_start(Trace *t) {
  TraceWriter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->view = t->view;
  w->trace = t;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->wake, NULL);
  pthread_cond_init(&w->written, NULL);
  for (int i = 0; i < BATCHES; i++)
    if (!(w->batch[i] = malloc(sizeof(Batch)))) {
      free_writer(w);
      return NULL;
    }
  if (!(w->pending = malloc((size_t)BATCHES * BATCH_WORDS / 2 * sizeof *w->pending))) {
    free_writer(w);
    return NULL;
  }
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    free_writer(w);
    return NULL;
  }
  fill_from(t, w->batch[0]);
  enlist(w);
  return w;
}

/* Hands over the batch being filled, with what the interpreter put in it. */
static void hand_over(TraceWriter *w, Trace *t) {
  uint64_t filled = atomic_load_explicit(&w->filled, memory_order_relaxed);
  Batch *b = w->batch[filled % BATCHES];
  b->n = (size_t)(t->slot - b->w);
  atomic_store(&w->filled, filled + 1);
}

void tracewriter_pass(TraceWriter *w, Trace *t) {
  hand_over(w, t);
  uint64_t filled = atomic_load_explicit(&w->filled, memory_order_relaxed);
  uint64_t waiting = filled - atomic_load(&w->done);
  if (waiting == WAKE_AT) {  /* the thread may be in a long doze */
    pthread_mutex_lock(&w->lock);
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
  }
  if (waiting == BATCHES) {
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->waiting, true);
    pthread_cond_signal(&w->wake);
    while (filled - atomic_load(&w->done) == BATCHES) pthread_cond_wait(&w->written, &w->lock);
    atomic_store(&w->waiting, false);
    pthread_mutex_unlock(&w->lock);
  }
  fill_from(t, w->batch[filled % BATCHES]);
}

void tracewriter_stop(TraceWriter *w, Trace *t) {
  hand_over(w, t);
  pthread_mutex_lock(&w->lock);
  w->stopping = true;
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  unlist(w);
  t->slot = t->slot_end = NULL;
  free_writer(w);
}
