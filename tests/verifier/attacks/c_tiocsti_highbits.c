// expect: denied
// The kernel reads the request as 32 bits: high bits must not fool the filter.
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    char c = 'x';
    if (syscall(SYS_ioctl, 0, (1UL << 32) | TIOCSTI, &c) == 0) puts("ESCAPED");
    return 1;
}
