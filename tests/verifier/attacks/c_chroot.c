// expect: denied
#include <stdio.h>
#include <unistd.h>
int main(void) {
    if (chroot(".") == 0) puts("ESCAPED");
    return 1;
}
