// expect: denied
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
int main(void) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) puts("ESCAPED");
    return 1;
}
