/* top: salvectl's live view of the probe sites. */
#ifndef SALVE_CLI_TOP_H
#define SALVE_CLI_TOP_H

#define TOP_USAGE "top [-d SECONDS] [-n COUNT] [--json] [--socket PATH]"

/* salvectl top ARGS (argv[0] is "top"): 0, 1 when salved cannot be asked, 2 on misuse. */
int salvectl_top(int argc, char **argv);

#endif
