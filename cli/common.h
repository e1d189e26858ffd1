/* cli/common.h — what avm and avmc share: reading inputs, loading a
 * program from source or bytecode, version text. */
#ifndef AVM_CLI_COMMON_H
#define AVM_CLI_COMMON_H
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include "cli/exitcodes.h"
#include "compiler/compiler.h"

/* Reads a whole file ("-" is stdin) into a NUL-terminated malloc'd
 * buffer; NULL with errno set on failure. */
char *cli_read_file(const char *path, size_t *len);
/* [s] as a decimal number from [lo] to [hi]; false if it is not one. */
bool cli_number(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* A VM with the prelude loaded. */
VM *cli_new_vm(void);

/* Loads [path] as bytecode (by its magic number) or compiles it as source.
 * On failure prints diagnostics and sets *status to the exit status.  A
 * source text stays registered with [d], for the runtime errors it may
 * report later. */
Module *cli_load_program(Diag *d, VM *vm, const char *path, bool allow_unsafe, bool for_run, int *status);

void cli_print_version(const char *prog);
/* Prints "PROG: MESSAGE\nTry 'PROG --help'.\n" and returns EX_AVM_USAGE. */
int cli_usage_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For getopt_long's '?' or ':' (opterr = 0, optstring starting with ':'
 * after any '+'): says which option of [argv] was wrong, through
 * cli_usage_error, and returns EX_AVM_USAGE.  [longopts]' vals that have no
 * short option should be above 255. */
int cli_option_error(const char *prog, int c, char *const argv[], const struct option *longopts);

/* Prints "PROG: error: MESSAGE" on stderr. */
void cli_error(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
