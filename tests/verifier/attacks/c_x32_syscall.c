// expect: denied
// getpid through the x32 ABI (bit 30 of the number).
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    long r = syscall(0x40000000 | 39);
    printf("%s %ld\n", r > 0 ? "ESCAPED" : "refused", r);
    return 0;
}
