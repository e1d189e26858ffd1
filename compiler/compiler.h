/* compiler/compiler.h — from the core language to a Module of tapes, and
 * the .avmb writer and disassembler. */
#ifndef AVM_COMPILER_H
#define AVM_COMPILER_H
#include <stdio.h>
#include "lang/core.h"
#include "vm/vm.h"

typedef struct CompOptions {
  bool allow_unsafe;   /* unsafe instructions compile and mark the module */
  int first_line;      /* line number of the text's first line (0: 1) */
  /* Procedures may use globals nobody has defined yet (a warning, not an
   * error): the REPL, where a later input can define them. */
  bool open_globals;
} CompOptions;

/* Compiles a desugared program.  Names are resolved against the module's
 * own definitions and the globals [vm] already has (primitives, AVM
 * instructions, the prelude).  Returns NULL after reporting errors. */
Module *comp_module(Diag *d, VM *vm, const CoreProgram *prog, const char *file, const CompOptions *opt);

/* Reads, desugars and compiles [text]; the one path every tool uses. */
Module *comp_source(Diag *d, VM *vm, const char *file, const char *text, size_t len, const CompOptions *opt);
/* Desugars and compiles data already read: the REPL reads an input once
 * and compiles each of its top-level forms as a module of its own. */
Module *comp_syntax(Diag *d, VM *vm, const char *file, const SyntaxList *sl, const CompOptions *opt);

/* compiler/writer.c: the .avmb image of a module, in a malloc'd buffer,
 * linked or not (its code names globals by the module's own indices).
 * The same module always gives the same bytes. */
unsigned char *avmb_write(const Module *m, size_t *len);

/* compiler/disasm.c */
void disasm_module(FILE *out, const Module *m, bool verbose);

#endif
