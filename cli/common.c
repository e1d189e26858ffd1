/* cli/common.c — input files, program loading (source or verified
 * bytecode), and the shared bits of the command-line interface. */
#include <errno.h>
#include <gc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "config.h"
#include "stdlib/prelude.h"
#include "vm/avmb.h"
#include "vm/loader.h"

char *cli_read_file(const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  for (;;) {
    if (n + 1 >= cap) {
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) abort();
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  if (f != stdin) fclose(f);
  if (failed) {
    free(buf);
    errno = EIO;
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

VM *cli_new_vm(void) {
  VM *vm = vm_new();
  prelude_load(vm);
  return vm;
}

static Module *load_bytecode(const char *path, const char *data, size_t len, bool allow_unsafe, bool for_run,
                             int *status) {
  char err[512];
  Module *m = avmb_load((const unsigned char *)data, len, err, sizeof err);
  if (m && !vm_verify(m, err, sizeof err)) m = NULL;
  if (!m) {
    fprintf(stderr, "%s: error: %s\n", path, err);
    *status = EX_AVM_COMPILE;
    return NULL;
  }
  if (for_run && (m->flags & MODULE_UNSAFE) && !allow_unsafe) {
    fprintf(stderr, "%s: error: this bytecode uses unsafe instructions; run it with --allow-unsafe\n", path);
    *status = EX_AVM_COMPILE;
    return NULL;
  }
  return m;
}

Module *cli_load_program(Diag *d, VM *vm, const char *path, bool allow_unsafe, bool for_run, int *status) {
  size_t len;
  char *data = cli_read_file(path, &len);
  if (!data) {
    fprintf(stderr, "%s: error: cannot read file: %s\n", path, strerror(errno));
    *status = EX_AVM_NOINPUT;
    return NULL;
  }
  /* Bytecode by its magic number, or by its name: a damaged .avmb file is
   * reported as bytecode, not compiled as source. */
  size_t plen = strlen(path);
  bool named_avmb = plen > 5 && strcmp(path + plen - 5, ".avmb") == 0;
  if (named_avmb || (len >= AVMB_MAGIC_LEN && memcmp(data, AVMB_MAGIC, AVMB_MAGIC_LEN) == 0)) {
    Module *m = load_bytecode(path, data, len, allow_unsafe, for_run, status);
    free(data);
    return m;
  }
  /* The source text stays alive for diagnostics and line quoting. */
  const char *name = diag_add_source(d, strcmp(path, "-") == 0 ? "<stdin>" : path, data, len);
  CompOptions opt = { .allow_unsafe = allow_unsafe };
  Module *m = comp_source(d, vm, name, data, len, &opt);
  if (!m) *status = EX_AVM_COMPILE;
  return m;
}

void cli_print_version(const char *prog) {
  printf("%s (AVM) %s\n", prog, PACKAGE_VERSION);
  printf("The Anoma Virtual Machine toolchain: bytecode format %d.%d.\n", AVMB_VERSION_MAJOR, AVMB_VERSION_MINOR);
}

int cli_usage_error(const char *prog, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry '%s --help'.\n", prog);
  va_end(ap);
  return EX_AVM_USAGE;
}

int cli_option_error(const char *prog, int c, char *const argv[], const struct option *longopts) {
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  /* A long option: its name is what stands before any '='. */
  bool is_long = strncmp(arg, "--", 2) == 0 && (optopt == 0 || optopt > 255 || c == ':' || strchr(arg, '='));
  if (!is_long) return cli_usage_error(prog, c == ':' ? "option '-%c' requires an argument" : "unrecognized option '-%c'", optopt);
  int len = (int)strcspn(arg, "=");
  if (c == ':') return cli_usage_error(prog, "option '%.*s' requires an argument", len, arg);
  if (optopt != 0) return cli_usage_error(prog, "option '%.*s' takes no argument", len, arg);
  int matches = 0;
  for (const struct option *o = longopts; o->name; o++)
    if (strncmp(o->name, arg + 2, (size_t)len - 2) == 0) matches++;
  if (matches > 1) return cli_usage_error(prog, "option '%.*s' is ambiguous", len, arg);
  return cli_usage_error(prog, "unrecognized option '%.*s'", len, arg);
}

void cli_error(const char *prog, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: error: ", prog);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

bool cli_number(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno || v < lo || v > hi) return false;
  *out = (int64_t)v;
  return true;
}
