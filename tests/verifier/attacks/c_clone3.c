// expect: runtime_error
// clone3 hides its flags in memory: it is refused with ENOSYS.
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    struct clone_args a;
    memset(&a, 0, sizeof a);
    a.flags = CLONE_NEWUSER | CLONE_NEWNS;
    a.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &a, sizeof a);
    if (pid == 0) _exit(0);
    if (pid > 0) puts("ESCAPED");
    return 1;
}
