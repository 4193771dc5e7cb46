// expect: denied
// The 32-bit entry point: getpid (20) through int 0x80.
#include <stdio.h>
int main(void) {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    printf("%s %ld\n", r > 0 ? "ESCAPED" : "refused", r);
    return 0;
}
