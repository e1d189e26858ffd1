/* stdlib/prelude.h — the prelude compiled into the binaries. */
#ifndef AVM_PRELUDE_H
#define AVM_PRELUDE_H
#include "vm/vm.h"

/* Compiles and runs the prelude in [vm], defining its globals.  The
 * prelude is part of the binary, so a failure here is a build bug: it is
 * reported on stderr and the process aborts. */
void prelude_load(VM *vm);
/* Registers the prelude's text with [d] under the name its code is located
 * by ("<prelude>"), so a runtime error inside it quotes the line. */
void prelude_add_source(Diag *d);

#endif
