// expect: denied
#include <stdio.h>
#include <sys/ioctl.h>
int main(void) {
    char c = 'x';
    if (ioctl(0, TIOCSTI, &c) == 0) puts("ESCAPED");
    return 1;
}
