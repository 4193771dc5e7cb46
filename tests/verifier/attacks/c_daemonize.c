// expect: wrong (allows fork)
// Double fork, try to leave the session, outlive the job. The test checks
// that no process of this run is alive afterwards.
#include <stdio.h>
#include <unistd.h>
int main(void) {
    if (fork() == 0) {
        setsid();
        if (fork() == 0) {
            close(0), close(1), close(2);
            sleep(1000);
        }
        _exit(0);
    }
    puts("parent done");
    return 0;
}
