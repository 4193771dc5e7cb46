// expect: wrong
// Signal the processes outside the job: pid 1 (in a pid namespace, the
// supervisor, which ignores signals from inside) and every pid up to 4096
// but our own. The job must still end normally and the host be untouched.
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    int hit = 0;
    for (int pid = 1; pid < 4096; pid++) {
        if (pid == getpid()) continue;
        hit += kill(pid, SIGKILL) == 0;
        hit += syscall(SYS_tgkill, pid, pid, SIGKILL) == 0;
        hit += syscall(SYS_tkill, pid, SIGKILL) == 0;
    }
    printf("%s\n", hit ? "signalled something" : "nothing to signal");
    return 0;
}
