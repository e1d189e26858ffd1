/* vm/vm.h — the register machine's data: prototypes, closures, modules,
 * the global table, fibers (suspendable machines) and the run/resume API. */
#ifndef AVM_VM_H
#define AVM_VM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/diag.h"
#include "vm/opcode.h"
#include "vm/stackmem.h"
#include "vm/value.h"

typedef struct Module Module;

/* Where a closure's upvalue comes from when CLOSURE runs: a register of the
 * enclosing frame (from_reg) or one of the enclosing closure's upvalues. */
typedef struct UpvalDesc {
  uint8_t from_reg;
  uint16_t index;
} UpvalDesc;

/* The source span an instruction was compiled from (Loc without the file:
 * that is the module's).  All zero for code with no source position. */
typedef struct LineInfo { int32_t line, col, end_line, end_col; } LineInfo;

typedef struct Proto {
  Instr *code;
  uint32_t ncode;
  Value *k;
  uint32_t nk;
  struct Proto **protos;
  uint32_t nprotos;
  UpvalDesc *up;
  uint16_t nup;
  uint16_t nparams;     /* fixed parameters */
  bool rest;            /* a rest list follows the fixed parameters */
  uint16_t nregs;
  Symbol *name;         /* NULL for an anonymous procedure */
  LineInfo *lines;      /* one per instruction */
  Module *module;
} Proto;

struct Closure {
  Proto *p;
  uint32_t nup;
  Value up[];
};

/* A top-level declaration: (behavior NAME (MSG) ...) or (pure NAME ...). */
typedef enum DeclKind { DECL_BEHAVIOR, DECL_PURE } DeclKind;
typedef struct Decl {
  DeclKind kind;
  Symbol *name;
  uint32_t proto;      /* index into Module.protos */
} Decl;

enum { MODULE_UNSAFE = 1 };

/* A compilation unit: the flat list of prototypes (0 is the top-level
 * program), the globals it names, its declarations. */
struct Module {
  const char *file;    /* source file name */
  uint32_t flags;
  Proto **protos;
  uint32_t nprotos;
  Symbol **globals;    /* module global index -> name */
  uint8_t *gflags;     /* module global index -> GF_* */
  uint32_t nglobals;
  Decl *decls;
  uint32_t ndecls;
  bool linked;
  size_t *slots;       /* once linked: module global index -> VM global slot,
                          which the code's global instructions now name */
};

/* The process-wide global environment: a slot per global name. */
typedef struct Globals {
  Symbol **names;
  Value *values;
  uint8_t *flags;      /* GF_* */
  size_t count, cap;
  uint32_t *index;     /* open-addressing hash of names -> slot+1 */
  size_t index_cap;
} Globals;

/* Global flags: defined by a module (not only referenced), and whether
 * its procedure uses AVM instructions (pure bodies may not call it). */
enum { GF_DEFINED = 1, GF_IMPURE = 2 };

/* VM_HANDLED: the run stopped at an AVM instruction that the runtime's
 * in-loop handler (VM.avm_in_loop) has dealt with already. */
typedef enum VMStatus { VM_RET, VM_VIS, VM_TAU, VM_ERROR, VM_HANDLED } VMStatus;

/* What VM.avm_in_loop (or ret_in_loop) did where the fiber stopped. */
typedef enum AvmInLoop {
  AVM_STOP,      /* nothing: the run stops there as usual */
  AVM_ANSWERED,  /* answered in place: the frame and its registers are as they
                    were, the answer in its register */
  AVM_GO_ON,     /* handled, the fiber ready to run on with whatever frame is on top */
  AVM_HANDLED    /* handled, and the run stops (VM_HANDLED) */
} AvmInLoop;

typedef struct Frame {
  Closure *cl;
  const Instr *pc;     /* saved pc (next instruction) when not running */
  size_t base;         /* index of R[0] in the stack; the callee slot is base-1 */
} Frame;

/* One frame of a runtime error's backtrace (vm/report.c). */
typedef enum BtKind { BT_PROC, BT_PROGRAM, BT_BEHAVIOR } BtKind;
typedef struct BtFrame {
  Loc loc;             /* what the frame evaluates: the failing expression, or
                          the call it waits on */
  Symbol *name;        /* procedure or behavior name; NULL: anonymous */
  BtKind kind;
  uint64_t object;     /* BT_BEHAVIOR: the called object's id */
  size_t index;        /* the frame's index in its fiber */
} BtFrame;

/* How many innermost and outermost frames a backtrace keeps. */
#define BT_KEEP 10

/* A runtime error: message, irritants, and where it happened. */
typedef struct VMError {
  const char *msg;
  Value irritants;     /* list */
  Loc loc;             /* the failing expression (file NULL: unknown) */
  const char *hint;    /* a "did you mean" note, or NULL */
  BtFrame *bt;         /* innermost first; only for reported errors */
  uint32_t nbt;
  size_t omitted;      /* frames left out between bt[BT_KEEP-1] and bt[BT_KEEP] */
} VMError;

typedef struct VM VM;

/* A fiber is one suspended or running register machine: its value stack,
 * frames and pending suspension.  Copying a suspended fiber copies the
 * continuation (values are immutable, so a shallow copy of the stack is a
 * full copy). */
typedef struct Fiber {
  VM *vm;
  Value *stack;
  size_t stack_cap;
  StackMem stack_mem, frames_mem;
  Frame *frames;
  size_t nframes, frames_cap;
  size_t frame_limit;
  size_t floor;        /* frames below this index belong to suspended callers of
                          the current object call: returning to it ends the run */  /* min(frames_cap, vm->max_depth): one compare per call */
  VMStatus status;
  /* Pending Vis node when status == VM_VIS. */
  int vis_instr;       /* InstrId */
  Value *vis_args;     /* on the stack: valid until the fiber runs again */
  int vis_argc;
  size_t vis_dest;     /* absolute stack index of the response register */
  bool vis_returns;    /* resume returns the response (suspended in a tail call) */
  Value result;        /* VM_RET */
  VMError error;       /* VM_ERROR */
  int64_t budget;      /* calls and backward jumps before a Tau (if >= 0 limit) */
  bool budgeted;
  uint64_t executed;   /* instructions the metered loop ran; vm_run moves them to vm->executed */
} Fiber;

struct VM {
  Globals globals;
  size_t max_depth;    /* frame limit: beyond it, "stack overflow" */
  Value command_line;  /* list of strings */
  FILE *out;           /* display/write/newline */
  int64_t slice;       /* budget per run when > 0 (Tau steps) */
  int exit_requested;  /* (exit n): n+1, else 0 */
  uint64_t executed;   /* VM instructions run in the metered loop (vm->slice > 0) so far */
  Module *prelude;     /* the prelude's code: the same in every VM of this build */
  /* Set by the runtime: handles an AVM instruction without the run
   * stopping, when it can (only the plain loop asks).  The fiber is
   * suspended at the instruction when it is called. */
  AvmInLoop (*avm_in_loop)(void *ctx, Fiber *f);
  /* The same for a return to the floor frame (the end of an object
   * call's behavior). */
  AvmInLoop (*ret_in_loop)(void *ctx, Fiber *f);
  void *avm_ctx;
};

#define AVM_DEFAULT_MAX_DEPTH 2000000

/* Address space reserved for a fiber's value stack and frame array once
 * they outgrow the GC heap: far more than any run touches. */
#define AVM_STACK_RESERVE ((size_t)64 << 30)
#define AVM_FRAMES_RESERVE ((size_t)8 << 30)

/* {===== vm/heapmem.c =====} */
/* Starts the collector with avm's settings, its heap sections filled in
 * by the kernel as they are mapped.  Programs call it first thing in main. */
void heap_init(void);

/* {===== vm/vm.c =====} */
VM *vm_new(void);
size_t vm_global_slot(VM *vm, Symbol *name);   /* finds or creates */
bool vm_global_lookup(VM *vm, Symbol *name, size_t *slot);
void vm_define_global(VM *vm, Symbol *name, Value v);
/* Rewrites a module's global operands to VM slots; idempotent. */
void vm_link(VM *vm, Module *m);
/* A fresh fiber that will run closure [fn] with no arguments. */
Fiber *fiber_new(VM *vm, Value fn, const Value *args, int argc);
/* Ended fiber [f] made to run [fn] as fiber_new would, on the memory it
 * has; only when fiber_renewable says its memory is worth keeping. */
Fiber *fiber_renew(Fiber *f, Value fn, const Value *args, int argc);
bool fiber_renewable(const Fiber *f);
Fiber *fiber_copy(const Fiber *f);
/* A fiber suspended at an AVM instruction, rebuilt from its parts (a
 * continuation that came from another machine): [frames] over [stack],
 * the response to go to stack[dest] (returned at once when [returns]).
 * Everything is checked against the code, so a hostile sender cannot make
 * the VM read or write outside the stack; NULL with a message if it does
 * not fit. */
Fiber *fiber_restore(VM *vm, const Frame *frames, size_t nframes, const Value *stack, size_t nstack, size_t dest,
                     bool returns, char *err, size_t errlen);
/* The frame count past which a call must check for room or overflow. */
static inline void fiber_update_frame_limit(Fiber *f) {
  f->frame_limit = f->frames_cap < f->vm->max_depth ? f->frames_cap : f->vm->max_depth;
}
/* Runs until Ret, Vis, Tau or an error. */
VMStatus vm_run(Fiber *f);
/* Starts a call of [fn] on top of a suspended fiber's frames, as a new
 * floor: the run returns VM_RET when that call returns.  False (with the
 * error in f->error) if it cannot start. */
bool fiber_enter(Fiber *f, Value fn, const Value *args, int argc);
/* Resumes a fiber suspended at a Vis node with the instruction's response. */
VMStatus vm_resume(Fiber *f, Value response);
/* Puts the response to the instruction fiber [f] is suspended at in its
 * register, ready to run on (not for a suspension in a tail call, which
 * returns the response: vm_resume does that). */
static inline void fiber_answer(Fiber *f, const Value *response) {
  v_copy(&f->stack[f->vis_dest], response);
  f->status = VM_TAU;
}
/* {===== vm/report.c =====} */
/* Source span of the expression frame [frame] of [f] is evaluating. */
Loc fiber_loc(const Fiber *f, size_t frame);
/* Records in f->error where [f] failed: the location, if not known yet,
 * and the backtrace (at most 2 * BT_KEEP frames).  Only for errors that
 * will be reported: it walks the frames, the dispatch loop never does. */
void vm_locate_error(Fiber *f);
/* Prints [e] through [d] (whose sources give the quoted line), in the
 * format described in vm/report.c. */
void vm_report_error(Diag *d, const VMError *e);
/* MESSAGE IRRITANT ... as the report shows it (irritants in write form). */
void vm_error_text(Buf *b, const VMError *e);
Value proto_main_closure(Module *m);
Closure *closure_new(Proto *p, uint32_t nup);

/* Errors raised from primitives: sets f->error and returns false. */
bool vm_raise(Fiber *f, Value irritants, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
bool vm_type_error(Fiber *f, const char *who, const char *expected, Value got);

/* {===== vm/prims.c =====} */
typedef bool (*PrimFn)(Fiber *f, Value *args, int argc, Value *out);
extern const PrimFn prim_fns[PRIM__COUNT];
/* The argument checks (%check-list WHO x, ...): the primitive, the test
 * and what its error says was expected.  The primitives and the CHECK
 * opcode both expand this one list (prims.def gives them fast op CHECK). */
#define ARG_CHECKS(X) \
  X(check_list, v_is_list, "list") \
  X(check_proc, v_is_proc, "procedure")
/* Whether [v] passes argument check [prim]. */
static inline bool prim_check_passes(int prim, Value v) {
  switch (prim) {
#define X(id, test, expected) case PR_##id: return test(v);
    ARG_CHECKS(X)
#undef X
    default: return false;
  }
}
void prims_install(VM *vm);
/* Name of a procedure value, for messages. */
const char *proc_name(Value v);

#endif
