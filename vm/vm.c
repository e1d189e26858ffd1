/* vm/vm.c — the VM object: the global table, linking modules to it, fiber
 * creation and copying, raising runtime errors (vm/report.c locates and
 * prints them). */
#include <gc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "vm/vm.h"

/* {===== Globals =====} */

static void index_insert(Globals *g, Symbol *name, size_t slot) {
  size_t mask = g->index_cap - 1, j = name->hash & mask;
  while (g->index[j]) j = (j + 1) & mask;
  g->index[j] = (uint32_t)slot + 1;
}

static void rehash(Globals *g) {
  size_t cap = g->index_cap ? g->index_cap * 2 : 256;
  free(g->index);
  g->index = calloc(cap, sizeof *g->index);
  if (!g->index) abort();
  g->index_cap = cap;
  for (size_t s = 0; s < g->count; s++) index_insert(g, g->names[s], s);
}

bool vm_global_lookup(VM *vm, Symbol *name, size_t *slot) {
  Globals *g = &vm->globals;
  if (!g->index_cap) return false;
  size_t mask = g->index_cap - 1;
  for (size_t j = name->hash & mask; g->index[j]; j = (j + 1) & mask)
    if (g->names[g->index[j] - 1] == name) {
      *slot = g->index[j] - 1;
      return true;
    }
  return false;
}

size_t vm_global_slot(VM *vm, Symbol *name) {
  size_t slot;
  if (vm_global_lookup(vm, name, &slot)) return slot;
  Globals *g = &vm->globals;
  if (g->count == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 256;
    g->names = GC_REALLOC(g->names, g->cap * sizeof *g->names);
    g->values = GC_REALLOC(g->values, g->cap * sizeof *g->values);
    g->flags = GC_REALLOC(g->flags, g->cap * sizeof *g->flags);
  }
  if ((g->count + 1) * 2 > g->index_cap) rehash(g);
  slot = g->count++;
  g->names[slot] = name;
  g->values[slot] = v_undef();
  g->flags[slot] = 0;
  index_insert(g, name, slot);
  return slot;
}

void vm_define_global(VM *vm, Symbol *name, Value v) {
  size_t slot = vm_global_slot(vm, name);  /* may grow the table */
  vm->globals.values[slot] = v;
}

VM *vm_new(void) {
  VM *vm = GC_MALLOC_UNCOLLECTABLE(sizeof *vm);
  memset(vm, 0, sizeof *vm);
  vm->max_depth = AVM_DEFAULT_MAX_DEPTH;
  vm->command_line = v_nil();
  vm->out = stdout;
  prims_install(vm);
  return vm;
}

void vm_link(VM *vm, Module *m) {
  if (m->linked) return;
  size_t *slots = GC_MALLOC_ATOMIC((m->nglobals + 1) * sizeof *slots);
  if (!slots) abort();
  for (uint32_t g = 0; g < m->nglobals; g++) {
    slots[g] = vm_global_slot(vm, m->globals[g]);
    if (m->gflags && (m->gflags[g] & GF_DEFINED)) vm->globals.flags[slots[g]] = m->gflags[g];
  }
  for (uint32_t p = 0; p < m->nprotos; p++) {
    Proto *pr = m->protos[p];
    for (uint32_t j = 0; j < pr->ncode; j++) {
      Instr *in = &pr->code[j];
      if (in->op == OP_GETGLOBAL || in->op == OP_DEFGLOBAL) in->bx = (int32_t)slots[in->bx];
    }
  }
  m->slots = slots;
  m->linked = true;
}

/* {===== Closures and fibers =====} */

Closure *closure_new(Proto *p, uint32_t nup) {
  Closure *c = gc_alloc_small(sizeof *c + nup * sizeof(Value));
  c->p = p;
  c->nup = nup;
  return c;
}

Value proto_main_closure(Module *m) {
  return v_tagged(T_CLOSURE, closure_new(m->protos[0], 0));
}

static void release_fiber(void *obj, void *data) {
  (void)data;
  Fiber *f = obj;
  stackmem_release(f->stack, &f->stack_mem);
  stackmem_release(f->frames, &f->frames_mem);
}

/* Gives [f] room for [nvalues] stack slots and [nframes] frames. */
static void fiber_alloc(Fiber *f, size_t nvalues, size_t nframes) {
  f->stack = NULL;
  f->stack_cap = 0;
  f->frames = NULL;
  f->frames_cap = 0;
  f->stack_mem = f->frames_mem = (StackMem){ .owner = f, .release = release_fiber };
  void *p = NULL;
  if (!stackmem_grow(&p, &f->stack_cap, nvalues, sizeof(Value), AVM_STACK_RESERVE, &f->stack_mem)) abort();
  f->stack = p;
  p = NULL;
  if (!stackmem_grow(&p, &f->frames_cap, nframes, sizeof(Frame), AVM_FRAMES_RESERVE, &f->frames_mem)) abort();
  f->frames = p;
}

/* The stack slots a fiber starting [fn] on [argc] arguments needs. */
static size_t start_slots(Value fn, int argc) {
  size_t need = (size_t)argc + 2;
  if (fn.tag == T_CLOSURE) need += fn.as.clo->p->nregs;
  return need < 64 ? 64 : need;
}

static Fiber *fiber_start(Fiber *f, Value fn, const Value *args, int argc);

/* A zeroed fiber of [vm] with room for [nvalues] and [nframes]. */
static Fiber *fiber_blank(VM *vm, size_t nvalues, size_t nframes) {
  Fiber *f = GC_MALLOC(sizeof *f);
  memset(f, 0, sizeof *f);
  f->vm = vm;
  fiber_alloc(f, nvalues, nframes);
  return f;
}

Fiber *fiber_new(VM *vm, Value fn, const Value *args, int argc) {
  return fiber_start(fiber_blank(vm, start_slots(fn, argc), 8), fn, args, argc);
}

/* Clearing a small stack costs far less than the collector's work for a
 * fresh one; a large one is better left to the collector. */
#define RENEW_MAX_BYTES 4096

bool fiber_renewable(const Fiber *f) {
  return !f->stack_mem.mapped && !f->frames_mem.mapped && f->stack_cap * sizeof(Value) <= RENEW_MAX_BYTES &&
         f->frames_cap * sizeof(Frame) <= RENEW_MAX_BYTES;
}

Fiber *fiber_renew(Fiber *f, Value fn, const Value *args, int argc) {
  Fiber old = *f;
  memset(f, 0, sizeof *f);
  f->vm = old.vm;
  f->stack = old.stack;
  f->stack_cap = old.stack_cap;
  f->stack_mem = old.stack_mem;
  f->frames = old.frames;
  f->frames_cap = old.frames_cap;
  f->frames_mem = old.frames_mem;
  memset(f->stack, 0, f->stack_cap * sizeof(Value));
  memset(f->frames, 0, f->frames_cap * sizeof(Frame));
  void *p = f->stack;
  if (!stackmem_grow(&p, &f->stack_cap, start_slots(fn, argc), sizeof(Value), AVM_STACK_RESERVE, &f->stack_mem))
    abort();
  f->stack = p;
  return fiber_start(f, fn, args, argc);
}

/* Sets fresh fiber [f] (zeroed, with its memory) to call [fn]. */
static Fiber *fiber_start(Fiber *f, Value fn, const Value *args, int argc) {
  f->stack[0] = fn;
  for (int j = 0; j < argc; j++) f->stack[1 + j] = args[j];
  f->error.irritants = v_nil();
  f->result = v_unspec();
  /* A one-instruction trampoline frame would complicate copies; instead
   * the first vm_run performs the initial call through a synthetic frame. */
  f->status = VM_TAU;
  if (fn.tag == T_CLOSURE) {
    Proto *p = fn.as.clo->p;
    if (!p->rest && argc != p->nparams) {
      vm_raise(f, v_nil(), "%s: wrong number of arguments (expected %d, got %d)",
               p->name ? p->name->name : "#<procedure>", p->nparams, argc);
      f->status = VM_ERROR;
      return f;
    }
    if (p->rest) {
      if (argc < p->nparams) {
        vm_raise(f, v_nil(), "%s: wrong number of arguments (expected at least %d, got %d)",
                 p->name ? p->name->name : "#<procedure>", p->nparams, argc);
        f->status = VM_ERROR;
        return f;
      }
      f->stack[1 + p->nparams] = v_list_n(args + p->nparams, (size_t)(argc - p->nparams), v_nil());
    }
    f->frames[0] = (Frame){ fn.as.clo, p->code, 1 };
    f->nframes = 1;
  } else {
    vm_raise(f, v_nil(), "not a procedure: %s", v_write_to_string(fn, false));
    f->status = VM_ERROR;
  }
  return f;
}


Fiber *fiber_copy(const Fiber *src) {
  Fiber *f = GC_MALLOC(sizeof *f);
  *f = *src;
  fiber_alloc(f, src->stack_cap, src->frames_cap);
  memcpy(f->stack, src->stack, src->stack_cap * sizeof(Value));
  memcpy(f->frames, src->frames, src->nframes * sizeof(Frame));
  if (src->vis_args) f->vis_args = f->stack + (src->vis_args - src->stack);
  fiber_update_frame_limit(f);
  return f;
}

static bool restore_fails(char *err, size_t errlen, const char *what, size_t k) {
  snprintf(err, errlen, "frame %zu: %s", k, what);
  return false;
}

/* Whether [frames] fit [nstack] values and their code: each frame runs a
 * closure whose registers lie inside the stack above the last frame's,
 * at an instruction of its code. */
static bool frames_fit(const Frame *frames, size_t nframes, size_t nstack, char *err, size_t errlen) {
  size_t floor = 0;
  for (size_t k = 0; k < nframes; k++) {
    const Frame *fr = &frames[k];
    if (!fr->cl) return restore_fails(err, errlen, "not a procedure", k);
    const Proto *p = fr->cl->p;
    if (fr->base <= floor || fr->base > nstack || nstack - fr->base < p->nregs)
      return restore_fails(err, errlen, "its registers are outside the stack", k);
    size_t pc = (size_t)(fr->pc - p->code);
    if (pc == 0 || pc >= p->ncode) return restore_fails(err, errlen, "its instruction is outside its code", k);
    floor = fr->base;
  }
  return true;
}

Fiber *fiber_restore(VM *vm, const Frame *frames, size_t nframes, const Value *stack, size_t nstack, size_t dest,
                     bool returns, char *err, size_t errlen) {
  if (nframes == 0 || nframes > vm->max_depth) {
    snprintf(err, errlen, "%zu frames (from 1 to %zu)", nframes, vm->max_depth);
    return NULL;
  }
  if (!frames_fit(frames, nframes, nstack, err, errlen)) return NULL;
  if (dest >= nstack) {
    snprintf(err, errlen, "the response register %zu is outside the stack of %zu", dest, nstack);
    return NULL;
  }
  Fiber *f = fiber_blank(vm, nstack + 64, nframes + 8);
  memcpy(f->stack, stack, nstack * sizeof(Value));
  memcpy(f->frames, frames, nframes * sizeof(Frame));
  f->nframes = nframes;
  f->status = VM_VIS;
  f->vis_dest = dest;
  f->vis_returns = returns;
  f->result = v_unspec();
  f->error.irritants = v_nil();
  fiber_update_frame_limit(f);
  return f;
}

/* {===== Errors =====} */

bool vm_raise(Fiber *f, Value irritants, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *buf = NULL;
  if (vasprintf(&buf, fmt, ap) < 0) abort();
  va_end(ap);
  size_t n = strlen(buf);
  char *msg = GC_MALLOC_ATOMIC(n + 1);
  memcpy(msg, buf, n + 1);
  free(buf);
  f->error = (VMError){ .msg = msg, .irritants = irritants };
  return false;
}

bool vm_type_error(Fiber *f, const char *who, const char *expected, Value got) {
  return vm_raise(f, v_nil(), "%s: expected %s, got %s", who, expected, v_write_to_string(got, false));
}
