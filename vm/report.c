/* vm/report.c — runtime errors as diagnostics: the source span a frame is
 * at (its saved pc indexes its function's line table), the bounded
 * backtrace of a failed fiber, and the printed report.  Nothing here runs
 * until an error is reported, so locations cost the dispatch loop nothing.
 *
 * The report (stable: tests compare it byte for byte):
 *
 *   FILE:LINE:COL: error: MESSAGE IRRITANT ...
 *    the source line, when that source is loaded
 *    ^~~~~~~ under the failing expression
 *   FILE:LINE:COL: note: did you mean 'NAME'?        (when there is a hint)
 *     in NAME at FILE:LINE:COL                        (innermost frame first)
 *     in an anonymous procedure at FILE:LINE:COL
 *     in behavior NAME of object ID at FILE:LINE:COL  (an object call)
 *     ... N frames omitted
 *     in the program at FILE:LINE:COL                 (the top level)
 *
 * Each frame line says what that frame was evaluating: the failing
 * expression for the innermost, the call it waits on for the others.  The
 * backtrace is printed when it has more than one frame, and keeps the
 * BT_KEEP innermost and BT_KEEP outermost ones.  A proper tail call
 * replaces its caller's frame, so a procedure that made one is not listed.
 * An error with no known location prints as "error: MESSAGE ...", a frame
 * with no source position as "in NAME".  Code loaded from bytecode is
 * located by the file name and spans the .avmb carries; its line is quoted
 * only when that source is loaded too. */
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include "vm/vm.h"

Loc fiber_loc(const Fiber *f, size_t frame) {
  Loc loc = { 0 };
  if (frame >= f->nframes) return loc;
  const Frame *fr = &f->frames[frame];
  const Proto *p = fr->cl->p;
  if (!p->lines || !p->module) return loc;
  /* The saved pc is the next instruction: the one before it is running
   * (or is the call the frame waits on). */
  ptrdiff_t idx = fr->pc - p->code - 1;
  if (idx < 0) idx = 0;
  if ((size_t)idx >= p->ncode) return loc;
  const LineInfo *l = &p->lines[idx];
  if (l->line <= 0) return loc;
  return (Loc){ p->module->file, l->line, l->col, l->end_line, l->end_col };
}

static BtFrame frame_info(const Fiber *f, size_t idx) {
  const Proto *p = f->frames[idx].cl->p;
  BtFrame b = { .loc = fiber_loc(f, idx), .name = p->name, .kind = BT_PROC, .index = idx };
  if (p->module && p->module->nprotos && p->module->protos[0] == p) b.kind = BT_PROGRAM;
  return b;
}

void vm_locate_error(Fiber *f) {
  VMError *e = &f->error;
  size_t n = f->nframes;
  if (!e->loc.file && n > 0) e->loc = fiber_loc(f, n - 1);
  size_t keep = n <= 2 * BT_KEEP ? n : 2 * BT_KEEP;
  e->bt = GC_MALLOC((keep ? keep : 1) * sizeof *e->bt);
  e->nbt = (uint32_t)keep;
  e->omitted = n - keep;
  /* The innermost BT_KEEP frames, then the outermost ones. */
  for (size_t j = 0; j < keep; j++) e->bt[j] = frame_info(f, j < BT_KEEP || n == keep ? n - 1 - j : keep - 1 - j);
}

static void print_frame(FILE *out, const BtFrame *b) {
  switch (b->kind) {
    case BT_PROGRAM: fputs("  in the program", out); break;
    case BT_BEHAVIOR:
      fprintf(out, "  in behavior %s of object %llu", b->name ? b->name->name : "?", (unsigned long long)b->object);
      break;
    case BT_PROC:
      if (b->name) fprintf(out, "  in %s", b->name->name);
      else fputs("  in an anonymous procedure", out);
      break;
  }
  if (b->loc.file) fprintf(out, " at %s:%d:%d", b->loc.file, b->loc.line, b->loc.col);
  fputc('\n', out);
}

void vm_error_text(Buf *b, const VMError *e) {
  buf_puts(b, e->msg ? e->msg : "unknown error");
  for (Value l = e->irritants; l.tag == T_PAIR; l = l.as.pair->cdr) {
    buf_putc(b, ' ');
    v_print(b, l.as.pair->car, false);
  }
}

void vm_report_error(Diag *d, const VMError *e) {
  Buf text = { 0 };
  vm_error_text(&text, e);
  buf_putc(&text, '\0');
  diag_error(d, e->loc, "%s", text.p);
  buf_free(&text);
  if (e->hint) diag_note(d, e->loc, "%s", e->hint);
  if (e->nbt + e->omitted <= 1) return;
  for (uint32_t j = 0; j < e->nbt; j++) {
    if (j == BT_KEEP && e->omitted) fprintf(d->out, "  ... %zu frames omitted\n", e->omitted);
    print_frame(d->out, &e->bt[j]);
  }
}
