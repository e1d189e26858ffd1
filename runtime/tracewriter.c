/* runtime/tracewriter.c — the thread that formats and writes a trace that
 * is not live.  The interpreter fills batches of entries (a copy of the
 * event each, some ten words) and hands each full batch over; the thread
 * turns them into text, in order, while the interpreter goes on.  Printing
 * an event costs several times more than recording it, and on a machine
 * with a second core that cost leaves the program's path.
 *
 * The batches are a ring used in turn: the interpreter fills batch
 * [filled], the thread writes those before it.  When every batch waits to
 * be written, the interpreter waits for the thread, so a trace takes a
 * bounded amount of memory however fast the program makes events.
 *
 * The collector: batches are uncollectable blocks, so the values their
 * entries hold (messages, outputs) stay alive until the interpreter
 * overwrites the entry, which it does only once the thread has written
 * it.  The thread reads those values and nothing else of the heap, and
 * never allocates from the collector; values never change once made.  So
 * the thread needs no registration with the collector, and a collection
 * need not stop it. */
#include <gc.h>
#include <pthread.h>
#include <stdlib.h>
#include "runtime/runtime.h"

/* A batch is a write's worth of text, about 64 KiB (lines of 60 bytes and
 * more); four let the interpreter fill one while the thread writes
 * another, with room for bursts. */
#define BATCH_ENTRIES 1024
#define BATCHES 4

typedef struct Batch {
  size_t n;
  LogEntry e[BATCH_ENTRIES];
} Batch;

struct TraceWriter {
  TraceView *view;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t handed;    /* a batch was handed over, or the trace stops */
  pthread_cond_t written;   /* a batch was written: its room is free */
  uint64_t filled;          /* batches handed over (the next to fill is filled % BATCHES) */
  uint64_t done;            /* batches written */
  bool stopping;
  bool idle;                /* the thread waits for a batch */
  Batch *batch[BATCHES];
};

static void write_batch(TraceView *vw, const Batch *b) {
  for (size_t i = 0; i < b->n; i++) trace_write(vw, &b->e[i]);
}

static void *writer_main(void *arg) {
  TraceWriter *w = arg;
  pthread_mutex_lock(&w->lock);
  for (;;) {
    while (w->done == w->filled && !w->stopping) {
      w->idle = true;
      pthread_cond_wait(&w->handed, &w->lock);
      w->idle = false;
    }
    if (w->done == w->filled) break;
    const Batch *b = w->batch[w->done % BATCHES];
    pthread_mutex_unlock(&w->lock);
    write_batch(w->view, b);
    pthread_mutex_lock(&w->lock);
    w->done++;
    pthread_cond_signal(&w->written);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static void fill_from(Trace *t, Batch *b) {
  t->slot = b->e;
  t->slot_end = b->e + BATCH_ENTRIES;
}

static void free_writer(TraceWriter *w) {
  for (int i = 0; i < BATCHES; i++) GC_FREE(w->batch[i]);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->handed);
  pthread_cond_destroy(&w->written);
  free(w);
}

TraceWriter *tracewriter_start(Trace *t) {
  TraceWriter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->view = t->view;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->handed, NULL);
  pthread_cond_init(&w->written, NULL);
  for (int i = 0; i < BATCHES; i++)
    if (!(w->batch[i] = GC_MALLOC_UNCOLLECTABLE(sizeof(Batch)))) {
      free_writer(w);
      return NULL;
    }
  if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
    free_writer(w);
    return NULL;
  }
  fill_from(t, w->batch[0]);
  return w;
}

/* Hands over the batch being filled, with what the interpreter put in it. */
static void hand_over(TraceWriter *w, Trace *t) {
  Batch *b = w->batch[w->filled % BATCHES];
  b->n = (size_t)(t->slot - b->e);
  pthread_mutex_lock(&w->lock);
  w->filled++;
  if (w->idle) pthread_cond_signal(&w->handed);
}

void tracewriter_pass(TraceWriter *w, Trace *t) {
  hand_over(w, t);
  while (w->filled - w->done == BATCHES) pthread_cond_wait(&w->written, &w->lock);
  pthread_mutex_unlock(&w->lock);
  fill_from(t, w->batch[w->filled % BATCHES]);
}

void tracewriter_stop(TraceWriter *w, Trace *t) {
  hand_over(w, t);
  w->stopping = true;
  pthread_cond_signal(&w->handed);
  pthread_mutex_unlock(&w->lock);
  pthread_join(w->thread, NULL);
  t->slot = t->slot_end = NULL;
  free_writer(w);
}
