/* cli/exitcodes.h — the exit statuses of avm and avmc, named once.  The
 * language note fixes 0, 1, 2 and 64; the rest follow sysexits.h. */
#ifndef AVM_EXITCODES_H
#define AVM_EXITCODES_H

#define EXIT_CODES(X)                                         \
  X(OK, 0, "success")                                         \
  X(RUNTIME, 1, "runtime error")                              \
  X(COMPILE, 2, "compile error or invalid bytecode")          \
  X(USAGE, 64, "command line usage error")                    \
  X(NOINPUT, 66, "input file missing or unreadable")          \
  X(IOERR, 74, "input/output error")

enum {
#define X(name, code, doc) EX_AVM_##name = code,
  EXIT_CODES(X)
#undef X
};

#endif
