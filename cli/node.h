/* cli/node.h — avm node's command line (cli/node.c). */
#ifndef AVM_CLI_NODE_H
#define AVM_CLI_NODE_H
#include <stdio.h>

/* Runs avm node with [argv] (argv[0] is "node"); [usage] prints avm's
 * help.  Returns the exit status. */
int cmd_node(int argc, char **argv, void (*usage)(FILE *out));

#endif
