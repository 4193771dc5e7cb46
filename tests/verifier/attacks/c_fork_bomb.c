// expect: timeout (allows fork)
// Forks until RLIMIT_NPROC, then spins: the wall clock ends it, and the pid
// namespace (or the group kill) takes every copy with it.
#include <unistd.h>
int main(void) {
    for (;;) fork();
}
