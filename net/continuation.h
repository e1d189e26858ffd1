/* net/continuation.h — a program's continuation as teleport carries it
 * between nodes, and the code it needs: the Codebase, every module a node
 * holds, known by the hash of its bytecode.
 *
 * A program moves at a teleport at its own level (never inside an object
 * call: runtime/machine.c refuses that), outside any transaction.  What
 * travels (JSON, the "continuation" of a teleport message):
 *   {"modules": [{"hash": "16 hex digits", "bytecode": base64 | null}, ...],
 *    "globals": [["name", value], ...],  the globals its code reads
 *    "frames":  [[closure, pc, base], ...],
 *    "stack":   [value, ...],            the registers of every frame
 *    "dest": n, "returns": bool,         where teleport's answer goes
 *    "controller": "name", "state": value | null}   its root
 * Values are the tagged JSON of the wire, with procedures as
 * {"Closure": {"module": hash, "proto": n, "up": [...]}} and
 * {"Prim": "name"}.  A module's bytecode travels along unless every node
 * has it (the prelude: "bytecode" null); the receiver verifies it, checks
 * its hash, links it and registers its behaviors, once: a module that
 * comes again (the program comes back) is the same module.  Globals are
 * the sender's values of the names the modules read (prelude procedures
 * and primitives excepted, which every node has): they are set on the
 * receiver, so a program finds there what it defined before it left.
 *
 * When the program ends, its outcome travels back the same way:
 *   {"modules": [...], "value": value}  or  {"error": "text"}. */
#ifndef AVM_CONTINUATION_H
#define AVM_CONTINUATION_H
#include "runtime/runtime.h"
#include "util/idmap.h"

typedef struct Codebase {
  Runtime *rt;
  bool allow_unsafe;      /* take bytecode marked unsafe */
  IdMap by_hash;          /* hash -> CodeEntry */
  IdMap by_module;        /* Module address -> CodeEntry */
} Codebase;

void codebase_init(Codebase *cb, Runtime *rt, bool allow_unsafe);
/* Registers [m] (linked, its behaviors registered) as held here. */
void codebase_add(Codebase *cb, Module *m);

/* Appends the continuation of [p], suspended at a teleport. */
void cont_capture(Codebase *cb, Program *p, Buf *out);
/* Makes the program that [json] continues, runnable, teleport's answer
 * (#t) waiting for it; NULL with a message in [err] if it cannot be taken
 * (code not held, bytecode that fails verification, frames that do not
 * fit their code...). */
Program *cont_resume(Codebase *cb, const String *json, char *err, size_t errlen);

/* Appends the outcome of [p], which has ended. */
void cont_outcome(Codebase *cb, Program *p, Buf *out);
/* Reads an outcome: *ok with its value, or not with its error text; false
 * with a message in [err] if it cannot be read. */
bool cont_read_outcome(Codebase *cb, const String *json, bool *ok, Value *value, const char **error, char *err,
                       size_t errlen);

#endif
