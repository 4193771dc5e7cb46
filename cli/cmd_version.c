// cmd_version.c: `reasoner version`: the version and what this build has.
#include <stdio.h>

#include "common/args.h"

#define REASONER_VERSION "0.1.0"

int cmd_version(int argc, char **argv) {
    ArgCmd cmd = {.name = "reasoner version", .summary = "Print the version and the build configuration."};
    int rc = args_parse(&cmd, argc, argv);
    if (rc) return ARGS_EXIT_CODE(rc);
    printf("reasoner %s\n", REASONER_VERSION);
#ifdef RS_CUDA
    printf("cuda: yes\n");
#else
    printf("cuda: no\n");
#endif
#ifdef _OPENMP
    printf("openmp: yes\n");
#else
    printf("openmp: no\n");
#endif
    return 0;
}
