// expect: denied
// Dangerous prctl options: become dumpable (and so ptrace-able and
// /proc-readable by our uid), then a subreaper.
#include <stdio.h>
#include <sys/prctl.h>
int main(void) {
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    puts("ESCAPED");
    return 0;
}
