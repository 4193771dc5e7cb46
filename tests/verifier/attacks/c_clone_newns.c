// expect: denied
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    long pid = syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) puts("ESCAPED");
    return 1;
}
