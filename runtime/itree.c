/* runtime/itree.c — the interpreter of interaction trees.  A program is a
 * fiber: run, it stops at Ret (done), Tau (its slice ran out: a silent
 * step) or Vis (an AVM instruction), which is dispatched to the handler of
 * the instruction's family; the response resumes the continuation.
 * Object calls run the callee's behavior on the caller's own fiber above a
 * floor, with the caller waiting on an explicit activation stack, so nested
 * calls use heap, not C stack.  Several programs (spawn) share the store
 * and take turns after every AVM instruction, round robin. */
#include <gc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime.h"

const char *const avm_err_names[AE__COUNT] = {
#define ERR(id, fam, name) name,
#include "runtime/errors.def"
#undef ERR
};

static const Handler handlers[IN__COUNT] = {
#define INSTR(id, name, mn, mx, layer, safety, fam, gas) h_##id,
#include "vm/instrs.def"
#undef INSTR
};

/* The compiler refuses unsafe instructions without --allow-unsafe, but a
 * procedure value can still reach one (a global redefined later, forged
 * bytecode): without the flag the runtime runs this table, in which an
 * unsafe instruction's handler refuses it. */
static HResult refuse_unsafe(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc, (void)out;
  vm_raise(p->fiber, v_nil(), "unsafe instruction '%s' requires --allow-unsafe", instr_info[p->fiber->vis_instr].name);
  return H_ERROR;
}

static const Handler safe_handlers[IN__COUNT] = {
#define INSTR(id, name, mn, mx, layer, safety, fam, gas) (safety) == UNSAFE ? refuse_unsafe : h_##id,
#include "vm/instrs.def"
#undef INSTR
};

bool rt_error(Program *p, AvmErr e, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return vm_raise(p->fiber, v_nil(), "%s: %s", avm_err_names[e], buf);
}

Runtime *rt_new(VM *vm, const char *machine) {
  Runtime *rt = GC_MALLOC(sizeof *rt);
  memset(rt, 0, sizeof *rt);
  rt->vm = vm;
  rt->behaviors = v_nil();
  rt->next_object = 1;
  rt->next_tx = 1;
  rt->next_program = 1;
  rt->machine = sym_intern_cstr(machine);
  rt->gas_limit = -1;
  return rt;
}

/* A module loaded into a runtime that already has a behavior or pure
 * function of the same name replaces it (the REPL redefines them): objects
 * of that behavior answer their next call with the new code. */
bool rt_load_module(Runtime *rt, Module *m, FILE *err) {
  (void)err;
  for (uint32_t j = 0; j < m->ndecls; j++) {
    Decl *d = &m->decls[j];
    Value fn = v_tagged(T_CLOSURE, closure_new(m->protos[d->proto], 0));
    if (d->kind == DECL_BEHAVIOR) {
      Value l = rt->behaviors;
      while (l.tag == T_PAIR && l.as.pair->car.as.pair->car.as.sym != d->name) l = l.as.pair->cdr;
      if (l.tag == T_PAIR) l.as.pair->car.as.pair->cdr = fn;
      else rt->behaviors = v_cons(v_cons(v_sym(d->name), fn), rt->behaviors);
      continue;
    }
    rt_pure_define(rt, d->name, fn);
  }
  return true;
}

/* {===== Programs =====} */

/* {===== Activations =====} */

/* Address space for a program's activations once they outgrow the heap:
 * room for more nested calls than the VM's frame limit allows. */
#define ACTS_RESERVE ((size_t)1 << 31)

static void release_program(void *obj, void *data) {
  (void)data;
  Program *p = obj;
  stackmem_release(p->acts, &p->acts_mem);
}

Activation *act_push(Program *p) {
  if (p->nacts == p->acts_cap) {
    if (!p->acts_mem.owner) p->acts_mem = (StackMem){ .owner = p, .release = release_program };
    void *a = p->acts;
    if (!stackmem_grow(&a, &p->acts_cap, p->nacts + 1, sizeof(Activation), ACTS_RESERVE, &p->acts_mem))
      return NULL;
    p->acts = a;
  }
  Activation *a = &p->acts[p->nacts++];
  memset(a, 0, sizeof *a);
  p->act = a;
  return a;
}

static void act_pop(Program *p) {
  Activation *a = p->act;
  a->input = v_nil();  /* the message is garbage now */
  p->act = a - 1;
  p->nacts--;
}

/* Program [p] (zeroed, or with its activations' memory only) around
 * fiber [f], in the scheduler's ring. */
static Program *program_init(Runtime *rt, Program *p, Fiber *f, Symbol *controller) {
  p->id = rt->next_program++;
  p->fiber = f;
  Activation *root = act_push(p);
  if (!root) abort();
  root->input = v_nothing();
  root->machine = rt->machine;
  root->controller = controller;
  p->status = p->fiber->status == VM_ERROR ? PS_FAILED : PS_RUNNABLE;
  p->pure_view = -1;
  p->result = v_unspec();
  p->error.irritants = v_nil();
  if (p->status == PS_FAILED) p->error = p->fiber->error;
  if (!rt->programs) {
    p->next = p;
    rt->programs = p;
  } else {
    p->next = rt->programs->next;
    rt->programs->next = p;
  }
  return p;
}

static Program *program_of(Runtime *rt, Fiber *f, Symbol *controller) {
  return program_init(rt, GC_MALLOC(sizeof(Program)), f, controller);
}

/* Clearing small activations costs less than the collector's work for
 * fresh ones. */
#define SPARE_MAX_ACTS (4096 / sizeof(Activation))

/* Ended program [p], out of the ring and detached (nobody holds it), kept
 * for its memory: a node serves every remote call with a program of its
 * own, and making a fresh one was a seventh of serving a small call. */
static void keep_spare(Runtime *rt, Program *p) {
  if (p->status == PS_DONE && !p->acts_mem.mapped && p->acts_cap <= SPARE_MAX_ACTS && fiber_renewable(p->fiber))
    rt->spare = p;
}

/* The spare program, cleared, around fiber [f]. */
static Program *renew_spare(Runtime *rt, Fiber *f, Symbol *controller) {
  Program *p = rt->spare;
  rt->spare = NULL;
  Activation *acts = p->acts;
  size_t cap = p->acts_cap;
  StackMem mem = p->acts_mem;
  memset(p, 0, sizeof *p);
  memset(acts, 0, cap * sizeof *acts);
  p->acts = acts;
  p->acts_cap = cap;
  p->acts_mem = mem;
  return program_init(rt, p, f, controller);
}

static Program *new_program(Runtime *rt, Value fn, const Value *args, int argc, Symbol *controller) {
  if (rt->spare) return renew_spare(rt, fiber_renew(rt->spare->fiber, fn, args, argc), controller);
  return program_of(rt, fiber_new(rt->vm, fn, args, argc), controller);
}

Program *rt_spawn(Runtime *rt, Program *parent, Value thunk) {
  return new_program(rt, thunk, NULL, 0, rt_executing_controller(rt, parent));
}

Program *rt_program(Runtime *rt, uint64_t id) {
  Program *p = rt->programs;
  if (!p) return NULL;
  do {
    if (p->id == id) return p;
    p = p->next;
  } while (p != rt->programs);
  return NULL;
}

static void respond(Program *p, Value v) {
  p->has_response = true;
  p->response = v;
}

/* The programs waiting in join for ended program [p] go on. */
static void wake_joiners(Runtime *rt, Program *p) {
  Program *q = rt->programs;
  do {
    if (q->status == PS_BLOCKED && q->waiting_for == p->id) {
      q->status = PS_RUNNABLE;
      respond(q, p->status == PS_DONE ? v_just(p->result) : v_nothing());
    }
    q = q->next;
  } while (q != rt->programs);
}

/* A finished program wakes those waiting for it in join.  Its open
 * transaction is aborted, unless it is a session's program that ended
 * well: the next one carries on with it. */
static void finish_program(Runtime *rt, Program *p, ProgStatus st) {
  p->status = st;
  if (p->tx && (st == PS_FAILED || !p->session)) {
    p->aborted_tx = p->tx->id;
    tx_abort(rt, p);
  }
  /* Only a program that was joined has waiters to wake: a node ends a
   * program per served call, with as many in the ring as calls nest. */
  if (p->joined) wake_joiners(rt, p);
  if (p->on_done) p->on_done(rt, p);
}

/* {===== Object calls =====} */

static Value lookup_behavior(Runtime *rt, Symbol *name) {
  for (Value l = rt->behaviors; l.tag == T_PAIR; l = l.as.pair->cdr)
    if (l.as.pair->car.as.pair->car.as.sym == name) return l.as.pair->car.as.pair->cdr;
  return v_undef();
}

HResult rt_push_call(Runtime *rt, Program *p, Object *o, TxEntry *e, Value input) {
  Value fn = lookup_behavior(rt, o->behavior);
  if (fn.tag == T_UNDEF)
    return rt_error(p, AE_BEHAVIOR_NOT_FOUND, "no behavior named %s is loaded", o->behavior->name) ? H_DONE
                                                                                                  : H_ERROR;
  Fiber *f = p->fiber;
  uint64_t sender = act_self_id(p->act);
  Activation *a = act_push(p);
  if (!a) return rt_error(p, AE_INVALID_INPUT, "too many nested calls"), H_ERROR;
  a->self = o;
  a->input = input;
  a->sender_id = sender;
  a->has_sender = true;
  a->machine = o->machine;
  a->controller = rt_controller_of(o, e);
  a->caller_floor = (uint32_t)f->floor;
  a->caller_dest = (uint32_t)f->vis_dest;
  a->caller_returns = f->vis_returns;
  if (rt->trace.out && rt->trace.format == TF_MERMAID) trace_call_begin(rt, p);
  a->journal_mark = (uint32_t)journal_mark(p);
  if (p->tx) {
    /* The call log: delivered inputs count in the histories at commit. */
    TxEntry *te = tx_entry(p, o, tx_find_entry(p->tx, o->id));
    te->calls++;
  }
  if (!fiber_enter(f, fn, &input, 1)) {
    /* Could not start (stack overflow): a rejected call. */
    a->floor = (uint32_t)f->nframes;
    return H_ERROR;
  }
  a->floor = (uint32_t)f->floor;
  return H_SWITCHED;
}

/* Leaves the current activation, giving the caller [response]. */
static void pop_activation(Program *p, Value response) {
  Activation *a = p->act;
  Fiber *f = p->fiber;
  f->nframes = a->floor;
  f->floor = a->caller_floor;
  f->vis_dest = a->caller_dest;
  f->vis_returns = a->caller_returns;
  f->status = VM_VIS;
  act_pop(p);
  if (!rt_in_call(p)) journal_reset(p);  /* back at the top: nothing to undo any more */
  respond(p, response);
}

/* The error as ErrorOccurred shows it: message and irritants. */
static Value error_message(const VMError *err) {
  Buf b = { 0 };
  vm_error_text(&b, err);
  Value s = v_string(b.p, b.n);
  buf_free(&b);
  return s;
}

static void reject_call(Runtime *rt, Program *p) {
  Activation *a = p->act;
  if (p->on_done && p->nacts == 2) p->rejection = error_message(&p->fiber->error);  /* a served call's Err */
  rt_log(rt, p, EV_ERROR_OCCURRED, act_self_id(a), rt->trace.out ? error_message(&p->fiber->error) : v_nil(),
         v_nil(), false);
  journal_rollback(rt, p, a->journal_mark);
  rt_log(rt, p, EV_OBJECT_CALLED, act_self_id(a), a->input, v_nil(), false);
  p->fiber->error = (VMError){ .irritants = v_nil() };  /* the caller goes on */
  pop_activation(p, v_nothing());
}

static void return_from_call(Runtime *rt, Program *p, Value out) {
  Activation *a = p->act;
  if (v_contains_proc(out)) {
    vm_raise(p->fiber, v_nil(), "%s: the output of a call cannot contain a procedure", avm_err_names[AE_INVALID_INPUT]);
    reject_call(rt, p);
    return;
  }
  Object *self = a->self;
  rt_log(rt, p, EV_OBJECT_CALLED, self->id, a->input, out, true);
  pop_activation(p, v_just(out));
  /* The answered call counts in the caller's context: journaled only when
   * the caller is itself a call that may still be rejected. */
  if (!p->tx) {
    journal_calls(p, self);
    self->calls++;
  }
}

/* {===== The loop =====} */

/* Marks the frames of p's backtrace that start an object call: each
 * activation's floor is the index of its behavior's frame, and floors
 * decrease along the chain as the backtrace's indices do. */
static void name_behavior_frames(Program *p) {
  VMError *e = &p->fiber->error;
  const Activation *a = p->act;
  for (uint32_t j = 0; j < e->nbt; j++) {
    BtFrame *b = &e->bt[j];
    while (a->self && a->floor > b->index) a--;
    if (a->self && a->floor == b->index) {
      b->kind = BT_BEHAVIOR;
      b->name = a->self->behavior;
      b->object = a->self->id;
    }
  }
}

/* Whether the run must stop whatever is going on: out of gas, (exit),
 * or an interrupt (Ctrl-C in the REPL).  None of them is a rejected call. */
static bool stopping(Runtime *rt) {
  return rt->out_of_gas || rt->vm->exit_requested || rt_interrupted(rt);
}

/* A program that ends inside object calls (out of gas, interrupted,
 * stopped) leaves nothing of them behind: they are undone as a rejected
 * call is, and the program is back at its root. */
static void unwind_calls(Runtime *rt, Program *p) {
  if (!rt_in_call(p)) return;
  journal_rollback(rt, p, p->acts[1].journal_mark);  /* from the outermost call */
  while (rt_in_call(p)) act_pop(p);
  journal_reset(p);
}

/* Ends program [p] as failed with [err]. */
static void end_failed(Runtime *rt, Program *p, VMError err) {
  p->error = err;
  unwind_calls(rt, p);
  finish_program(rt, p, PS_FAILED);
}

/* Ends program [p] with the error its fiber holds, located for the report
 * (before the calls it was in are unwound). */
static void fail_program(Runtime *rt, Program *p) {
  vm_locate_error(p->fiber);
  name_behavior_frames(p);
  end_failed(rt, p, p->fiber->error);
}

static void fail(Runtime *rt, Program *p) {
  if (rt_in_call(p) && !stopping(rt)) {
    reject_call(rt, p);
    return;
  }
  fail_program(rt, p);
}

static bool charge_metered(Runtime *rt, Program *p, int64_t cost);

static inline bool charge(Runtime *rt, Program *p, int64_t cost) {
  return rt->gas_limit < 0 || charge_metered(rt, p, cost);
}

static bool charge_metered(Runtime *rt, Program *p, int64_t cost) {
  rt->gas_used += cost;
  if (rt->gas_used <= rt->gas_limit) return true;
  rt->out_of_gas = true;
  rt_error(p, AE_OUT_OF_GAS, "the program used more than %lld units of gas", (long long)rt->gas_limit);
  return false;
}

/* The AVM instruction [p]'s fiber stopped at: gas, then its handler (of
 * the table own_vm picked for the safety flag).  Inlined into both of its
 * users: it runs for every AVM instruction. */
static inline __attribute__((always_inline)) HResult handle_vis(Runtime *rt, Program *p, Value *out) {
  Fiber *f = p->fiber;
  rt->avm_instructions++;
  if (!charge(rt, p, instr_info[f->vis_instr].gas)) return H_ERROR;
  return rt->handlers[f->vis_instr](rt, p, f->vis_args, f->vis_argc, out);
}

static AvmInLoop avm_in_loop(void *ctx, Fiber *f);
static AvmInLoop ret_in_loop(void *ctx, Fiber *f);

/* The VM's in-loop hooks work for [rt] while it runs its programs (a VM
 * may serve several runtimes, one at a time). */
static void own_vm(Runtime *rt) {
  rt->handlers = rt->allow_unsafe ? handlers : safe_handlers;
  rt->vm->avm_in_loop = avm_in_loop;
  rt->vm->ret_in_loop = ret_in_loop;
  rt->vm->avm_ctx = rt;
}

/* Runs program [p] up to and including its next AVM instruction, or to
 * the end of its time slice (then false: a Tau step).  Inlined into both
 * schedulers (run_main and rt_run_ready): as a call of its own it costs a
 * fifth more per AVM instruction. */
static inline __attribute__((always_inline)) bool step(Runtime *rt, Program *p) {
  Fiber *f = p->fiber;
  int64_t slice = rt->vm->slice;
  VMStatus st;
  f->budget = slice;  /* what is left of it afterwards is what was not used */
  if (p->has_response) {
    p->has_response = false;
    st = vm_resume(f, p->response);
  } else {
    /* A fiber in error here was given one by another machine's answer
     * (rt_resume_failed). */
    st = f->status == VM_ERROR ? VM_ERROR : vm_run(f);
  }
  if (slice > 0 && !charge(rt, p, slice - (f->budget > 0 ? f->budget : 0))) {
    fail(rt, p);
    return true;
  }
  switch (st) {
    case VM_TAU:
      return false;
    case VM_RET:
      if (rt_in_call(p)) {
        return_from_call(rt, p, f->result);
      } else {
        p->result = f->result;
        finish_program(rt, p, PS_DONE);
      }
      return true;
    case VM_ERROR:
      fail(rt, p);
      return true;
    case VM_HANDLED:
      return true;
    case VM_VIS: {
      Value out = v_unspec();
      switch (handle_vis(rt, p, &out)) {
        case H_DONE: respond(p, out); return true;
        case H_SWITCHED: return true;
        case H_ERROR: fail(rt, p); return true;
      }
    }
  }
  return true;
}

/* VM.avm_in_loop: the AVM instruction program rt->current's fiber stopped
 * at, handled without the run stopping, when that changes nothing: it is
 * the only program (programs take turns at AVM instructions), and no
 * interrupt waits. */
static AvmInLoop avm_in_loop(void *ctx, Fiber *f) {
  Runtime *rt = ctx;
  Program *p = rt->current;
  if (!p || p->fiber != f || p->next != p || rt_interrupted(rt)) return AVM_STOP;
  Value out = v_unspec();
  HResult r = handle_vis(rt, p, &out);
  bool alone = p->next == p;  /* (spawn) has made another: its turn comes first */
  switch (r) {
    case H_DONE:
      if (!alone) {
        respond(p, out);
        return AVM_HANDLED;
      }
      fiber_answer(f, &out);  /* a handler that answers leaves the fiber's frames be */
      return AVM_ANSWERED;
    case H_SWITCHED:
      return alone && p->status == PS_RUNNABLE && f->status == VM_TAU && !p->has_response ? AVM_GO_ON : AVM_HANDLED;
    case H_ERROR: break;
  }
  fail(rt, p);
  return AVM_HANDLED;
}

/* VM.ret_in_loop: the end of an object call's behavior, handled as
 * step() would, the caller going on at once under the same conditions. */
static AvmInLoop ret_in_loop(void *ctx, Fiber *f) {
  Runtime *rt = ctx;
  Program *p = rt->current;
  if (!p || p->fiber != f || p->next != p || !rt_in_call(p) || rt_interrupted(rt)) return AVM_STOP;
  return_from_call(rt, p, f->result);
  /* A caller suspended in a tail call returns in turn: vm_resume knows how. */
  if (p->status != PS_RUNNABLE || !p->has_response || f->vis_returns) return AVM_HANDLED;
  p->has_response = false;
  fiber_answer(f, &p->response);
  return AVM_GO_ON;
}

static Program *next_runnable(Runtime *rt, Program *after) {
  Program *p = after->next;
  for (;;) {
    if (p->status == PS_RUNNABLE) return p;
    if (p == after) return NULL;
    p = p->next;
  }
}

/* Ends every program but [except] that has not finished (a failed session
 * input takes them all down, as the end of avm run does). */
static void stop_others(Runtime *rt, Program *except) {
  Program *q = rt->programs;
  do {
    if (q != except && (q->status == PS_RUNNABLE || q->status == PS_BLOCKED)) {
      VMError err = { .msg = "stopped", .irritants = v_nil() };
      end_failed(rt, q, err);
    }
    q = q->next;
  } while (q != rt->programs);
}

/* Runs the programs round robin until [main] ends.  Programs switch after
 * every AVM instruction; a Tau (the end of a time slice) switches too
 * when slices meter gas, but not when they only give the interrupt flag
 * a chance to be seen, so the schedule is the same as without slices. */
static void run_main(Runtime *rt, Program *main) {
  own_vm(rt);
  rt->current = main;
  if (rt->gas_limit >= 0 && rt->vm->slice <= 0) rt->vm->slice = 1000;
  bool again = false;
  while (main->status == PS_RUNNABLE || main->status == PS_BLOCKED) {
    Program *p = again ? rt->current : next_runnable(rt, rt->current);
    if (!p) {
      rt_error(main, AE_DEADLOCK, "every program is waiting in join");
      fail_program(rt, main);
      break;
    }
    rt->current = p;
    again = !step(rt, p) && rt->gas_limit < 0 && p->status == PS_RUNNABLE;
    if (rt_interrupted(rt)) {
      Fiber *f = p->fiber;
      VMError err = { .msg = "interrupted", .irritants = v_nil(),
                      .loc = f->nframes ? fiber_loc(f, f->nframes - 1) : (Loc){ 0 } };
      if (main->status == PS_RUNNABLE || main->status == PS_BLOCKED) end_failed(rt, main, err);
      break;
    }
    if (rt->out_of_gas || rt->vm->exit_requested) {
      if (p != main) end_failed(rt, main, p->error);
      break;
    }
  }
}

Program *rt_run_main(Runtime *rt, Value fn) {
  Program *main = new_program(rt, fn, NULL, 0, rt->machine);
  run_main(rt, main);
  return main;
}

/* Takes finished program [p] out of the scheduler's ring; returns the
 * program that came before it (NULL: the ring is empty now). */
static Program *unlink_program(Runtime *rt, Program *p) {
  Program *q = rt->programs;
  if (!q) return NULL;
  while (q->next != p) {
    q = q->next;
    if (q == rt->programs) return q;  /* not in the ring */
  }
  if (q == p) {
    rt->programs = NULL;  /* it was alone */
    q = NULL;
  } else {
    q->next = p->next;
    if (rt->programs == p) rt->programs = q;
  }
  if (rt->current == p) rt->current = q;
  p->next = p;
  return q;
}

/* The next one goes after it: started programs run first come, first
 * served. */
static Program *enqueue(Runtime *rt, Program *p) {
  rt->programs = p;
  if (!rt->current) rt->current = p;
  return p;
}

Program *rt_start(Runtime *rt, Value fn, const Value *args, int argc) {
  return enqueue(rt, new_program(rt, fn, args, argc, rt->machine));
}

Program *rt_adopt(Runtime *rt, Fiber *f, Symbol *controller, Value response) {
  Program *p = enqueue(rt, program_of(rt, f, controller ? controller : rt->machine));
  p->has_response = true;
  p->response = response;
  return p;
}

void rt_end_elsewhere(Runtime *rt, Program *p, bool ok, Value result, const char *error) {
  p->waiting_request = 0;
  if (ok) {
    p->result = result;
    finish_program(rt, p, PS_DONE);
  } else {
    end_failed(rt, p, (VMError){ .msg = error, .irritants = v_nil() });
  }
  /* The scheduler only passes runnable programs: a detached one that
   * ends here would stay in the ring for good. */
  if (p->detached) unlink_program(rt, p);
}

bool rt_run_ready(Runtime *rt, int64_t steps) {
  own_vm(rt);
  Program *after = rt->current ? rt->current : rt->programs;
  while (after && steps-- > 0 && !rt->vm->exit_requested) {
    Program *p = after->status == PS_RUNNABLE ? after : next_runnable(rt, after);
    if (!p) return false;
    rt->current = p;
    step(rt, p);
    after = p;
    if (p->detached && p->status != PS_RUNNABLE && p->status != PS_BLOCKED) {
      after = unlink_program(rt, p);
      keep_spare(rt, p);
    }
  }
  return after && !rt->vm->exit_requested && next_runnable(rt, after);
}

Program *rt_run_session(Runtime *rt, Program *prev, Value fn) {
  /* Nobody holds a handle to a session's program: once it has ended it
   * can leave the ring. */
  if (prev && prev->status != PS_RUNNABLE && prev->status != PS_BLOCKED) unlink_program(rt, prev);
  Program *main = new_program(rt, fn, NULL, 0, rt->machine);
  main->session = true;
  if (prev) {
    *main->act = *prev->act;  /* the root's machine and controller */
    main->pure_view = prev->pure_view;
    main->tx = prev->tx;
    main->spare_tx = prev->spare_tx;
    main->root = prev->root;
    prev->tx = NULL;
  }
  if (main->status == PS_FAILED) return main;
  run_main(rt, main);
  if (main->status == PS_FAILED) stop_others(rt, main);
  return main;
}
