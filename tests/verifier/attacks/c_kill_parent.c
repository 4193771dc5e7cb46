// expect: runtime_error
// The supervisor above us, then every process we may signal.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    kill(getppid(), SIGKILL);
    if (kill(-1, SIGKILL) != 0) return 1;
    puts("ESCAPED");
    return 0;
}
