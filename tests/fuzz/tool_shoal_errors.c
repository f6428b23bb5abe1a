/* shoal-errors compiled into fuzz_counters_errors, its main renamed so the
 * fuzz target can run it on a hostile CnC file like the real tool. */
#define main shoal_errors_main
int shoal_errors_main(int argc, char **argv);
#include "../../core/tools/shoal_errors.c"
