/* cli/avmc.c — the compiler driver: avmc build, avmc disasm. */
#include <errno.h>
#include <getopt.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"

static const char *prog = "avmc";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: avmc build [--allow-unsafe] FILE.avm [-o FILE.avmb]\n"
          "       avmc disasm [--verbose] FILE.avmb|FILE.avm\n"
          "\n"
          "Commands:\n"
          "  build    compile a program to bytecode (default output: FILE.avmb;\n"
          "           input - is standard input, and needs -o)\n"
          "  disasm   list the tape of a bytecode file (or of a source file)\n"
          "\n"
          "Options:\n"
          "  -o, --output FILE   where build writes the bytecode (-: standard output)\n"
          "      --allow-unsafe  allow unsafe AVM instructions (marks the bytecode)\n"
          "  -v, --verbose       disasm: also list constants, upvalues and globals\n"
          "  -h, --help          show this help\n"
          "  -V, --version       show the version\n"
          "\n"
          "Exit status: 0 success, 2 compile errors, 64 usage error, 66 unreadable input,\n"
          "74 output error.\n");
}

static char *default_output(const char *in) {
  size_t n = strlen(in);
  char *out = malloc(n + 3);
  if (!out) abort();
  strcpy(out, in);
  if (n > 4 && strcmp(in + n - 4, ".avm") == 0) strcat(out, "b");
  else strcat(out, ".avmb");
  return out;
}

static int write_file(const char *path, const unsigned char *data, size_t len) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
  if (!f) {
    cli_error(prog, "cannot write %s: %s", path, strerror(errno));
    return EX_AVM_IOERR;
  }
  size_t put = fwrite(data, 1, len, f);
  int bad = (f == stdout ? fflush(f) : fclose(f)) != 0 || put != len;
  if (bad) {
    cli_error(prog, "cannot write %s", path);
    return EX_AVM_IOERR;
  }
  return EX_AVM_OK;
}

int main(int argc, char **argv) {
  heap_init();
  static const struct option longopts[] = {
    { "output", required_argument, NULL, 'o' },
    { "allow-unsafe", no_argument, NULL, 256 },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return EX_AVM_OK;
  }
  if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
    cli_print_version(prog);
    return EX_AVM_OK;
  }
  if (argc < 2) return cli_usage_error(prog, "missing command (build or disasm)");
  const char *cmd = argv[1];
  bool build = strcmp(cmd, "build") == 0, disasm = strcmp(cmd, "disasm") == 0;
  if (!build && !disasm) return cli_usage_error(prog, "unknown command '%s' (expected build or disasm)", cmd);
  const char *output = NULL;
  bool allow_unsafe = false, verbose = false;
  optind = 2;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":o:vhV", longopts, NULL)) != -1) {
    switch (c) {
      case 'o': output = optarg; break;
      case 256: allow_unsafe = true; break;
      case 'v': verbose = true; break;
      case 'h': usage(stdout); return EX_AVM_OK;
      case 'V': cli_print_version(prog); return EX_AVM_OK;
      default: return cli_option_error(prog, c, argv, longopts);
    }
  }
  if (optind >= argc) return cli_usage_error(prog, "%s: missing input file", cmd);
  if (optind + 1 < argc) return cli_usage_error(prog, "%s: unexpected argument '%s'", cmd, argv[optind + 1]);
  const char *input = argv[optind];
  /* Bytecode from standard input has no name to derive the output's from. */
  if (build && strcmp(input, "-") == 0 && !output)
    return cli_usage_error(prog, "build: input from standard input (-) needs -o FILE (-o - writes to standard output)");
  VM *vm = cli_new_vm();
  int status = EX_AVM_OK;
  Diag d;
  diag_init(&d, stderr);
  Module *m = cli_load_program(&d, vm, input, build ? allow_unsafe : true, false, &status);
  if (!m) return status;
  if (disasm) {
    disasm_module(stdout, m, verbose);
    return EX_AVM_OK;
  }
  size_t len;
  unsigned char *bytes = avmb_write(m, &len);
  char *out = output ? (char *)output : default_output(input);
  status = write_file(out, bytes, len);
  free(bytes);
  return status;
}
